"""Numbers quoted in the notebooks' text come from their outputs or named sources."""

import json
from pathlib import Path

import pytest

from helpers.nbcheck import unsourced_numbers

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _nb(tmp_path, markdown: str, output: str, code: str = "x = 1") -> Path:
    nb = {"cells": [
        {"cell_type": "code", "source": [code], "metadata": {}, "execution_count": 1,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": [output]}]},
        {"cell_type": "markdown", "source": [markdown], "metadata": {}},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    p = tmp_path / "99_x.ipynb"
    p.write_text(json.dumps(nb))
    return p


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_quoted_numbers_have_a_source(path):
    assert unsourced_numbers(path) == []


def test_a_planted_mismatch_in_a_real_notebook_is_caught(tmp_path):
    """Change one quoted number in a committed notebook: the check must name it."""
    nb = json.loads((ROOT / "notebooks" / "02_hackernews_elasticsearch.ipynb").read_text())
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "markdown" and "1.316" in src:
            c["source"] = [src.replace("1.316", "1.916", 1)]
            break
    else:
        pytest.fail("notebook 02 no longer quotes 1.316; plant the mismatch elsewhere")
    planted = tmp_path / "02_planted.ipynb"
    planted.write_text(json.dumps(nb))
    problems = unsourced_numbers(planted)
    assert [p.number for p in problems] == ["1.916"]


def test_rounding_supports_shorter_quotes_only(tmp_path):
    assert unsourced_numbers(_nb(tmp_path, "loss about 2.06, or 2.1", "val 2.0580")) == []
    bad = unsourced_numbers(_nb(tmp_path, "validation about 1.9", "val 2.0580"))
    assert [p.number for p in bad] == ["1.9"]
    assert "validation about 1.9" in bad[0].context


def test_code_versions_exercises_and_time_lines_are_not_quotes(tmp_path):
    md = ("**Time:** 8.8 minutes\n\nKeras 3.15.1, `lr=0.25`, 5e-3, counts 1,234\n\n"
          "```python\ntemperature=0.77\n```")
    assert unsourced_numbers(_nb(tmp_path, md, "nothing")) == []
    ex = _nb(tmp_path, "## Exercises\n\n1. Try temperature 1.3.", "nothing")
    assert unsourced_numbers(ex) == []


def test_numbers_from_code_and_named_files(tmp_path):
    assert unsourced_numbers(_nb(tmp_path, "nanoGPT's 1.4697", "", "ref = 1.4697")) == []
    f = tmp_path / "bench.md"
    f.write_text("| best | 1.477 |")
    md = "the bench reaches 1.477 (`bench.md`)"
    assert unsourced_numbers(_nb(tmp_path, md, ""), root=tmp_path) == []
    assert len(unsourced_numbers(_nb(tmp_path, "the bench reaches 1.477", ""), root=tmp_path)) == 1
