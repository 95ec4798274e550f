"""The embeddable engine: load a policy set once, decide many times.

Stage contract: :func:`load` runs the whole front end (read, parse, validate,
compile) and returns an immutable :class:`Engine`, or raises
:class:`~policyengine.diagnostics.PolicyError` carrying every diagnostic.  An
Engine holds no mutable state that could change a result: its only mutable
parts are memo tables that gain entries every thread would compute
identically, so one Engine can be shared by any number of threads.
"""

from __future__ import annotations

import contextlib
import datetime
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..language.diagnostics import Diagnostic, PolicyError
from ..language.loader import Limits
from ..language.model import PolicySet
from .compile import CompiledPolicy, compile_policy
from .decide import Decider
from .decision import Decision, MarketDecision, WhatIf
from .recorder import DecisionRecorder, journaled, journaled_many, journaled_market
from .requests import check_as_of

if TYPE_CHECKING:
    # The front end (parser, lark) is imported only when a set is parsed, not when it comes from the load cache.
    from ..language.pipeline import PathLike

#: What-if is analysis over the demand space, a layer above evaluation, so the
#: engine cannot import it; :mod:`policyengine.analysis` registers it here when
#: it is imported (the ``policyengine`` facade imports it with the engine).
_what_if: Callable[[Engine, Any], WhatIf] | None = None


def register_what_if(function: Callable[[Engine, Any], WhatIf]) -> None:
    """Install the function behind :meth:`Engine.what_if` (called by :mod:`policyengine.analysis`)."""
    global _what_if
    _what_if = function


class Engine:
    """A compiled policy set.  Create it with :func:`policyengine.load`."""

    __slots__ = ("_compiled", "_decider", "_diagnostics", "_journal")
    _compiled: CompiledPolicy
    _decider: Decider
    _diagnostics: tuple[Diagnostic, ...]
    _journal: DecisionRecorder | None

    def __init__(
        self,
        policy_set: PolicySet,
        diagnostics: Sequence[Diagnostic] = (),
        *,
        memo: bool = True,
        compiled: CompiledPolicy | None = None,
        journal: DecisionRecorder | None = None,
    ):
        # ``compiled`` comes from the load cache with its policy set; one
        # compiled from another set would decide by the wrong rules.
        if compiled is None or compiled.policy_set is not policy_set:
            compiled = compile_policy(policy_set)
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_decider", Decider(compiled, memo=memo))
        object.__setattr__(self, "_diagnostics", tuple(diagnostics))
        object.__setattr__(self, "_journal", journal)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("an Engine is immutable; load a new one to change policies")

    # --- introspection -------------------------------------------------------

    @property
    def version(self) -> str:
        """Content hash of the policy set (``policy_version`` in every decision)."""
        return self._compiled.version

    @property
    def policy_set(self) -> PolicySet:
        return self._compiled.policy_set

    @property
    def compiled(self) -> CompiledPolicy:
        return self._compiled

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        """Warnings found while loading (a set with errors does not load)."""
        return self._diagnostics

    def jurisdictions(self) -> list[str]:
        return list(self._compiled.jurisdictions)

    @property
    def journal(self) -> DecisionRecorder | None:
        """The journal that records every decision this engine makes, or None."""
        return self._journal

    def with_journal(self, journal: DecisionRecorder | None) -> Engine:
        """The same compiled set (memos shared), recording its decisions in ``journal``."""
        other = object.__new__(Engine)
        for name in ("_compiled", "_decider", "_diagnostics"):
            object.__setattr__(other, name, getattr(self, name))
        object.__setattr__(other, "_journal", journal)
        return other

    # --- decisions -------------------------------------------------------------

    def decide(self, request: Any, *, as_of: datetime.date | str | None = None) -> Decision:
        """Decide one request: a dict ``{"jurisdiction": "FR", "demand": {...}}`` or a
        :class:`~policyengine.decision.Request`.  Raises
        :class:`~policyengine.evaluation.requests.RequestError` when the request does not fit the
        vocabulary or its code is not exact (``ru``, ``" RU"``, ``RUS``); a well-formed code the set
        does not define is decided with every jurisdiction attribute unknown (docs/semantics.md §7).
        With a journal, the decision is returned only once recorded, with its ``decision_id``.

        ``as_of`` (a date or ``"YYYY-MM-DD"``) is the date to decide as of when the request gives
        no ``as_of`` of its own; the default is today (UTC).  The decision echoes it."""
        decision = self._decider.decide(request, None if as_of is None else check_as_of(as_of))
        return decision if self._journal is None else journaled(self._journal, request, decision)

    def decision_json(self, decision: Decision) -> str:
        """``decision.model_dump_json()``, computed once per memoised decision.

        A batch or a router that answers in JSON pays the serialisation only
        the first time a request shape is decided."""
        return self._decider.to_json(decision)

    def decide_many(self, requests: Iterable[Any], *, as_of: datetime.date | str | None = None) -> list[Decision]:
        """Decide a batch; the same results as :meth:`decide` one by one."""
        decide = self._decider.decide
        when = None if as_of is None else check_as_of(as_of)
        if self._journal is None:
            return [decide(r, when) for r in requests]
        return journaled_many(self._journal, [decide(r, when) for r in requests])

    def standing(self, jurisdiction: str, demand: str, *, as_of: datetime.date | str | None = None) -> Decision:
        """Decide standing demand ``demand`` of ``jurisdiction`` (inherited ones included), as of
        ``as_of`` (default today, UTC).  Raises :class:`~policyengine.evaluation.requests.RequestError`
        for a code or an id the set does not define (``request.unknown-jurisdiction``,
        ``request.unknown-demand``) or a code that is not exact (``request.bad-jurisdiction``)."""
        decision = self._decider.standing(jurisdiction, demand, None if as_of is None else check_as_of(as_of))
        return decision if self._journal is None else journaled(self._journal, None, decision)

    def market(self, jurisdiction: str, *, as_of: datetime.date | str | None = None) -> MarketDecision:
        """Every standing demand of a jurisdiction and the market outcome as of ``as_of`` (default
        today, UTC): only the demands in force that day and made of this platform count; the
        others are listed as context with the reason (docs/semantics.md §8)."""
        market = self._decider.market(jurisdiction, None if as_of is None else check_as_of(as_of))
        return market if self._journal is None else journaled_market(self._journal, market)

    def what_if(self, request: Any) -> WhatIf:
        """The smallest changes to a request's demand attributes that would change its outcome:
        for each other outcome, the one-attribute changes that reach it, or the two-attribute ones
        when no single change does (docs/analysis.md).  Raises RequestError like :meth:`decide`."""
        if _what_if is None:
            raise RuntimeError(
                "what-if analysis is part of policyengine.analysis: import policyengine or policyengine.analysis first"
            )
        return _what_if(self, request)


def load(
    paths: PathLike | Sequence[PathLike] | None = None,
    *,
    limits: Limits = Limits(),
    memo: bool = True,
    cache: bool = True,
    journal: DecisionRecorder | None = None,
) -> Engine:
    """Load, validate and compile a policy set (the shipped library when ``paths`` is None).

    Raises :class:`~policyengine.diagnostics.PolicyError` with every diagnostic
    when the set has errors; warnings are kept on :attr:`Engine.warnings`.

    ``memo=False`` turns off the decision memo (and the per-rule explanation
    memo): every decide() then validates, evaluates and explains from scratch.
    Use it to measure cold decisions, or when requests never repeat.

    With ``cache=True`` (the default) an unchanged policy set is loaded from
    the load cache instead of being parsed, validated and compiled again; see
    :mod:`policyengine.cache` for where it lives, what it trusts and how to
    turn it off (``cache=False`` or ``POLICYENGINE_CACHE=off``).

    ``journal`` (a :class:`policyengine.journal.Journal`) records every
    decision the engine makes (docs/journal.md).
    """
    compiled: CompiledPolicy | None = None
    from . import cache as load_cache

    with _collector_paused():
        if cache and load_cache.enabled():
            policy_set, diagnostics, compiled = load_cache.analyse_cached(paths, limits)
        else:
            from ..language.pipeline import analyse

            policy_set, diagnostics = analyse(paths, limits)
        if policy_set is None:
            raise PolicyError(diagnostics)
        return Engine(policy_set, diagnostics, memo=memo, compiled=compiled, journal=journal)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a policy set loads.

    Loading makes hundreds of thousands of objects (AST nodes, spans, models)
    that all live as long as the engine; the collector would scan the growing
    heap again and again as they are made, for nothing (a 10,000-rule set
    loads in half the time without it).  It is restored afterwards, also when
    loading fails.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            # What loading made lives as long as the engine: put it straight
            # into the oldest generation (freeze, then unfreeze into it) rather
            # than have the next young collections scan it all and promote it,
            # and count it as new in a way that soon sets off a full collection
            # (measured: one full collection of the whole heap fewer in a fresh engine's first 10,000 decisions).
            # Not when the application froze objects itself (a pre-fork
            # server does, to keep pages shared): unfreezing would undo that.
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()
