"""Every notebook runs top to bottom in quick mode; committed notebooks are clean."""

import json
import os
from pathlib import Path

import pytest

from .conftest import shared_path
from .httpserve import serve_folder

pytestmark = pytest.mark.notebooks
NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_series_is_numbered_and_linked():
    names = [p.name for p in NOTEBOOKS]
    assert names[0].startswith("00_") and len(names) >= 8
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(len(names))]
    for p, nxt in zip(NOTEBOOKS, NOTEBOOKS[1:], strict=False):
        assert f"({nxt.name})" in p.read_text(), f"{p.name} does not link to {nxt.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
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
    md = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for part in ("You will learn", "Summary", "Exercises") if not path.name.startswith("00") else ("Setup",):
        assert part in md, f"{path.name} lacks '{part}'"


@pytest.fixture(scope="module")
def mirror_env():
    """A loopback Gutenberg mirror over the fixture data, so no notebook uses the network."""
    with serve_folder(shared_path("gutenberg")) as (url, _):
        old = os.environ.get("GUTENBERG_MIRROR")
        os.environ["GUTENBERG_MIRROR"] = url
        yield url
        if old is None:
            os.environ.pop("GUTENBERG_MIRROR")
        else:
            os.environ["GUTENBERG_MIRROR"] = old


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path, tmp_path, mirror_env, monkeypatch):
    from helpers.notebooks import run_notebook

    monkeypatch.setenv("TEXTGEN_DATA", str(tmp_path / "data"))
    seconds = run_notebook(path, tmp_path / path.name, quick=True, timeout=600)
    out = json.loads((tmp_path / path.name).read_text())
    errors = [o for c in out["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    assert seconds < 600
