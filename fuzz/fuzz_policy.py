"""Coverage-guided fuzzing of the policy front end with atheris (libFuzzer for Python).

Each input is the bytes of one policy file.  It goes through exactly what
loading does (``loader.decode`` → ``parser`` → ``validate``; when the set is
valid, ``compile`` and a few decisions) and the harness checks the same
promises as tests/test_fuzz_policies.py: nothing but the project's own
diagnostics comes out, every diagnostic is registered, located inside its
source and renders without raw control characters, and a valid set decides
without raising.  Any exception is a finding: libFuzzer stops and writes the
input to ``crash-<sha1>``; turn it into a regression test.

Run (``pip install '.[fuzz]'``; the first directory receives new inputs)::

    mkdir -p /tmp/pe-corpus
    python fuzz/fuzz_policy.py /tmp/pe-corpus fuzz/seeds policies/principles \\
        -dict=fuzz/policy.dict -max_len=8192 -runs=100000

docs/reliability.md records the runs made so far and what they found.
"""

from __future__ import annotations

import contextlib
import os
import sys

import atheris

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

with atheris.instrument_imports():
    import lark  # noqa: F401 - instrumented so that coverage guides through the lexer and parser

    from policyengine.evaluation.decide import RequestError
    from policyengine.evaluation.engine import Engine
    from policyengine.language.diagnostics import CODES
    from policyengine.language.loader import decode
    from policyengine.language.parser import get_parser
    from policyengine.language.pipeline import analyse_sources
    from policyengine.language.render import render_plain, to_json

REQUESTS = [
    {"jurisdiction": code, "demand": {"kind": kind, "category": "fraud", "legal_basis": "court_order"}}
    for code in ("FR", "RU", "EU", "XX")
    for kind in ("key_disclosure", "user_data", "hotline")
]


def check(data: bytes) -> None:
    source, read_diags = decode("fuzz.policy", data)
    policy_set, diagnostics = analyse_sources([source] if source is not None else [], read_diags)
    for d in diagnostics:
        if d.code not in CODES:
            raise AssertionError(f"unregistered code {d.code}")
        text = d.span.source.text
        if not 0 <= d.span.start <= d.span.end <= len(text):
            raise AssertionError(f"span {d.span.start}..{d.span.end} outside a text of {len(text)}: {d}")
        shown = render_plain(d)
        if not all(ch.isprintable() or ch in "\n\t" for ch in shown):
            raise AssertionError(f"raw control character in {shown!r}")
        to_json(d)
    if (policy_set is None) != any(d.is_error for d in diagnostics):
        raise AssertionError("a set with errors was built, or a set without errors was not")
    if policy_set is None:
        return
    engine = Engine(policy_set)
    for request in REQUESTS:
        # The set's vocabulary may require other attributes: a clean refusal is fine.
        with contextlib.suppress(RequestError):
            engine.decide(request).model_dump_json()
    for code in list(engine.jurisdictions())[:3]:
        engine.market(code).model_dump_json()


def main() -> None:
    get_parser()  # build Lark's parser before fuzzing, not inside the first input
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
