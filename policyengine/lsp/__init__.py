"""The language server: ``.policy`` files in an editor, with the whole policy set behind them.

Takes the editor's messages (LSP over stdio) and gives diagnostics for every
file of the set, hovers that say what a name is and what the set decides
about it, go to definition, references, completion, formatting, outline,
semantic tokens, quick fixes for did-you-mean hints and rename.  The stages:
``project`` (files on disk overlaid by open documents → a snapshot: parsed
files, diagnostics, the validated set), ``index`` (every named thing,
declared and used, from the ASTs), then one module per feature (``hover``,
``completion``, ``tokens``, ``outline``, ``diagnostics``, ``rename``), and
``server``, the only module that knows pygls.

Layer 4 (docs/architecture.md): imports the language, evaluation and
analysis; never the service or the CLI.  Needs the ``lsp`` extra (pygls and
lsprotocol); nothing else in policyengine imports this package.
"""
