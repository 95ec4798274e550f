"""A policy file swapped for a FIFO between its listing and its read never hangs the process (issue 12, point 6).

The race is made deterministic: the file on disk is a real FIFO from the
start, while every check by path (``os.stat``, ``os.lstat``, and what pathlib
builds on them) is answered as if it were still the regular file it was when
listed.  Only a type check on the open descriptor can tell; a loader that
checks by path and then opens blocks forever, so each case runs in a child
process with a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")

CHILD = textwrap.dedent(
    """
    import json, os, sys
    fifo, decoy, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    real_stat, real_lstat = os.stat, os.lstat

    def lie(real):
        def check(path, *args, **kwargs):
            if os.fspath(path) == fifo:
                return real(decoy, *args, **kwargs)  # "still a regular file"
            return real(path, *args, **kwargs)
        return check

    os.stat, os.lstat = lie(real_stat), lie(real_lstat)
    import policyengine
    if mode == "load":
        try:
            policyengine.load(os.path.dirname(fifo), cache=False)
        except policyengine.PolicyError as err:
            print(json.dumps([[d.code, d.message] for d in err.diagnostics]))
    else:
        store = None
        from policyengine import PolicyStore
        os.stat, os.lstat = real_stat, real_lstat
        os.rename(fifo, fifo + ".away")
        store = PolicyStore(os.path.dirname(fifo))
        os.rename(fifo + ".away", fifo)
        os.stat, os.lstat = lie(real_stat), lie(real_lstat)
        status = store.reload()
        print(json.dumps([[d.code, d.message] for d in status.last_error]))
        print(store.decide({"jurisdiction": "FR", "demand": {"kind": "key_disclosure", "category": "fraud",
                            "legal_basis": "statute"}}).outcome.value)
    """
)

TEXT = """
jurisdiction FR "France" { rule_of_law = 0.7 }
principle p "P" {
    rule keys: withdraw when demand.kind == key_disclosure because "keys stay with users"
}
"""


@pytest.mark.parametrize("mode", ["load", "store-reload"])
def test_a_fifo_swapped_in_mid_load_is_reported_not_waited_on(tmp_path: Path, mode: str) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "main.policy").write_text(TEXT, encoding="utf-8")
    decoy = tmp_path / "decoy.policy"
    decoy.write_text("# was a regular file when listed\n", encoding="utf-8")
    fifo = root / "late.policy"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(fifo), str(decoy), mode],
        capture_output=True,
        text=True,
        timeout=60,  # a blocking open() would never return
        env=dict(os.environ, POLICYENGINE_CACHE="off"),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    reported = json.loads(lines[0])
    assert ["PE001", "`late.policy` is not a regular file"] in reported
    if mode == "store-reload":
        assert lines[1] == "withdraw"  # the last good set is still served
