"""ARCHITECTURE.md stays the true map of ``helpers/``: every module has one floor, no
import runs up a floor or round a circle, the tests' coverage is what it says, and the
page fits one screen.

The map is read from the page's floor table (``| N · name | `module`, ... | ... |``); the
imports from the modules' syntax trees, in-function imports included (a lazy import is
still an arrow)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "ARCHITECTURE.md"
MAX_LINES = 60  # one screen
MAX_WIDTH = 99

pytestmark = pytest.mark.core

_ROW = re.compile(r"^\|\s*(\d+)\s*·[^|]*\|([^|]*)\|")


def floors_in(page: str) -> dict[str, int]:
    """``{module: floor}`` from the page's floor table; a module named twice is an error."""
    floors: dict[str, int] = {}
    for line in page.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        for name in re.findall(r"`([\w.]+)`", m.group(2)):
            if name in floors:
                raise AssertionError(f"`{name}` is placed on two floors")
            floors[name] = int(m.group(1))
    return floors


def modules(package: Path) -> dict[str, Path]:
    """The package's modules by dotted name below it (``corpus_cache``, ``sources.hn``)."""
    found = {}
    for p in sorted(package.rglob("*.py")):
        rel = p.relative_to(package).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if parts and rel.name != "__main__":
            found[".".join(parts)] = p
    return found


def imports_of(name: str, source: str, known: set[str], package: bool = False) -> set[str]:
    """The package modules ``name`` imports, wherever in the file the import stands
    (``package``: ``name`` is a subpackage's ``__init__``)."""
    here = name.split(".") if package else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
            elif node.module and node.module.split(".")[0] == "helpers":
                base = []
            else:
                continue
            mod = node.module or ""
            if not node.level:
                mod = mod.partition(".")[2]
            stem = [*base, *mod.split(".")] if mod else base
            for alias in node.names:  # `from . import zoo` names a module
                full = ".".join([*stem, alias.name])
                out.add(full if full in known else ".".join(stem))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("helpers."):
                    out.add(alias.name.partition(".")[2])
    return {m for m in out if m in known and m != name}


def arrows(package: Path) -> dict[str, set[str]]:
    mods = modules(package)
    return {name: imports_of(name, p.read_text(encoding="utf-8"), set(mods),
                             package=p.name == "__init__.py")
            for name, p in mods.items()}


def problems(page: str, graph: dict[str, set[str]]) -> list[str]:
    """What makes the page untrue of ``graph``: unplaced or unknown modules, arrows up a
    floor, circles."""
    floors = floors_in(page)
    out = [f"`{m}` has no place in ARCHITECTURE.md" for m in sorted(set(graph) - set(floors))]
    out += [f"ARCHITECTURE.md places `{m}`, which does not exist"
            for m in sorted(set(floors) - set(graph))]
    for src, targets in sorted(graph.items()):
        for dst in sorted(targets):
            if src in floors and dst in floors and floors[dst] > floors[src]:
                out.append(f"`{src}` (floor {floors[src]}) imports `{dst}` "
                           f"(floor {floors[dst]}): up a floor")
    seen: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for d in sorted(graph.get(m, ())):
            if seen.get(d) == 1:
                out.append("import circle: " + " -> ".join([*path[path.index(d):], d]))
            elif d not in seen:
                visit(d, [*path, d])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])
    return out


def untested(tests: Path, graph: dict[str, set[str]]) -> set[str]:
    """Modules that no test file imports (they are tested only through others)."""
    hit = set()
    for t in tests.glob("*.py"):
        hit |= imports_of("tests." + t.stem, t.read_text(encoding="utf-8"), set(graph))
    return set(graph) - hit


# --- the real page and package ----------------------------------------------------------

def test_every_module_has_one_place_and_no_import_runs_up_or_round():
    assert problems(PAGE.read_text(encoding="utf-8"), arrows(ROOT / "helpers")) == []


def test_the_page_says_which_modules_no_test_imports():
    page = PAGE.read_text(encoding="utf-8")
    line = next((x for x in page.splitlines() if "tested only through" in x), None)
    assert line is not None, "ARCHITECTURE.md should name the modules no test imports"
    said = set(re.findall(r"`([\w.]+)`", line))
    assert said == untested(ROOT / "tests", arrows(ROOT / "helpers"))


def test_the_page_says_which_modules_have_no_test_file_of_their_own():
    page = PAGE.read_text(encoding="utf-8")
    at = page.index("No test file of its own")
    said = set(re.findall(r"`([\w.]+)`", page[at:page.index(".\n", at)]))
    lacking = {m for m in arrows(ROOT / "helpers")
               if not (ROOT / "tests" / f"test_{m.replace('.', '_')}.py").exists()}
    assert said == lacking


def test_the_page_fits_one_screen():
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_LINES
    assert [i + 1 for i, x in enumerate(lines) if len(x) > MAX_WIDTH] == []


# --- the checks themselves can fail -----------------------------------------------------

PLANTED = """
| floor | modules | what they own |
|---|---|---|
| 0 · ground | `a`, `b` | x |
| 1 · top | `c` | y |
"""


def test_a_module_without_a_place_is_named():
    assert problems(PLANTED, {"a": set(), "b": set(), "c": set(), "new": set()}) == [
        "`new` has no place in ARCHITECTURE.md"]


def test_an_import_up_a_floor_is_named_even_inside_a_function():
    src = "def f():\n    from .c import thing\n"
    graph = {"a": imports_of("a", src, {"a", "b", "c"}), "b": set(), "c": set()}
    assert problems(PLANTED, graph) == ["`a` (floor 0) imports `c` (floor 1): up a floor"]


def test_a_circle_on_one_floor_is_named():
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert problems(PLANTED, graph) == ["import circle: a -> b -> a"]


def test_imports_are_read_in_every_spelling():
    known = {"zoo", "vocab", "sources", "sources.hn", "paths"}
    src = ("from . import zoo\nfrom .vocab import Vocab\nimport helpers.paths\n"
           "from .sources import hn\nimport json\nfrom keras import ops\n")
    assert imports_of("cli", src, known) == {"zoo", "vocab", "paths", "sources.hn"}
    assert imports_of("sources.hn", "from ..vocab import Vocab\nfrom . import x\n",
                      known) == {"vocab", "sources"}
