"""The peer workload, one benchmark per contender: one round = all 10,000 requests."""

from __future__ import annotations

from typing import Any

import pytest

from . import peer

NAMES = [
    "policyengine, dict (memo hit)",
    "policyengine, Request (memo hit)",
    "policyengine, dict, unique ids (memo miss)",
    "policyengine, dict (memo off)",
    "python if/else (floor)",
    "python rule closures (floor)",
    "pydantic + if/else (floor)",
    "cedarpy (pre-parsed policies)",
    "regopy (compiled bundle)",
]


def test_every_contender_agrees(peer_inputs: dict[str, Any], peer_requests: list[dict[str, Any]]) -> None:
    # check_agreement (in the fixture) raised if any outcome differed; make the count visible.
    assert len(peer_inputs) >= 7
    assert all(len(inputs) == len(peer_requests) for _, inputs in peer_inputs.values())


@pytest.mark.parametrize("name", NAMES)
def test_peer(benchmark: Any, peer_inputs: dict[str, tuple[peer.Contender, list[Any]]], name: str) -> None:
    if name not in peer_inputs:
        pytest.skip(f"{name}: binding not installed (pip install -e '.[bench]')")
    contender, inputs = peer_inputs[name]
    decide = contender.decide

    def run() -> None:
        for x in inputs:
            decide(x)

    benchmark.extra_info["decisions_per_round"] = len(inputs)
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
