"""policyengine: decide government demands against a platform's principles.

The public API::

    import policyengine
    engine = policyengine.load()            # the shipped policy library
    d = engine.decide({"jurisdiction": "FR", "demand": {"kind": "user_data",
                       "category": "criminal_suspect", "legal_basis": "court_order"}})
    d.outcome, d.reasons, d.model_dump_json()

Heavy modules (lark, pydantic) are imported on first use, so that
``import policyengine`` stays cheap for command-line use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Alternative",
    "Change",
    "ChangedAttribute",
    "Decision",
    "Engine",
    "Fact",
    "MarketDecision",
    "Outcome",
    "PolicyError",
    "PolicyStore",
    "Reason",
    "Request",
    "RequestError",
    "RequestLimits",
    "StoreStatus",
    "Undetermined",
    "WhatIf",
    "load",
    "parse_json",
]

_WHERE = {
    "Decision": "evaluation.decision",
    "Fact": "evaluation.decision",
    "MarketDecision": "evaluation.decision",
    "Outcome": "evaluation.decision",
    "Reason": "evaluation.decision",
    "Request": "evaluation.decision",
    "Undetermined": "evaluation.decision",
    "Engine": "evaluation.engine",
    "load": "evaluation.engine",
    "PolicyError": "language.diagnostics",
    "RequestError": "evaluation.requests",
    "PolicyStore": "evaluation.store",
    "StoreStatus": "evaluation.store",
    "RequestLimits": "evaluation.jsonio",
    "parse_json": "evaluation.jsonio",
    "WhatIf": "evaluation.decision",
    "Alternative": "evaluation.decision",
    "Change": "evaluation.decision",
    "ChangedAttribute": "evaluation.decision",
}

if TYPE_CHECKING:
    from .evaluation.decision import (
        Alternative,
        Change,
        ChangedAttribute,
        Decision,
        Fact,
        MarketDecision,
        Outcome,
        Reason,
        Request,
        Undetermined,
        WhatIf,
    )
    from .evaluation.engine import Engine, load
    from .evaluation.jsonio import RequestLimits, parse_json
    from .evaluation.requests import RequestError
    from .evaluation.store import PolicyStore, StoreStatus
    from .language.diagnostics import PolicyError


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'policyengine' has no attribute {name!r}")
    import importlib

    if module.startswith("evaluation."):
        # The engine's what-if lives in analysis, which registers it on import.
        importlib.import_module(".analysis", __name__)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
