"""The command line, end to end, in child processes.

* one decision: ``policyengine decide --request FILE`` on the peer workload
  (wall time, median of several runs after one that fills the load cache);
* a batch: ``decide --requests`` on 100,000 JSON lines (request shapes
  repeat, as in a router's traffic), and on 100,000 lines that each carry
  their own request id (no line repeats), timed by the CPU
  (user + system) the child used, read from ``os.wait4`` so that nothing
  else on the machine counts; the start-up cost of the one-decision run is
  subtracted for the net rate;
* memory: the child's peak resident set, for 10,000 and for 100,000 lines (a
  streamed run does not grow with the file);
* ``import policyengine``: ``python -X importtime``;
* cold start: ``policyengine decide --jurisdiction RU`` on the shipped library
  against ``python -c "import pydantic, lark, rich"`` (CPU, interleaved), both
  with their bytecode compiled (:func:`warming`).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from . import peer

ROOT = Path(__file__).resolve().parent.parent
N_LINES = 100_000


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_mb: float
    code: int


def run(
    args: list[str], stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None, env: dict[str, str] | None = None
) -> Run:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return Run(wall, usage.ru_utime + usage.ru_stime, peak, proc.returncode)


def import_ms() -> float:
    """Cumulative import time of ``policyengine`` as ``-X importtime`` reports it (median of 5)."""
    times = []
    for _ in range(5):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import policyengine"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+\d+\s+\|\s+(\d+)\s+\|\s*policyengine$", line)
            if m:
                times.append(int(m.group(1)) / 1000)
    return statistics.median(times)


#: The imports a decision from the command line cannot avoid: the floor of a cold start.
IMPORT_FLOOR = ["-c", "import pydantic, lark, rich"]
#: A whole-process decision on the shipped library (a market: every standing demand of RU).
DECIDE_RU = ["-m", "policyengine", "decide", "--jurisdiction", "RU"]


def warming(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a warm-up run, one that may also write the bytecode cache (``__pycache__``).

    The floor's packages are installed with their bytecode compiled, as pip
    installs ours; a checkout run under ``PYTHONDONTWRITEBYTECODE`` (as CI
    and sandboxes set it) would instead compile every module of ours from
    source on every run, a cost no installed copy pays.  Only the uncounted
    warm-up writes it; the counted runs keep ``env`` as given (bytecode is
    read either way).
    """
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cold_start(env: dict[str, str], runs: int = 7) -> dict[str, float]:
    """CPU of ``decide --jurisdiction RU`` against the import floor, interleaved, medians of ``runs``.

    Interleaving puts both under the same load from the rest of the
    machine; the load cache (and the bytecode cache, see :func:`warming`)
    is filled by a first run that is not counted.
    """
    run(DECIDE_RU, env=warming(env))
    floor, decide = [], []
    for _ in range(runs):
        f = run(IMPORT_FLOOR, env=env)
        d = run(DECIDE_RU, env=env)
        if f.code != 0 or d.code != 0:
            raise RuntimeError(f"cold start: exit {f.code} (imports) / {d.code} (decide --jurisdiction RU)")
        floor.append(f.cpu_s)
        decide.append(d.cpu_s)
    return {
        "import_floor_cpu_ms": statistics.median(floor) * 1000,
        "decide_ru_cpu_ms": statistics.median(decide) * 1000,
        "decide_ru_ratio": statistics.median(d / f for d, f in zip(decide, floor)),
    }


def measure_cli(workdir: Path) -> dict[str, float]:
    policies = [str(p) for p in peer.workload_paths()]
    flags = [arg for p in policies for arg in ("--policies", p)]
    env = dict(os.environ, POLICYENGINE_CACHE_DIR=str(workdir / "cache"))
    one = workdir / "one.json"
    one.write_text(json.dumps(peer.requests(1)[0]), encoding="utf-8")
    single = [*flags, "--request", str(one), "--format", "json"]
    run(["-m", "policyengine", "decide", *single], env=warming(env))  # fills the load and bytecode caches
    singles = [run(["-m", "policyengine", "decide", *single], env=env) for _ in range(5)]
    if any(r.code != 0 for r in singles):
        raise RuntimeError("policyengine decide --request failed")
    out: dict[str, float] = {
        "single_wall_ms": statistics.median(r.wall_s for r in singles) * 1000,
        "single_cpu_ms": statistics.median(r.cpu_s for r in singles) * 1000,
        "import_ms": import_ms(),
    }
    out.update(cold_start(env))
    for n, ids in ((10_000, False), (N_LINES, False), (N_LINES, True)):
        path = workdir / f"requests-{n}{'-ids' if ids else ''}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for i, r in enumerate(peer.requests(n, seed=peer.SEED + 7)):
                if ids:  # every line its own request id: no line repeats
                    r["demand"]["id"] = f"req-{i:06d}"
                fh.write(json.dumps(r) + "\n")
        peak_file = workdir / "peak.txt"
        with tempfile.TemporaryFile(dir=workdir) as sink:
            batch = run(
                ["-m", "benchmarks.child", str(peak_file), "decide", *flags, "--requests", str(path)], stdout=sink, env=env
            )  # type: ignore[arg-type]
            sink.seek(0)
            lines = sum(1 for _ in sink)
        if batch.code != 0 or lines != n:
            raise RuntimeError(f"decide --requests: exit {batch.code}, {lines} lines out of {n}")
        label = f"batch{n}{'_ids' if ids else ''}"
        out[f"{label}_cpu_s"] = batch.cpu_s
        out[f"{label}_wall_s"] = batch.wall_s
        out[f"{label}_peak_mb"] = float(peak_file.read_text(encoding="ascii"))
    startup = out["single_cpu_ms"] / 1000
    out["batch_per_cpu_s"] = N_LINES / out[f"batch{N_LINES}_cpu_s"]
    out["batch_per_cpu_s_net"] = N_LINES / max(out[f"batch{N_LINES}_cpu_s"] - startup, 1e-9)
    out["batch_ids_per_cpu_s_net"] = N_LINES / max(out[f"batch{N_LINES}_ids_cpu_s"] - startup, 1e-9)
    return out
