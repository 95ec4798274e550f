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
PE_UNIQUE = "policyengine, dict, unique ids (memo miss)"
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
    off, floor = stats[PE_OFF], stats[FLOOR]
    rows = []
    for c in contenders:
        s = stats[c.name]
        rows.append(
            [
                c.name,
                fmt_us(s.cpu_us),
                fmt_us(s.median_us),
                fmt_us(s.p99_us),
                fmt_rate(s.per_second),
                f"{s.cpu_ratio_to(off):.2f}×",
                f"{s.cpu_ratio_to(floor):.1f}×",
                c.note,
            ]
        )
    text = (
        f"All {len(contenders)} contenders gave the same outcome on all {len(reqs):,} requests "
        f"({len(peer.jurisdictions())} jurisdictions).  *CPU µs*: CPU time per decision of a plain loop "
        "(`time.process_time`, median of the passes), which the ratios use; *median* and *p99*: wall time of "
        f"single calls (timer overhead {overhead:.0f} ns subtracted), which also counts the machine's other load.\n\n"
        + table(
            [
                "contender",
                "CPU µs",
                "median µs",
                "p99 µs",
                "decisions/s",
                "vs policyengine memo off",
                "vs if/else floor",
                "returns",
            ],
            rows,
        )
    )
    return text, stats


def library_section() -> tuple[str, dict[str, Any] | None]:
    lib = measure_library()
    if lib is None:
        return "The shipped library (`policies/`) is missing or does not load; skipped.", None
    rows = []
    for label, key in (
        ("decide(), dict (memo off)", "decide_memo_off"),
        ("decide(), dict, never seen (fresh engine, memo on, first pass)", "decide_never_seen"),
        ("decide(), dict (memo hit)", "decide_warm"),
        ("decide_many(), 10,000 requests, per request", "decide_many"),
        ("market(), per jurisdiction", "market"),
    ):
        s: Stats = lib[key]
        rows.append([label, _maybe(s.cpu_us), _maybe(s.median_us), _maybe(s.p99_us), fmt_rate(s.per_second)])
    head = (
        f"{lib['rules']} rules, {lib['jurisdictions']} jurisdictions, {lib['standing_demands']} standing demands; "
        f"10,000 requests over every jurisdiction and kind ({lib['distinct_shapes']:,} distinct).  "
        "— : not measured that way (the never-seen pass is timed as a whole, by CPU).\n\n"
    )
    return head + table(["call", "CPU µs", "median µs", "p99 µs", "per second"], rows), lib


def _maybe(value: float) -> str:
    return "—" if value != value else fmt_us(value)  # NaN: not measured


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
        ['`python -c "import pydantic, lark, rich"`: CPU (median of 7)', f"{c['import_floor_cpu_ms']:.0f} ms"],
        [
            "`policyengine decide --jurisdiction RU` (shipped library, load cache warm): CPU, interleaved",
            f"{c['decide_ru_cpu_ms']:.0f} ms ({c['decide_ru_ratio']:.2f}× the imports)",
        ],
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


def _line(name: str, met: bool, detail: str) -> list[str]:
    return [name, "met" if met else "**missed**", detail]


def verdicts(stats: dict[str, Stats], lib: dict[str, Any] | None, scaling: list[dict[str, Any]], cli: dict[str, float]) -> str:
    """The targets of issue 14 (the honest path) first, then the earlier ones (no regressions).

    Ratios of decision costs use CPU per call measured in this one run."""
    rows = []
    off, unique, pyd = stats[PE_OFF], stats[PE_UNIQUE], stats[PYDANTIC]
    cedar = stats.get(CEDAR)
    lib_off: Stats | None = lib["decide_memo_off"] if lib else None
    lib_new: Stats | None = lib["decide_never_seen"] if lib else None
    if cedar is not None:
        if lib_off is not None:
            r = cedar.cpu_us / lib_off.cpu_us
            detail = f"{r:.1f}× (shipped library {fmt_us(lib_off.cpu_us)} µs; peer set {cedar.cpu_us / off.cpu_us:.1f}×)"
        else:
            r = cedar.cpu_us / off.cpu_us
            detail = f"{r:.1f}× (peer set; the shipped library did not load)"
        rows.append(_line("`memo=False` decide vs cedarpy on the peer workload ≥ 10×", r >= 10, detail))
    r = off.cpu_us / pyd.cpu_us
    extra = f"; shipped library {lib_off.cpu_us / pyd.cpu_us:.1f}×" if lib_off is not None else ""
    rows.append(_line("`memo=False` decide vs pydantic + if/else floor ≤ 3×", r <= 3, f"{r:.1f}× (peer set{extra})"))
    if cedar is not None:
        r = cedar.cpu_us / unique.cpu_us
        ok = r >= 10
        detail = f"{r:.1f}× (peer set, a new id on every request)"
        if lib_new is not None:
            r2 = cedar.cpu_us / lib_new.cpu_us
            ok = ok and r2 >= 10
            detail += f"; {r2:.1f}× (shipped library, never-seen shapes, {fmt_us(lib_new.cpu_us)} µs)"
        rows.append(_line("memo on, never-seen requests vs cedarpy ≥ 10×", ok, detail))
    if len(scaling) == len(SIZES):
        small, big = scaling[0], scaling[-1]
        r = big["memo_off_cpu_us"] / small["memo_off_cpu_us"]
        rows.append(
            _line(
                "`memo=False` scaling, 100 → 10,000 rules ≤ 1.5×",
                r <= 1.5,
                f"{r:.2f}× ({fmt_us(small['memo_off_cpu_us'])} → {fmt_us(big['memo_off_cpu_us'])} µs CPU; "
                f"matching rules {small['matched_per_decision']:.1f} → {big['matched_per_decision']:.1f}, "
                f"facts {small['facts_per_decision']:.1f} → {big['facts_per_decision']:.1f} per decision)",
            )
        )
    else:
        rows.append(["`memo=False` scaling, 100 → 10,000 rules ≤ 1.5×", "not measured", "`--quick` skips the 10,000-rule set"])
    r = cli["decide_ru_ratio"]
    rows.append(
        _line(
            'whole process `decide --jurisdiction RU` vs `python -c "import pydantic, lark, rich"` ≤ 1.5×',
            r <= 1.5,
            f"{r:.2f}× ({cli['decide_ru_cpu_ms']:.0f} ms vs {cli['import_floor_cpu_ms']:.0f} ms CPU)",
        )
    )
    if len(scaling) == len(SIZES):
        big = scaling[-1]
        rows.append(
            _line(
                "10,000-rule set: cold load < 2 s",
                big["cold_load_s"] < 2,
                f"{big['cold_load_s']:.2f} s (parse {big['parse_s']:.2f}, validate {big['validate_s']:.2f}, "
                f"compile {big['compile_s']:.2f})",
            )
        )
        rows.append(_line("10,000-rule set: warm load < 0.2 s", big["warm_load_s"] < 0.2, f"{big['warm_load_s']:.2f} s"))
        rows.append(
            _line(
                "10,000-rule set: warm peak RSS < 150 MB",
                big["warm_peak_mb"] < 150,
                f"{big['warm_peak_mb']:.0f} MB (interpreter alone {big['baseline_mb']:.0f} MB)",
            )
        )
    else:
        rows.append(["10,000-rule set: cold / warm load, warm peak RSS", "not measured", "`--quick` skips it"])
    rate = N_LINES / cli[f"batch{N_LINES}_ids_cpu_s"]
    rows.append(
        _line(
            f"`decide --requests`, {N_LINES:,} distinct lines: ≥ 100k decisions per CPU second",
            rate >= 100_000,
            f"{fmt_rate(rate)}/s whole process ({fmt_rate(cli['batch_ids_per_cpu_s_net'])}/s start-up subtracted)",
        )
    )
    peak = cli[f"batch{N_LINES}_ids_peak_mb"]
    rows.append(_line(f"`decide --requests`, {N_LINES:,} distinct lines: peak RSS < 150 MB", peak < 150, f"{peak:.0f} MB"))
    honest = table(["target (issue 14)", "verdict", "measured"], rows)

    rows = []
    pe, req = stats[PE_WARM], stats[PE_REQUEST]
    # Absolute latency moves with the machine's load; the ratio to the
    # pydantic floor in the same run does not.  0.56× was measured on
    # 2026-11-29 (1.56 µs against 2.81 µs), the figure not to regress.
    r = pe.cpu_us / pyd.cpu_us
    rows.append(
        _line(
            "memo hit no slower than before: ≤ 0.6× the pydantic floor",
            r <= 0.6,
            f"{r:.2f}× ({fmt_us(pe.cpu_us)} µs CPU, {fmt_us(pe.median_us)} µs wall median)",
        )
    )
    rows.append(_line("`import policyengine` < 150 ms", cli["import_ms"] < 150, f"{cli['import_ms']:.1f} ms"))
    if cedar is not None:
        r = cedar.cpu_us / pe.cpu_us
        rows.append(_line("decide(dict) ≥ 10× faster than cedarpy (memo hit)", r >= 10, f"{r:.0f}×"))
    if REGO in stats:
        r = stats[REGO].cpu_us / pe.cpu_us
        rows.append(_line("decide(dict) ≥ 30× faster than regopy (memo hit)", r >= 30, f"{r:.0f}×"))
    r = pe.cpu_us / pyd.cpu_us
    rows.append(_line("decide(dict) within 2× of pydantic + if/else (memo hit)", r <= 2, f"{r:.2f}×"))
    r = req.cpu_us / stats[CLOSURES].cpu_us
    rows.append(_line("decide(Request) within 5× of rule closures (memo hit)", r <= 5, f"{r:.2f}×"))
    if len(scaling) == len(SIZES):
        small, big = scaling[0], scaling[-1]
        for key, label in (("warm_cpu_us", "memo hit"), ("unique_cpu_us", "unique ids")):
            r = big[key] / small[key]
            rows.append(_line(f"10k rules/1k jurisdictions within 1.5× of 100 rules ({label})", r <= 1.5, f"{r:.2f}×"))
    net = cli["batch_per_cpu_s_net"]
    rows.append(
        _line(
            "decide --requests, repeating shapes: ≥ 100,000 decisions per CPU second",
            net >= 100_000,
            f"{fmt_rate(net)}/s (start-up subtracted)",
        )
    )
    grow = cli[f"batch{N_LINES}_peak_mb"] - cli["batch10000_peak_mb"]
    rows.append(_line("decide --requests streamed (memory flat)", grow < 50, f"+{grow:.0f} MB from 10k to 100k lines"))
    return (
        honest + "\n\nEarlier targets, kept as regression checks (memo on):\n\n" + table(["target", "verdict", "measured"], rows)
    )


def build(quick: bool) -> str:
    passes = 1 if quick else 5
    with tempfile.TemporaryDirectory(prefix="pe-bench-") as tmp:
        workdir = Path(tmp)
        peer_text, stats = peer_section(passes)
        library_text, lib = library_section()
        scaling_text, scaling = scaling_section(workdir, quick)
        cli_text, cli = cli_section(workdir)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}, {_cpus()} CPUs"
    return "\n\n".join(
        [
            f"Measured {when} on {machine} with `python -m benchmarks.report{' --quick' if quick else ''}`.",
            "### Targets\n\n" + verdicts(stats, lib, scaling, cli),
            "### Shipped library\n\n" + library_text,
            "### Peer workload: 7 rules, 10,000 seeded requests\n\n" + peer_text,
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
