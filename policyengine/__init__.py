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
    "Decision": "decision",
    "Fact": "decision",
    "MarketDecision": "decision",
    "Outcome": "decision",
    "Reason": "decision",
    "Request": "decision",
    "Undetermined": "decision",
    "Engine": "engine",
    "load": "engine",
    "PolicyError": "diagnostics",
    "RequestError": "decide",
    "PolicyStore": "store",
    "StoreStatus": "store",
    "RequestLimits": "jsonio",
    "parse_json": "jsonio",
    "WhatIf": "whatif",
    "Alternative": "whatif",
    "Change": "whatif",
    "ChangedAttribute": "whatif",
}

if TYPE_CHECKING:
    from .decide import RequestError
    from .decision import Decision, Fact, MarketDecision, Outcome, Reason, Request, Undetermined
    from .diagnostics import PolicyError
    from .engine import Engine, load
    from .jsonio import RequestLimits, parse_json
    from .store import PolicyStore, StoreStatus
    from .whatif import Alternative, Change, ChangedAttribute, WhatIf


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'policyengine' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
