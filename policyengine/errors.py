"""The one shape of a run-time error: a message in the user's words and a hint.

Problems in policy text are :class:`~policyengine.language.diagnostics.Diagnostic`
values, collected and rendered with their spans.  Everything else that goes
wrong at run time (a request that does not fit the vocabulary, a policy set
that does not load, a matrix that cannot be built, a git revision that cannot
be read, a command line that makes no sense) is raised as a subclass of
:class:`PolicyEngineError`, so that every caller (the CLI, the HTTP service,
the language server, an embedder) can show any of them the same way:
``code`` is stable and machine-readable, ``message`` says what is wrong and
``hint`` (optional) what to do about it.  The model is Jinja's
``TemplateError``: one base, a subclass per stage.

This module is the bottom of the layering (docs/architecture.md): every
subpackage may import it, it imports nothing of policyengine.
"""

from __future__ import annotations


class PolicyEngineError(Exception):
    """Base of every error policyengine raises on purpose.

    ``str(error)`` is the message with the hint in parentheses, on one line.
    """

    #: Stable identifier of the kind of error, for programs (JSON, HTTP problem types).
    code: str = "error"

    def __init__(self, message: str, hint: str | None = None, *, code: str | None = None):
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        super().__init__(message + (f" ({hint})" if hint else ""))
