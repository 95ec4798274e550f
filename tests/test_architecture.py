"""The package's layout is its architecture: imports run one way.

Every ``import`` in ``policyengine/`` is read with :mod:`ast` (those inside
functions too: a lazy import is still a dependency), resolved to the module it
names, and checked against the layers of docs/architecture.md:

* a subpackage imports only from its own layer or the layers below it;
* no two modules import each other, directly or through others (a cycle
  makes both halves impossible to understand or test alone).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "policyengine"

#: Lower numbers are lower layers.  The facade (``policyengine/__init__.py``,
#: ``__main__.py``) sits above them all.  Subsystems on one layer do not
#: import each other unless listed in ALLOWED_SIDEWAYS.
LAYERS = {
    "errors": 0,
    "language": 1,
    "evaluation": 2,
    "analysis": 3,
    "journal": 3,
    "service": 4,
    "lsp": 4,
    "cli": 5,
}
#: Same-layer imports that are part of the design: the journal replays
#: decisions with analysis's diff shape.
ALLOWED_SIDEWAYS = {("journal", "analysis")}
FACADE = {"policyengine", "policyengine.__main__"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The policyengine modules (or packages) that ``path`` imports."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "policyengine")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "policyengine":
                continue
            for alias in node.names:
                # `from . import ast` names a module; `from .x import y` a member of x.
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    return found


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        graph[_module_name(path)] = {m for m in _imports(path) if m != _module_name(path)}
    return graph


def _subsystem(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and module not in FACADE else None


def test_every_subpackage_has_a_layer() -> None:
    for path in PACKAGE.iterdir():
        if path.is_dir() and (path / "__init__.py").is_file():
            assert path.name in LAYERS, f"policyengine/{path.name}/ has no layer in docs/architecture.md and LAYERS"


def test_at_most_three_modules_at_the_top() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 3, top


def test_imports_run_downward() -> None:
    wrong = []
    for module, imported in _graph().items():
        here = _subsystem(module)
        if here is None:
            continue
        for target in imported:
            there = _subsystem(target)
            if there is None:
                if target == "policyengine":
                    continue  # `from .. import __version__`: the package's own metadata
                wrong.append(f"{module} imports the facade {target}")
            elif there != here and (
                LAYERS[there] > LAYERS[here] or (LAYERS[there] == LAYERS[here] and (here, there) not in ALLOWED_SIDEWAYS)
            ):
                wrong.append(f"{module} ({here}) imports {target} ({there})")
    assert not wrong, "upward or sideways imports:\n" + "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    graph = _graph()
    # A package's __init__ that re-exports its modules is not a cycle with them.
    for module in graph:
        graph[module] = {t for t in graph[module] if not module.startswith(t + ".")}
    assert _cycles(graph) == []


@pytest.mark.parametrize(
    "graph, cycles",
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], cycles: list[list[str]]) -> None:
    assert _cycles(graph) == cycles


def test_the_walker_sees_lazy_imports() -> None:
    """An import inside a function is a dependency like any other."""
    imported = _imports(PACKAGE / "cli" / "main.py")
    assert "policyengine.cli.common" in imported


def test_import_policyengine_stays_lazy() -> None:
    import subprocess
    import sys

    code = "import sys, policyengine; print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'lark', 'rich'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


#: Modules a command line that decides nothing has no use for (issue 14: each one was start-up time).
_HEAVY = ("pydantic", "lark", "rich", "policyengine.analysis", "policyengine.evaluation")


def _heavy_imports_after(code: str) -> list[str]:
    """The heavy modules loaded by ``code`` in a fresh interpreter."""
    import subprocess
    import sys

    probe = f"import sys\n{code}\nprint(sorted(m for m in sys.modules if m.startswith({_HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return list(ast.literal_eval(out.strip().splitlines()[-1]))


def test_building_the_command_line_parser_stays_lazy() -> None:
    """The parser holds every command's name and help, but a command's arguments (whose
    defaults come from the analysis budget, the request limits …) only once it is picked."""
    assert _heavy_imports_after("from policyengine.cli.main import build_parser; build_parser()") == []
    assert _heavy_imports_after("from policyengine.cli.main import main; main(['fmt', '--help'])") == []


def test_top_level_help_and_a_misspelt_command_stay_lazy() -> None:
    assert _heavy_imports_after("from policyengine.cli.main import main; main(['--help'])") == []
    assert _heavy_imports_after("from policyengine.cli.main import main; main(['dcide', '-j', 'RU'])") == []


def test_a_picked_command_gets_its_arguments() -> None:
    """The lazy parser completes the command argparse picks: decide's budget flags are there."""
    from policyengine.cli.main import build_parser

    args = build_parser().parse_args(["decide", "-j", "RU", "--max-classes", "5"])
    assert args.max_classes == 5 and args.command == "decide"
    assert "policyengine.analysis" in _heavy_imports_after(
        "from policyengine.cli.main import build_parser; build_parser().parse_args(['decide', '-j', 'RU'])"
    )
