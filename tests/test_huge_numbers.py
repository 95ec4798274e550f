"""An integer too large for a float is a request error, not a crash.

JSON allows integers of any size and Python's json module keeps them exact,
so ``{"users": 1000…000}`` reaches the engine as an int that ``float()``
cannot convert.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import policyengine
from policyengine import RequestError

VOCAB = 'vocabulary { attribute demand.users: number or unknown "how many users" }\njurisdiction FR "France" { }\n'


def test_integer_past_the_largest_float_is_a_request_error(policy_dir: Callable[..., Path]) -> None:
    e = policyengine.load(policy_dir(VOCAB))
    demand = {"kind": "user_data", "category": "fraud", "legal_basis": "statute", "users": 10**400}
    with pytest.raises(RequestError) as err:
        e.decide({"jurisdiction": "FR", "demand": demand})
    assert err.value.field == "demand.users"
    assert "too large" in err.value.message
