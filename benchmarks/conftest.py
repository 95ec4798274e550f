"""pytest-benchmark suite: ``pytest benchmarks/ --benchmark-only`` (``--quick`` skips the 10,000-rule set).

Kept apart from the test suite (``testpaths = ["tests"]``): these measure,
they do not check behaviour, apart from the peer contenders' agreement,
which is asserted before anything is timed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from . import peer
from .scaling import SIZES
from .synthetic import write_policy_set

pytest.importorskip("pytest_benchmark")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--quick", action="store_true", help="skip the 10,000-rule synthetic set")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["POLICYENGINE_CACHE_DIR"] = str(tmp_path_factory.mktemp("load-cache"))
    os.environ["POLICYENGINE_CACHE_KEY"] = str(tmp_path_factory.mktemp("load-cache-key") / "cache.key")


@pytest.fixture(scope="session")
def peer_requests() -> list[dict[str, Any]]:
    return peer.requests()


@pytest.fixture(scope="session")
def peer_inputs(peer_requests: list[dict[str, Any]]) -> dict[str, tuple[peer.Contender, list[Any]]]:
    """Every contender with its prepared inputs; agreement on all requests is asserted here."""
    contenders = peer.contenders()
    prepared = peer.check_agreement(peer_requests, contenders)
    return {c.name: (c, prepared[c.name]) for c in contenders}


def sizes(config: pytest.Config) -> list[tuple[int, int]]:
    return list(SIZES[:2] if config.getoption("--quick") else SIZES)


@pytest.fixture(scope="session")
def synthetic_sets(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict[tuple[int, int], Path]:
    root = tmp_path_factory.mktemp("synthetic")
    out = {}
    for rules, jurisdictions in sizes(request.config):
        path = root / f"set-{rules}-{jurisdictions}"
        write_policy_set(path, rules, jurisdictions)
        out[(rules, jurisdictions)] = path
    return out
