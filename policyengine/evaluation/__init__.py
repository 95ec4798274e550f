"""Evaluation: a validated policy set and a request in, a decision out.

Takes a :class:`~policyengine.language.model.PolicySet` and compiles it
once (``compile``: closures and a bitset index, never Python source); then
``requests`` checks what callers send against the vocabulary, ``decide``
evaluates and explains, and ``decision`` holds the pydantic models of the
boundary (``Request``, ``Decision``, ``Reason``, ``MarketDecision``).
``engine`` (:func:`load`, :class:`Engine`), ``store`` (:class:`PolicyStore`:
reload without downtime) and ``cache`` (the load cache) are what embedders
use; ``explain`` renders decisions for people and ``jsonio`` reads request
JSON with limits.

May import :mod:`policyengine.language`; never analysis, the journal, the
service, the language server or the CLI.  The hot path (``decide``) does no
parsing, validation or rendering.
"""
