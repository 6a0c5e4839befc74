"""What a cold attacker found after the first round of hardening, each a class: a run folder
that is not a run's, a lock file that is a link, a ``.previous`` that is not ours, run files
damaged in range or type, a file name that is not UTF-8, and a spent time budget.
Each test failed before its fix."""

from __future__ import annotations

import json
import math
import os

import pytest

from helpers import cli
from helpers.rundir import RunDir, RunDirError
from helpers.train import train

pytestmark = pytest.mark.core

TINY_MODEL = {"units": 8, "embed_dim": 4, "layers": 1, "dropout": 0.0}
TINY = {"seq_len": 16, "batch_size": 8, "steps_per_epoch": 3, "epochs": 1, "warmup_steps": 1,
        "learning_rate": 5e-3, "samples_per_epoch": 0, "verbose": 0}


def _cli(capsys, *argv) -> tuple[int, list[str]]:
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [x for x in err.splitlines() if x.startswith("error:")]


@pytest.fixture
def corpus(tmp_path, sonnets):
    p = tmp_path / "sonnets.txt"
    p.write_text(sonnets[:6000], encoding="utf-8")
    return p


@pytest.mark.parametrize("things", [["meta.json", "model.keras", "vocab.json"],  # a bundle
                                    ["config.json", "notes.txt"], ["README.md"]])
def test_a_folder_that_is_not_a_run_is_refused_and_untouched(capsys, tmp_path, corpus, things):
    folder = tmp_path / "theirs"
    folder.mkdir()
    for name in things:
        (folder / name).write_text(f"their {name}")
    code, errors = _cli(capsys, "train", corpus, "--run-dir", folder, "--units", "8",
                        "--epochs", "1", "--steps-per-epoch", "2", "--seq-len", "16")
    assert code == 2 and len(errors) == 1 and "not a run folder" in errors[0]
    assert sorted(p.name for p in folder.iterdir()) == sorted(things)  # no .lock either
    assert all((folder / n).read_text() == f"their {n}" for n in things)


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_kept(tmp_path):
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").symlink_to(precious)
    with pytest.raises(RunDirError, match="link or not a plain file"):
        with RunDir(run).lock():
            pass
    assert precious.read_text() == "keep me"


def test_a_lock_file_that_is_a_fifo_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    os.mkfifo(run / ".lock")
    with pytest.raises(RunDirError, match="not a plain file"):
        with RunDir(run).lock():
            pass


def test_force_does_not_delete_a_folder_where_previous_would_go(capsys, tmp_path):
    from helpers.outputs import OutputError, write_file

    out = tmp_path / "exist"
    out.write_text("old")
    keep = tmp_path / "exist.previous"
    (keep / "sub").mkdir(parents=True)
    (keep / "sub" / "data.txt").write_text("important")
    with pytest.raises(OutputError, match="move it away"):
        write_file(out, "new", force=True)
    assert (keep / "sub" / "data.txt").read_text() == "important"
    assert out.read_text() == "old"


@pytest.mark.parametrize("state", [
    {"epoch": 1e308, "best_val_loss": 1.0}, {"epoch": -3, "best_val_loss": 1.0},
    {"epoch": 1, "best_val_loss": math.nan}, {"epoch": 1, "best_val_loss": "x"},
    {"epoch": 1, "best_val_loss": 1.0, "elapsed_seconds": math.inf}, {"epoch": True,
                                                                      "best_val_loss": 1.0}])
def test_a_state_out_of_range_is_refused_naming_the_file(tmp_path, state):
    run = tmp_path / "run"
    run.mkdir()
    (run / "state.json").write_text(json.dumps(state))
    with pytest.raises(RunDirError, match=r"state\.json is damaged"):
        RunDir(run).read_state()


def test_damaged_run_files_are_refused_before_an_epoch_trains(tmp_path, sonnets):
    run = tmp_path / "run"
    train(sonnets[:6000], run, TINY_MODEL, TINY)
    history = (run / "history.csv").read_text()
    (run / "samples.json").write_text(json.dumps({"not": "a list"}))
    with pytest.raises(RunDirError, match=r"samples\.json is damaged"):
        train(sonnets[:6000], run, None, {**TINY, "epochs": 2})
    assert (run / "history.csv").read_text() == history  # nothing trained, nothing written
    (run / "samples.json").write_text("[]")
    config = json.loads((run / "config.json").read_text())
    config["model"] = {"units": 1_000_000_000}
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunDirError, match=r"config\.json is damaged"):
        train(sonnets[:6000], run, None, {**TINY, "epochs": 2})
    assert (run / "history.csv").read_text() == history


def test_a_spent_time_budget_trains_nothing_more(tmp_path, sonnets):
    run = tmp_path / "run"
    timed = {**TINY, "epochs": 20, "max_minutes": 0.001}  # spent within the first epoch
    first = train(sonnets[:6000], run, TINY_MODEL, timed)
    again = train(sonnets[:6000], run, None, timed)
    assert len(again.history) == len(first.history)  # no step recorded as a new epoch


def test_a_file_name_that_is_not_utf8_is_a_source_like_any_other(capsys, tmp_path):
    name = os.fsdecode(b"n\xffame.txt")
    src = tmp_path / name
    src.write_text("to be or not to be\n" * 10, encoding="utf-8")
    out = tmp_path / "corpus.txt"
    code, errors = _cli(capsys, "corpus", "text", src, "--out", out)
    assert code == 0 and errors == []
    note = json.loads((tmp_path / "corpus.txt.corpus.json").read_text(encoding="utf-8"))
    assert note["inputs"] and out.read_text(encoding="utf-8").startswith("to be")


@pytest.mark.parametrize("how", ["too small", "binary with --init-from"])
def test_a_training_refused_inside_the_lock_leaves_no_folder_behind(capsys, tmp_path, how):
    """A refusal after the lock is taken (the corpus read inside it) leaves nothing: not
    an empty run folder holding only its ``.lock``."""
    run = tmp_path / "new" / "run"
    if how == "too small":
        with pytest.raises(ValueError, match="too small"):
            train("tiny text", run, TINY_MODEL, TINY)
    else:
        blob = tmp_path / "blob.txt"
        blob.write_bytes(bytes(range(256)) * 64)
        code, errors = _cli(capsys, "train", blob, "--run-dir", run, "--init-from",
                            "shakespeare_char", "--epochs", "1")
        assert code == 2 and len(errors) == 1 and "binary" in errors[0]
    assert not (tmp_path / "new").exists()  # nor the parent it made for it


def test_a_refused_resume_keeps_the_run_folder(tmp_path, sonnets):
    run = tmp_path / "run"
    train(sonnets[:6000], run, TINY_MODEL, TINY)
    before = sorted(os.listdir(run))
    with pytest.raises(ValueError, match="cannot change when resuming"):
        train(sonnets[:6000], run, {**TINY_MODEL, "units": 16}, TINY)
    assert sorted(os.listdir(run)) == before


# --- the second cold round: each a class, each test failing before its fix ----------------

def test_a_run_folder_inside_another_run_is_refused_and_the_outer_run_resumes(capsys, tmp_path,
                                                                             corpus):
    outer = tmp_path / "outer"
    train(corpus.read_text(encoding="utf-8"), outer, TINY_MODEL, TINY)
    before = sorted(os.listdir(outer))
    for inner in (outer / "sub", outer / "a" / "b"):
        code, errors = _cli(capsys, "train", corpus, "--run-dir", inner, "--epochs", "1")
        assert code == 2 and len(errors) == 1 and "inside the run folder" in errors[0]
    assert sorted(os.listdir(outer)) == before
    train(corpus.read_text(encoding="utf-8"), outer, TINY_MODEL, {**TINY, "epochs": 2})
    assert RunDir(outer).read_state()["epoch"] == 2


def test_a_config_json_above_a_run_folder_is_not_a_run(tmp_path, corpus):
    (tmp_path / "config.json").write_text("{}")  # a project's own settings, say
    train(corpus.read_text(encoding="utf-8"), tmp_path / "run", TINY_MODEL, TINY)
    assert (tmp_path / "run" / "best.keras").exists()


def test_a_refused_training_removes_every_folder_it_made(capsys, tmp_path):
    run = tmp_path / "a" / "b" / "run"
    with pytest.raises(ValueError, match="too small"):
        train("tiny text", run, TINY_MODEL, TINY)
    assert os.listdir(tmp_path) == []


def test_the_run_folder_is_checked_before_the_corpus_is_read(capsys, tmp_path):
    blob = tmp_path / "blob.txt"
    blob.write_bytes(bytes(range(256)) * 64)  # would be refused as binary, when read
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    code, errors = _cli(capsys, "train", blob, "--run-dir", theirs)
    assert code == 2 and "is not a run folder" in errors[0]


@pytest.mark.parametrize("argv, says", [
    (["corpus", "text", "{corpus}", "--out", "{tmp}/c.txt", "--max-chars", "0"], "--max-chars"),
    (["corpus", "text", "{corpus}", "--out", "{tmp}/c.txt", "--max-chars", "-1"], "--max-chars"),
    (["corpus", "gutenberg", "abc", "--out", "{tmp}/c.txt"], "book ids are numbers"),
    (["train", "{corpus}", "--run-dir", "{tmp}/r", "--init-from", ""], "--init-from needs"),
    (["sample", "--out", ""], "an empty path"),
])
def test_empty_or_impossible_values_are_refused_not_ignored(capsys, tmp_path, corpus, argv, says):
    argv = [a.format(corpus=corpus, tmp=tmp_path) for a in argv]
    code, errors = _cli(capsys, *argv)
    assert code == 2 and len(errors) == 1 and says in errors[0]
    assert not (tmp_path / "c.txt").exists() and not (tmp_path / "r").exists()


def test_a_greedy_sample_says_greedy_not_a_temperature(capsys):
    assert cli.main(["sample", "--greedy", "-t", "2", "--length", "5"]) == 0
    heads = [x for x in capsys.readouterr().out.splitlines() if x.startswith("--- sample")]
    assert heads and all("greedy" in h and "temperature" not in h for h in heads)


def test_evaluate_scores_a_folder_as_train_reads_one(capsys, tmp_path, corpus):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text(corpus.read_text(encoding="utf-8")[:2000], encoding="utf-8")
    assert cli.main(["evaluate", "--zoo", "shakespeare_char", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] > 1000
