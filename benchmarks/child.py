"""Run the command line in this process and report its peak memory.

``python -m benchmarks.child PEAKFILE decide …`` runs ``policyengine.cli.main``
with the remaining arguments, then writes this process's peak resident
memory (MiB) to PEAKFILE; used by benchmarks.cli so that the figure is the
command's own, not that of the process that started it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .measure import peak_mb


def main() -> int:
    from policyengine.cli import main as cli_main

    target = Path(sys.argv[1])
    try:
        return cli_main(sys.argv[2:])
    finally:
        sys.stdout.flush()
        target.write_text(f"{peak_mb():.1f}\n", encoding="ascii")


if __name__ == "__main__":
    sys.exit(main())
