"""Analysis: questions about a whole policy set, answered exactly.

Takes a compiled policy set (:mod:`policyengine.evaluation`) and gives what no
single decision shows: the demand space (every demand, in classes that decide
alike), ``lint`` findings, the ``diff`` between two sets, what-if changes to a
demand, the outcome matrix, and the results of a set's own ``test`` blocks.
Every analysis that enumerates runs within a ``budget`` (classes, seconds,
memory) and says when it stopped at it, instead of looking clean.

May import :mod:`policyengine.language` and :mod:`policyengine.evaluation`;
never the journal, the service, the language server or the CLI.

Importing this package registers what-if with the engine
(:meth:`policyengine.Engine.what_if`); the analysis modules themselves load on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..evaluation import engine as _engine

if TYPE_CHECKING:
    from ..evaluation.decision import WhatIf


def _what_if(engine: _engine.Engine, request: Any) -> WhatIf:
    from .whatif import what_if

    return what_if(engine, request)


_engine.register_what_if(_what_if)
