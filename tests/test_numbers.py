"""One source for every number: the mismatches the check exists for are caught.

Each test plants, in a copy of the repository's text and results, a mismatch that was on
main before the check (quoted here as it stood), and asserts that
:func:`helpers.nbcheck.check_repository` names it.
"""

import json
import shutil
from pathlib import Path

import pytest

from helpers import facts, timings
from helpers.nbcheck import check_repository, fact_problems, link_problems, time_problems

pytestmark = pytest.mark.core

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo(tmp_path):
    """A copy of everything the check reads (not the zoo's weights)."""
    for name in ("README.md", "ARCHITECTURE.md", "lite/README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "bench", tmp_path / "bench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for card in ROOT.glob("zoo/**/*"):
        if card.name in ("README.md", "meta.json"):
            (tmp_path / card.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(card, tmp_path / card.relative_to(ROOT))
    # known times, written into the copy's text: the planted disagreements below are
    # against these, not against whatever the last full run measured
    shutil.copy(ROOT / "tests" / "fixtures" / "timings_seeded.json",
                tmp_path / "notebooks" / "records" / "timings.json")
    timings.write_tables(tmp_path)
    return tmp_path


def _plant(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path.name} no longer holds {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def _plant_cell(path: Path, markdown: str) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": [markdown]})
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _readme_paragraph(repo: Path, text: str) -> None:
    _plant(repo / "README.md", "### Reading order\n", f"{text}\n\n### Reading order\n")


def test_the_repository_passes():
    assert [str(p) for p in check_repository(ROOT)] == []


# --- the notebooks' times -------------------------------------------------------------------

def test_time_quoted_by_hand_in_a_table_is_caught(repo):
    """00's table gave notebook 07 28 s, the README's 27 s (here: a second off the file's
    time); 04's row, quoted as the file has it, is not reported."""
    data = json.loads((repo / "notebooks" / "records" / "timings.json").read_text())
    n07 = data["notebooks"]["07_neurons"]["pretrained"]["seconds"]
    n04 = data["notebooks"]["04_training"]
    pre, own = n04["pretrained"]["seconds"], n04["own"]["seconds"]
    _plant_cell(repo / "notebooks" / "00_start_here.ipynb",
                "| notebook | topic | full run, 2-core CPU: pretrained (default) | training your "
                "own | GPU needed? |\n|---|---|---|---|---|\n"
                f"| [07_neurons](07_neurons.ipynb) | what single LSTM cells track | {n07 + 1} s | | no |\n"
                f"| [04_training](04_training.ipynb) | training | {pre} s | "
                f"+ {(own - pre) / 60:.0f} minutes | helps |")
    problems = [str(p) for p in time_problems(repo)]
    assert any("00_start_here" in p and "notebook 07" in p and f"'{n07 + 1} s'" in p
               for p in problems)
    assert not any("00_start_here" in p and "notebook 04" in p for p in problems)


def test_time_lines_and_prose_that_differ_are_caught(repo):
    """04's header said 8.8 minutes without the switch (the README 11); the workshop guide
    said 04 181 s (the table 178 s) and two totals for the whole series."""
    _plant(repo / "notebooks" / "03_tweets_code_reviews.ipynb", "**Time:** 23 s",
           "**Time:** 25 s")
    _readme_paragraph(repo, "- **Timings:** with `USE_PRETRAINED = True` 00 11 s · 01 12 s · "
                            "04 181 s · 08 17 s; 5 minutes 38 seconds in all.\n"
                            "- The whole series takes 5 minutes 45 seconds on this CPU.")
    nb = repo / "notebooks" / "01_gutenberg.ipynb"
    text = nb.read_text(encoding="utf-8")
    start = text.index("**Time:**")
    end = text.index("\\n", start)
    nb.write_text(text[:start] + "**Time:** about 3 minutes for a full run with "
                  "`USE_PRETRAINED = True`; 8.8 minutes with `False` (measured)." + text[end:],
                  encoding="utf-8")
    problems = [str(p) for p in time_problems(repo)]
    assert any("03_tweets" in p and "'25 s'" in p for p in problems)
    assert any("01_gutenberg" in p and "(pretrained)" in p and "3 minutes" in p
               for p in problems)
    assert any("01_gutenberg" in p and "(own)" in p and "8.8 minutes" in p for p in problems)
    assert any("'04 181 s'" in p for p in problems)
    assert any("'5 minutes 38 seconds'" in p for p in problems)
    assert any("'5 minutes 45 seconds'" in p for p in problems)
    # and the generated places are stale until `tables --write`
    assert any(p.startswith("notebooks/03_tweets") and "tables --write" in p for p in problems)
    assert not any("'11 s'" in p or "'12 s'" in p or "'17 s'" in p for p in problems)


def test_tables_write_from_timings_json(repo):
    path = repo / "notebooks" / "records" / "timings.json"
    data = json.loads(path.read_text())
    data["notebooks"]["07_neurons"]["pretrained"]["seconds"] = 31
    data["notebooks"]["02_hackernews_elasticsearch"]["own"]["seconds"] = 600
    path.write_text(json.dumps(data))
    stale = {p.name for p in timings.write_tables(repo, check=True)}
    assert {"README.md", "07_neurons.ipynb", "02_hackernews_elasticsearch.ipynb"} <= stale
    timings.write_tables(repo, names=["07", "02"])
    readme = (repo / "README.md").read_text()
    assert "| 31 s | (no training) |" in readme and "| 10.0 min in all |" in readme
    nb = (repo / "notebooks" / "07_neurons.ipynb").read_text()
    assert "**Time:** 31 s for a full run on a 2-core CPU (measured 2026-11-28)." in nb
    assert time_problems(repo) == []


def test_record_merges_one_notebook_into_the_file(tmp_path):
    path = tmp_path / "timings.json"
    timings.record("05_sampling.ipynb", 20.4, pretrained=True, path=path)
    timings.record("01_gutenberg.ipynb", 191.6, pretrained=False, path=path)
    timings.record("05_sampling.ipynb", 19.6, pretrained=True, path=path)
    data = json.loads(path.read_text())
    assert list(data["notebooks"]) == ["01_gutenberg", "05_sampling"]
    assert data["notebooks"]["05_sampling"]["pretrained"]["seconds"] == 20
    assert data["notebooks"]["01_gutenberg"]["own"]["seconds"] == 192
    assert "machine" in data["notebooks"]["01_gutenberg"]["own"]
    assert [p.name for p in tmp_path.iterdir()] == ["timings.json"]  # no temp file left


# --- scores quoted in more than one place ---------------------------------------------------

def test_the_recipe_quoted_with_an_old_value_is_caught(repo):
    """README's Training options gave the CPU ten-minute recipe 1.477, 04 "the same CPU
    recipe ... 1.477", bench/README "the recipe's 1.489": one quantity, three values."""
    _readme_paragraph(repo, "On this 2-core CPU, 10 minutes of a 2 × GRU(256) with Adam at "
                            "5e-3 reach **1.477 nats/char** on tiny-shakespeare's validation "
                            "split in windows of 160.")
    _plant(repo / "bench" / "README.md", "`600s_b32_jax`'s 1.489;", "the\nrecipe's 1.489;")
    _plant_cell(repo / "notebooks" / "05_sampling.ipynb",
                "`bench/README.md` has the same CPU recipe at 10 minutes on a machine to "
                "itself: 1.477.")
    problems = fact_problems(repo)
    wrong = sorted((p.where.split(":")[0].split(" ")[0], p.message.split(" quoted as ")[1][:5])
                   for p in problems if p.kind == "fact")
    assert wrong == [("05_sampling.ipynb", "1.477"), ("README.md", "1.477"),
                     ("bench/README.md", "1.489")]
    two = [p for p in problems if p.kind == "two values" and p.where == "cpu_10min_recipe"]
    assert len(two) == 1 and all(v in two[0].message for v in ("1.452", "1.477", "1.489"))


def test_nanogpt_quoted_from_outside_the_repository_is_caught(repo):
    """README: nanoGPT's 10-minute CPU score 1.555 (from ../shared/BASELINES.md); the
    repository's own run says 1.552."""
    _readme_paragraph(repo, "nanoGPT's CPU \"baby\" transformer reaches 1.555 in the same "
                            "time on this machine (`../shared/BASELINES.md`).")
    problems = [str(p) for p in check_repository(repo)]
    assert any("[fact] nanogpt_cpu_10min" in p and "quoted as 1.555" in p
               and "says 1.552" in p for p in problems)
    assert any(p.startswith("nanogpt_cpu_10min: [two values] 1.552 in") and "1.555 in README.md"
               in p for p in problems)
    assert any("[link] `../shared/BASELINES.md` leaves the repository" in p for p in problems)


def test_a_table_column_is_read_with_its_header(repo):
    """bench/README's first CPU table had a nanoGPT column with BASELINES.md's 1.555."""
    _plant(repo / "bench" / "README.md",
           "| budget | training | learning rate | ours, windows of 160 | ours, state carried |\n"
           "|---|---|---|---|---|\n",
           "| budget | training | learning rate | ours, windows of 160 | ours, state carried "
           "| nanoGPT \"baby\" |\n|---|---|---|---|---|---|\n"
           "| 600 s | random windows | cosine | 1.490 | 1.470 | 1.555 (623 s) |\n")
    assert [p.message.split(";")[0] for p in fact_problems(repo) if p.kind == "fact"
            and p.where.startswith("bench")] == [
        "nanogpt_cpu_10min (nanoGPT's CPU \"baby\" run after about ten minutes, nats/char) "
        "quoted as 1.555"]


@pytest.mark.parametrize("fact, sentence, value", [
    ("nanogpt_cpu_10min", "0.10 ahead of nanoGPT's 1.552.", "1.552"),
    ("nanogpt_cpu_10min", "against 1.898 for nanoGPT's baby run after 91.5 s", None),
    ("nanogpt_cpu_80s", "where nanoGPT's run stood at 1.898 after 91.5 s.", "1.898"),
    ("cpu_10min_recipe", "The best, dropout 0.25 at 1.452, is now the recipe `cpu-10min`.",
     "1.452"),
    ("cpu_10min_recipe", "In ten minutes, GRU(256) × 2 in batches of 32 gave 1.489 that day",
     "1.489"),
    ("cpu_10min_recipe", "Over ten minutes `600s_b32_jax` scored 1.489.", None),
    ("cpu_10min_recipe", "the zoo recipe reaches 1.472 after 65 s on one H100", None),
    ("cpu_1min_recipe", "that gave **1.611 nats/char**, is now the `cpu-1min` recipe", "1.611"),
    ("shakespeare_char_h100", "Measured on one H100, alone on the GPU: 2 × LSTM(512) reaches "
     "**1.472 nats/char**", "1.472"),
])
def test_phrasings_find_what_a_reader_writes(fact, sentence, value):
    f = next(f for f in facts.FACTS if f.name == fact)
    found = [m.group("v") for p in f.patterns() for m in p.finditer(sentence)]
    assert found == ([value] if value else [])


def test_every_fact_has_its_source():
    for f in facts.FACTS:
        assert facts.source_value(f) > 0, f.name


# --- links and unsourced numbers ------------------------------------------------------------

def test_links_that_leave_the_repository_or_name_nothing(repo):
    _readme_paragraph(repo, "See [the baselines](../shared/BASELINES.md), [a file]"
                            "(bench/nothing.md), [a page](https://example.org/x.md), "
                            "[local](file:///work/x.md) and [ours](bench/README.md#core).")
    _plant_cell(repo / "notebooks" / "06_evaluation.ipynb",
                "[back](../README.md), [out](../../x.md)")
    found = sorted(p.message for p in link_problems(repo))
    assert found == ["../../x.md leaves the repository", "../shared/BASELINES.md leaves the "
                     "repository", "bench/nothing.md: no such file",
                     "file:///work/x.md is not in the repository"]


def test_unsourced_numbers_in_the_readme(repo):
    _readme_paragraph(repo, "Ten minutes reach 1.234 nats/char with Python 3.10 "
                            "(`bench/results/nanogpt_cpu.json`: 1.552, 1.898).")
    problems = [str(p) for p in check_repository(repo) if p.kind == "unsourced"]
    assert len(problems) == 1 and "1.234" in problems[0] and problems[0].startswith("README.md:")


def test_a_readme_without_the_series_markers_is_one_clear_error(repo):
    _plant(repo / "README.md", "<!-- end of series times -->", "")
    with pytest.raises(timings.TimingsError, match="README.md has no series markers"):
        timings.write_tables(repo)
    assert any("no series markers" in str(p) for p in time_problems(repo))
