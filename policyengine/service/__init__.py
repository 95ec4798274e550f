"""The decision service (``policyengine serve``): HTTP API, playground and review queue.

Layer 4: built on :class:`~policyengine.evaluation.store.PolicyStore` and the
journal; the CLI (layer 5) runs it on uvicorn.  See docs/service.md.

::

    from policyengine.service import ServiceConfig, create_app
    app = create_app(ServiceConfig(paths=["policies/"], watch=True))   # an ASGI app
"""

from __future__ import annotations

from .app import create_app
from .core import Service, ServiceConfig, ServiceSetupError

__all__ = ["Service", "ServiceConfig", "ServiceSetupError", "create_app"]
