"""Shared fixtures: policy sets written to temporary directories, the shipped engine."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_load_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the load cache (policyengine/evaluation/cache.py) of a test run out of the user's home."""
    os.environ["POLICYENGINE_CACHE_DIR"] = str(tmp_path_factory.mktemp("load-cache"))
    # Its signing key too (cache.key_path()): never the user's own.
    os.environ["POLICYENGINE_CACHE_KEY"] = str(tmp_path_factory.mktemp("load-cache-key") / "cache.key")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def policy_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write ``{name: text}`` as .policy files into a fresh directory and return it."""

    counter = iter(range(1_000_000))

    def make(files: dict[str, str] | str) -> Path:
        root = tmp_path / f"set{next(counter)}"
        root.mkdir()
        if isinstance(files, str):
            files = {"main.policy": files}
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return make
