"""Timing helpers shared by the report and the pytest-benchmark suite.

Per-decision latency is measured one call at a time with
``time.perf_counter_ns``; the cost of the timer itself (measured in the same
run, a few tens of nanoseconds) is subtracted, so sub-microsecond floors are
not inflated.  Each measurement runs several passes over the requests; the
median reported is the quietest pass's, the p99 is over all calls.  Throughput is measured separately, as a plain loop over all
requests without per-call timers (best of several passes).  Garbage
collection is left on: a router runs with it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stats:
    median_us: float
    p99_us: float
    per_second: float
    #: CPU time per call (``time.process_time``) of a plain loop: the median
    #: over passes.  On a shared machine wall time also counts the
    #: neighbours; the CPU this process used does not.  NaN: not measured.
    cpu_us: float = float("nan")

    def ratio_to(self, other: Stats) -> float:
        return self.median_us / other.median_us if other.median_us > 0 else float("inf")

    def cpu_ratio_to(self, other: Stats) -> float:
        """``self`` / ``other`` by CPU per call (what the verdicts use)."""
        return self.cpu_us / other.cpu_us if other.cpu_us > 0 else float("inf")


def peak_mb() -> float:
    """This process's peak resident memory, in MiB.

    Linux: ``VmHWM`` from /proc/self/status, which starts afresh at exec (the
    rusage figure does not: it keeps the high-water mark of the parent that
    forked us).  Elsewhere: ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def timer_overhead_ns(samples: int = 20_000) -> float:
    clock = time.perf_counter_ns
    spans = []
    for _ in range(samples):
        t0 = clock()
        spans.append(clock() - t0)
    return float(statistics.median(spans))


def per_call_ns(fn: Callable[[Any], Any], inputs: Sequence[Any], passes: int, overhead: float) -> list[float]:
    clock = time.perf_counter_ns
    out: list[float] = []
    for _ in range(passes):
        for x in inputs:
            t0 = clock()
            fn(x)
            out.append(clock() - t0 - overhead)
    return out


def loop_per_second(fn: Callable[[Any], Any], inputs: Sequence[Any], passes: int) -> float:
    best = float("inf")
    for _ in range(passes):
        t0 = time.perf_counter()
        for x in inputs:
            fn(x)
        best = min(best, time.perf_counter() - t0)
    return len(inputs) / best if best > 0 else float("inf")


def loop_cpu_us(fn: Callable[[Any], Any], inputs: Sequence[Any], passes: int) -> float:
    """CPU microseconds per call of a plain loop (``time.process_time``), median over ``passes``."""
    per_pass = []
    for _ in range(passes):
        t0 = time.process_time()
        for x in inputs:
            fn(x)
        per_pass.append((time.process_time() - t0) / max(len(inputs), 1) * 1e6)
    return float(statistics.median(per_pass))


def measure(fn: Callable[[Any], Any], inputs: Sequence[Any], passes: int = 3, overhead: float | None = None) -> Stats:
    """Median and p99 of single calls, and calls per second of a plain loop.

    The median is that of the quietest pass (the lowest of the per-pass
    medians, as timeit takes the best repeat): on a shared machine the other
    passes measure the neighbours too.  The p99 is over every call of every
    pass, so slow calls are not hidden.
    """
    if overhead is None:
        overhead = timer_overhead_ns()
    samples = per_call_ns(fn, inputs, passes, overhead)
    n = len(inputs)
    median = min(statistics.median(samples[i * n : (i + 1) * n]) for i in range(passes)) if n else 0.0
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
    return Stats(
        max(median, 0.0) / 1000,
        max(p99, 0.0) / 1000,
        loop_per_second(fn, inputs, passes),
        loop_cpu_us(fn, inputs, max(passes, 3)),
    )


def fmt_us(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e3:
        return f"{value / 1e3:.0f} k"
    return f"{value:.0f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (first column left, others right-aligned)."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |"]
    lines.append("|" + "|".join(("-" * (w + 1) + ":") if i else (":" + "-" * (w + 1)) for i, w in enumerate(widths)) + "|")
    for r in rows:
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
