"""One run, one report: ``python -m benchmarks.report [--write docs/performance.md]``.

Measures, in this order and in one process (children for the scaling and
command-line probes): the peer workload on every contender (after asserting
that they all agree on all 10,000 requests), the shipped library, the
synthetic sets at three sizes, and the command line.  Prints Markdown tables
and the verdict on each target; ``--write`` also puts them in a file with the
date and the command.  ``--quick`` skips the 10,000-rule set and the peers'
slowest passes (for a smoke run).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import peer
from .cli import N_LINES, measure_cli
from .library import measure_library
from .measure import Stats, fmt_rate, fmt_us, measure, table, timer_overhead_ns
from .scaling import SIZES, run_probe

PE_WARM = "policyengine, dict (memo hit)"
PE_REQUEST = "policyengine, Request (memo hit)"
PE_OFF = "policyengine, dict (memo off)"
FLOOR = "python if/else (floor)"
CLOSURES = "python rule closures (floor)"
PYDANTIC = "pydantic + if/else (floor)"
CEDAR = "cedarpy (pre-parsed policies)"
REGO = "regopy (compiled bundle)"


def peer_section(passes: int) -> tuple[str, dict[str, Stats]]:
    reqs = peer.requests()
    contenders = peer.contenders()
    prepared = peer.check_agreement(reqs, contenders)
    overhead = timer_overhead_ns()
    stats: dict[str, Stats] = {}
    for c in contenders:
        slow = c.name in (CEDAR, REGO)
        stats[c.name] = measure(c.decide, prepared[c.name], passes=1 if slow else passes, overhead=overhead)
    pe, floor = stats[PE_WARM], stats[FLOOR]
    rows = []
    for c in contenders:
        s = stats[c.name]
        rows.append(
            [
                c.name,
                fmt_us(s.median_us),
                fmt_us(s.p99_us),
                fmt_rate(s.per_second),
                f"{s.ratio_to(pe):.2f}×",
                f"{s.ratio_to(floor):.1f}×",
                c.note,
            ]
        )
    text = (
        f"All {len(contenders)} contenders gave the same outcome on all {len(reqs):,} requests "
        f"({len(peer.jurisdictions())} jurisdictions; timer overhead {overhead:.0f} ns subtracted).\n\n"
        + table(["contender", "median µs", "p99 µs", "decisions/s", "vs policyengine", "vs if/else floor", "returns"], rows)
    )
    return text, stats


def library_section() -> tuple[str, dict[str, Any] | None]:
    lib = measure_library()
    if lib is None:
        return "The shipped library (`policies/`) is missing or does not load; skipped.", None
    rows = []
    for label, key in (
        ("decide(), dict (memo hit)", "decide_warm"),
        ("decide(), dict (memo off)", "decide_memo_off"),
        ("decide_many(), 10,000 requests, per request", "decide_many"),
        ("market(), per jurisdiction", "market"),
    ):
        s: Stats = lib[key]
        p99 = "—" if s.p99_us != s.p99_us else fmt_us(s.p99_us)  # NaN: not measured per call
        rows.append([label, fmt_us(s.median_us), p99, fmt_rate(s.per_second)])
    head = f"{lib['rules']} rules, {lib['jurisdictions']} jurisdictions, {lib['standing_demands']} standing demands.\n\n"
    return head + table(["call", "median µs", "p99 µs", "per second"], rows), lib


def scaling_section(workdir: Path, quick: bool) -> tuple[str, list[dict[str, Any]]]:
    results = []
    for rules, jurisdictions in SIZES[:2] if quick else SIZES:
        results.append(run_probe(rules, jurisdictions, workdir))
    rows = []
    for r in results:
        rows.append(
            [
                f"{r['rules']:,} rules / {r['jurisdictions']:,} jurisdictions",
                f"{r['parse_s']:.2f}",
                f"{r['validate_s']:.2f}",
                f"{r['compile_s']:.2f}",
                f"{r['cold_load_s']:.2f}",
                f"{r['warm_load_s']:.3f}",
                f"{r['peak_load_mb']:.0f} ({r['baseline_mb']:.0f})",
                fmt_us(r["warm_us"]),
                fmt_us(r["unique_us"]),
                fmt_us(r["memo_off_us"]),
                fmt_us(r["memo_off_p99_us"]),
            ]
        )
    header = [
        "set",
        "parse s",
        "validate s",
        "compile s",
        "cold load s",
        "warm load s",
        "peak RSS MB (interpreter)",
        "memo hit µs",
        "unique id µs",
        "memo off µs",
        "memo off p99 µs",
    ]
    work = table(
        ["set", "rules evaluated per decision", "matching rules per decision", "facts per decision", "first decisions µs"],
        [
            [
                f"{r['rules']:,} rules",
                f"{r['candidates_per_decision']:.1f}",
                f"{r['matched_per_decision']:.1f}",
                f"{r['facts_per_decision']:.1f}",
                fmt_us(r["first_pass_us"]),
            ]
            for r in results
        ],
    )
    note = (
        "\n\nWhat each decision had to do (the same requests; *first decisions*: the mean over the first pass of a "
        "fresh engine with the memo off, which builds each (jurisdiction, kind) candidate list and compiles the "
        "conditions it needs):\n\n"
    )
    return table(header, rows) + note + work, results


def cli_section(workdir: Path) -> tuple[str, dict[str, float]]:
    c = measure_cli(workdir)
    rows = [
        ["`import policyengine` (-X importtime, cumulative)", f"{c['import_ms']:.1f} ms"],
        ["`policyengine decide --request` one decision, wall (median of 5)", f"{c['single_wall_ms']:.0f} ms"],
        ["… its CPU (start-up, load from cache, decide, print)", f"{c['single_cpu_ms']:.0f} ms"],
        [f"`decide --requests` {N_LINES:,} lines: CPU of the process", f"{c[f'batch{N_LINES}_cpu_s']:.2f} s"],
        ["… decisions per CPU second, whole process", fmt_rate(c["batch_per_cpu_s"])],
        ["… decisions per CPU second, start-up subtracted", fmt_rate(c["batch_per_cpu_s_net"])],
        ["… peak RSS, 10,000 lines → 100,000 lines", f"{c['batch10000_peak_mb']:.0f} MB → {c[f'batch{N_LINES}_peak_mb']:.0f} MB"],
        [f"`decide --requests` {N_LINES:,} lines, each with its own id: CPU", f"{c[f'batch{N_LINES}_ids_cpu_s']:.2f} s"],
        ["… decisions per CPU second, start-up subtracted", fmt_rate(c["batch_ids_per_cpu_s_net"])],
        ["… peak RSS", f"{c[f'batch{N_LINES}_ids_peak_mb']:.0f} MB"],
    ]
    return table(["measure", "value"], rows), c


def verdicts(stats: dict[str, Stats], scaling: list[dict[str, Any]], cli: dict[str, float]) -> str:
    def line(name: str, met: bool, detail: str) -> list[str]:
        return [name, "met" if met else "**missed**", detail]

    rows = []
    pe, req = stats[PE_WARM], stats[PE_REQUEST]
    if CEDAR in stats:
        r = stats[CEDAR].median_us / pe.median_us
        rows.append(line("decide(dict) ≥ 10× faster than cedarpy", r >= 10, f"{r:.0f}× (memo hit)"))
    if REGO in stats:
        r = stats[REGO].median_us / pe.median_us
        rows.append(line("decide(dict) ≥ 30× faster than regopy", r >= 30, f"{r:.0f}× (memo hit)"))
    r = pe.median_us / stats[PYDANTIC].median_us
    rows.append(line("decide(dict) within 2× of pydantic + if/else", r <= 2, f"{r:.2f}× (memo hit)"))
    r = req.median_us / stats[CLOSURES].median_us
    rows.append(line("decide(Request) within 5× of rule closures", r <= 5, f"{r:.2f}× (memo hit)"))
    if len(scaling) == len(SIZES):
        small, big = scaling[0], scaling[-1]
        for key, label in (("warm_us", "memo hit"), ("unique_us", "unique ids"), ("memo_off_us", "memo off")):
            r = big[key] / small[key]
            rows.append(line(f"10k rules/1k jurisdictions within 1.5× of 100 rules ({label})", r <= 1.5, f"{r:.2f}×"))
        rows.append(line("10k rules parsed, validated, compiled < 2 s", big["cold_load_s"] < 2, f"{big['cold_load_s']:.1f} s"))
        rows.append(line("10k rules warm load (cache) < 0.2 s", big["warm_load_s"] < 0.2, f"{big['warm_load_s']:.2f} s"))
        rows.append(
            line(
                "10k rules peak memory < 150 MB", big["peak_load_mb"] < 150, f"{big['peak_load_mb']:.0f} MB RSS after a cold load"
            )
        )
    rows.append(line("`import policyengine` < 150 ms", cli["import_ms"] < 150, f"{cli['import_ms']:.1f} ms"))
    net = cli["batch_per_cpu_s_net"]
    rows.append(
        line("decide --requests ≥ 100,000 decisions per CPU second", net >= 100_000, f"{fmt_rate(net)}/s (start-up subtracted)")
    )
    grow = cli[f"batch{N_LINES}_peak_mb"] - cli["batch10000_peak_mb"]
    rows.append(line("decide --requests streamed (memory flat)", grow < 50, f"+{grow:.0f} MB from 10k to 100k lines"))
    return table(["target", "verdict", "measured"], rows)


def build(quick: bool) -> str:
    passes = 1 if quick else 5
    with tempfile.TemporaryDirectory(prefix="pe-bench-") as tmp:
        workdir = Path(tmp)
        peer_text, stats = peer_section(passes)
        library_text, _ = library_section()
        scaling_text, scaling = scaling_section(workdir, quick)
        cli_text, cli = cli_section(workdir)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, {_cpus()} CPUs"
    return "\n\n".join(
        [
            f"Measured {when} on {machine} with `python -m benchmarks.report{' --quick' if quick else ''}`.",
            "### Targets\n\n" + verdicts(stats, scaling, cli),
            "### Peer workload: 7 rules, 10,000 seeded requests\n\n" + peer_text,
            "### Shipped library\n\n" + library_text,
            "### Scaling: synthetic sets\n\n" + scaling_text,
            "### Command line\n\n" + cli_text,
        ]
    )


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run every benchmark once and print the report")
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-rule set; one pass per contender")
    parser.add_argument(
        "--write", type=Path, metavar="FILE", help="also replace the report section of FILE (docs/performance.md)"
    )
    args = parser.parse_args(argv)
    report = build(args.quick)
    print(report)
    if args.write:
        write_report(args.write, report)
    return 0


BEGIN = "<!-- report:begin (python -m benchmarks.report --write docs/performance.md) -->"
END = "<!-- report:end -->"


def write_report(path: Path, report: str) -> None:
    """Replace the text between the report markers of ``path`` (or append it)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{BEGIN}\n\n{report}\n\n{END}"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
