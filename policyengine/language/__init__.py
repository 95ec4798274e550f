"""The language: policy text in, a validated policy set or diagnostics out.

Takes ``.policy`` files (or texts) and gives a :class:`~.model.PolicySet`
when they have no errors, and every :class:`~.diagnostics.Diagnostic` found
either way.  The stages, in the order data flows through them: ``loader``
(files → :class:`~.source.Source`), ``parser`` and ``transform`` (source →
:mod:`~.ast` with spans; ``syntax_errors`` words what does not parse, from
the ``error_site`` the parser reads; ``grammar`` reads the grammar's words
without Lark), ``validate`` (AST → ``model``), ``pipeline`` (all of it, for
a set of paths).  Beside them: ``diagnostics`` and ``render`` (the one place
carets are drawn), ``text`` (escaping for terminals and JSON), ``format``
and ``layout`` (the canonical layout), ``highlight`` (the lexer for colours)
and the standard vocabulary in ``prelude/``.

The bottom layer: imports nothing from the rest of policyengine except
:mod:`policyengine.errors`.
"""
