"""Measure the front end's throughput: the numbers behind the limits in docs/language.md.

    python scripts/measure_parser.py

Writes the seeded 10,000-rule synthetic policy set of the benchmarks
(``benchmarks/synthetic.py``) to a temporary directory, then reports, as the
best of a few runs in CPU seconds (so other jobs on the machine disturb it
less): parse throughput, a full load (read, parse, validate), the largest
file, and the worst case the limits allow (a file of one-character tokens up
to ``parser.MAX_TOKENS``) next to a file past that budget.
"""

from __future__ import annotations

import gc
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import write_policy_set
from policyengine.language.loader import read_sources
from policyengine.language.parser import MAX_TOKENS, get_parser, parse_file
from policyengine.language.pipeline import analyse
from policyengine.language.source import Source

_TOKEN = re.compile(r'"""|"(?:[^"\\\n]|\\.)*"|[A-Za-z_0-9.]+|->|[=!<>]=|\S')


def best(fn: Callable[[], object], runs: int = 3) -> float:
    fastest = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        fn()
        fastest = min(fastest, time.process_time() - start)
    return fastest


def main() -> None:
    get_parser()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "set"
        write_policy_set(root, rules=10_000, jurisdictions=200)
        sources, _ = read_sources([root])
        size = sum(len(s.text.encode()) for s in sources)
        tokens = sum(len(_TOKEN.findall(s.text)) for s in sources)
        largest = max(sources, key=lambda s: len(s.text))
        print(f"10,000-rule set: {len(sources)} files, {size / 1e6:.2f} MB, {tokens:,} tokens")
        print(f"  largest file {len(largest.text) / 1e3:.0f} kB")
        t = best(lambda: [parse_file(s) for s in sources])
        print(f"  parse: {t:.2f} s = {size / t / 1e6:.2f} MB/s, {tokens / t:,.0f} tokens/s")
        print(f"  load (read, parse, validate): {best(lambda: analyse(root), 2):.2f} s")
        print(f"  parse the largest file: {best(lambda: parse_file(largest)):.2f} s")
    head = 'principle p "s" { rule r: comply when demand.kind in {'
    dense = head + "a " * (MAX_TOKENS - 30) + '} because "x" }'
    t = best(lambda: parse_file(Source("d", dense)), 2)
    print(f"worst case, {MAX_TOKENS:,} one-character tokens ({len(dense) / 1e3:.0f} kB): {t:.2f} s")
    over = head + "a " * 520_000 + '} because "x" }'
    codes = [d.code for d in parse_file(Source("d", over)).diagnostics]
    print(f"past the budget ({len(over) / 1e3:.0f} kB): {best(lambda: parse_file(Source('d', over)), 2):.2f} s, {codes}")


if __name__ == "__main__":
    main()
