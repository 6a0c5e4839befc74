"""The notebooks, as a newcomer meets them.

Committed notebooks are clean. Every notebook runs top to bottom in quick mode in a copy
of the repository with nothing beside it (no ``../shared``), its data downloaded through
the registry from a loopback mirror; the notebooks that train run once more with
``USE_PRETRAINED`` off. Then all of them run again with no mirror at all and every
download failing (the public sources reached through a proxy that refuses every
connection, so nothing leaves the machine): the notebooks that need no download run
clean, the others end with the one message that says how to get the data.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT, environ
from .httpserve import refusing_url

pytestmark = pytest.mark.notebooks
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
NEED_NO_DOWNLOAD = {"00", "03", "05", "08", "09"}  # 03's corpora are optional; 09 falls back to a shipped excerpt
TRAIN = [p for p in NOTEBOOKS if p.name[:2] in {"01", "02", "04"}]  # USE_PRETRAINED matters


def test_series_is_numbered_and_linked():
    names = [p.name for p in NOTEBOOKS]
    assert names[0].startswith("00_") and len(names) >= 8
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(len(names))]
    for p, nxt in zip(NOTEBOOKS, NOTEBOOKS[1:], strict=False):
        assert f"({nxt.name})" in p.read_text(), f"{p.name} does not link to {nxt.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_notebook_is_clean(path):
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in cells]
    if any(counts):  # committed with outputs: a fresh "restart and run all"
        assert counts == list(range(1, len(cells) + 1)), counts
    for c in cells:
        for o in c.get("outputs", []):
            assert o.get("output_type") != "error", f"{path.name} has an error output"
    text = path.read_text()
    assert "sys.path" not in text and "import *" not in text
    for machine in ("127.0.0.1", "/tmp/", str(Path.home()), str(ROOT)):  # nothing of this machine
        assert machine not in text, machine
    md = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for part in ("You will learn", "Summary", "Exercises") if not path.name.startswith("00") else ("Setup",):
        assert part in md, f"{path.name} lacks '{part}'"
    setup = "".join(cells[0]["source"])
    assert "S = setup()" in setup and "USE_PRETRAINED = S.pretrained" in setup


def test_streamed_text_is_stored_as_one_output():
    """A sample streamed character by character is one output, not one per character."""
    import nbformat

    from helpers.notebooks import merge_streams

    nb = nbformat.v4.new_notebook()
    out = [nbformat.v4.new_output("stream", name="stdout", text=ch) for ch in "ROMEO:\nAy"]
    out += [nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": "1"}),
            nbformat.v4.new_output("stream", name="stdout", text="after")]
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=out)]
    assert merge_streams(nb) == 8
    assert [(o.output_type, o.get("text")) for o in nb.cells[0].outputs] == [
        ("stream", "ROMEO:\nAy"), ("stream", "warning\n"), ("execute_result", None),
        ("stream", "after")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_cell_stores_a_stream_in_pieces(path):
    """Streamed text stored one piece per flush (hundreds of outputs in one cell) is what
    ``helpers.notebooks run`` merges; a few prints with other outputs between are fine."""
    nb = json.loads(path.read_text())
    for i, c in enumerate(nb["cells"]):
        streams = [o for o in c.get("outputs", []) if o["output_type"] == "stream"]
        assert len(streams) <= 20, f"{path.name}, cell {i}: {len(streams)} stream outputs"


def test_nothing_reads_the_test_mirror():
    """The test mirror (../shared/data) is not part of the product."""
    pattern = re.compile(r"\.\./shared|shared[/_ ]data|shared_data|TEXTGEN_SHARED")
    files = sorted((ROOT / "helpers").glob("*.py")) + NOTEBOOKS
    hits = [f"{f.name}:{m.group()}" for f in files for m in pattern.finditer(f.read_text())]
    assert not hits


def _project_files() -> list[Path]:
    """What a clone of this checkout holds: tracked and new (not ignored) files."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True).stdout
        return [Path(p) for p in out.decode().split("\0") if p and (ROOT / p).is_file()]
    except (OSError, subprocess.CalledProcessError):  # no git: everything but local state
        skip = {".git", ".venv", "data", "generated", "runs", "__pycache__", ".pytest_cache"}
        return [p.relative_to(ROOT) for p in ROOT.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A copy of the repository in an empty folder: no ../shared, no data/, no runs/."""
    dst = tmp_path_factory.mktemp("newcomer") / "textgen-workshop"
    for rel in _project_files():
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dst / rel)
    assert not (dst.parent / "shared").exists() and not (dst / "data" / "tinyshakespeare").exists()
    return dst


def run_in(clone: Path, path: Path, tmp_path: Path, **env):
    """Run notebook ``path`` of ``clone`` in quick mode, its kernel importing the clone's
    ``helpers``; returns the executed notebook and the execution error, if any."""
    from nbclient.exceptions import CellExecutionError

    from helpers.notebooks import run_notebook

    out = tmp_path / path.name
    with environ(PYTHONPATH=str(clone), TEXTGEN_GENERATED=str(tmp_path / "generated"),
                 TEXTGEN_RUNS=str(tmp_path / "runs"), TEXTGEN_QUICK="1", **env):
        try:
            run_notebook(clone / "notebooks" / path.name, out, quick=True, timeout=600)
            error = None
        except CellExecutionError as e:
            error = e
    return json.loads(out.read_text()), error


def _errors(nb: dict) -> list[dict]:
    return [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def _outputs_text(nb: dict) -> str:
    return json.dumps([c.get("outputs", []) for c in nb["cells"] if c["cell_type"] == "code"])


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_in_a_fresh_clone(path, clone, test_mirror, tmp_path):
    url, _ = test_mirror
    nb, error = run_in(clone, path, tmp_path, TEXTGEN_MIRROR=url, TEXTGEN_PRETRAINED="1",
                       TEXTGEN_DATA=None)  # the clone's own data/: filled from the mirror
    assert error is None, [e["evalue"] for e in _errors(nb)]
    assert str(clone) not in _outputs_text(nb) and "127.0.0.1" not in _outputs_text(nb)


@pytest.mark.slow
@pytest.mark.parametrize("path", TRAIN, ids=[p.stem for p in TRAIN])
def test_notebook_trains_in_a_fresh_clone(path, clone, test_mirror, tmp_path):
    url, _ = test_mirror
    nb, error = run_in(clone, path, tmp_path, TEXTGEN_MIRROR=url, TEXTGEN_PRETRAINED="0",
                       TEXTGEN_DATA=None)
    assert error is None, [e["evalue"] for e in _errors(nb)]
    assert list((tmp_path / "runs").glob("*/best.keras"))  # it trained a model of its own


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_without_network(path, clone, tmp_path):
    dead = refusing_url()
    nb, error = run_in(clone, path, tmp_path, TEXTGEN_MIRROR=None, TEXTGEN_PRETRAINED="1",
                       TEXTGEN_DATA=str(tmp_path / "empty-cache"), HTTPS_PROXY=dead,
                       HTTP_PROXY=dead, https_proxy=dead, http_proxy=dead, NO_PROXY="",
                       no_proxy="")
    errors = _errors(nb)
    if path.name[:2] in NEED_NO_DOWNLOAD:
        assert error is None and not errors, [e["evalue"] for e in errors]
        return
    assert error is not None and len(errors) == 1, [e["ename"] for e in errors]
    e = errors[0]
    assert e["ename"] in ("DataUnavailable", "GutenbergUnavailable")
    assert e["traceback"] == [f"Data not available: {e['evalue']}"]  # one message, no traceback
    assert "make data" in e["evalue"] and "TEXTGEN_MIRROR" in e["evalue"]
    assert "https://" in e["evalue"]  # it names the public source it tried


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_exercise_has_a_hint_and_a_hidden_solution(path):
    import re

    nb = json.loads(path.read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    ex = [c for c in cells if c.lstrip().startswith("## Exercises")]
    assert len(ex) == 1, f"{path.name} should have one Exercises cell"
    numbers = re.findall(r"^(\d+)\. ", ex[0], re.M)
    assert numbers == [str(i) for i in range(1, len(numbers) + 1)] and numbers, numbers
    assert ex[0].count("*Hint:*") == len(numbers), "one hint per exercise"
    assert ex[0].count("<details><summary>Solution</summary>") == len(numbers)
    assert ex[0].count("</details>") == len(numbers)
