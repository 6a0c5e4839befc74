"""The run folder: one training at a time, refusals instead of silent fresh starts, nothing
overwritten, settings checked, and one error line from the command line."""

import errno
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import cli
from helpers.rundir import RunDir, RunDirError, RunLocked
from helpers.settings import ModelConfig, TrainConfig, values_from_args
from helpers.train import train

pytestmark = pytest.mark.core
ROOT = Path(__file__).resolve().parent.parent

TINY = {"units": 16, "embed_dim": 8, "layers": 1, "dropout": 0.0}
QUICK = {"seq_len": 32, "batch_size": 16, "steps_per_epoch": 5, "learning_rate": 1e-2,
         "warmup_steps": 2, "samples_per_epoch": 0, "verbose": 0}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, sonnets):
    """A small run of three epochs, copied by each test that damages it."""
    d = tmp_path_factory.mktemp("run") / "run"
    train(sonnets, d, TINY, {**QUICK, "epochs": 3})
    return d


@pytest.fixture
def run(tmp_path, finished_run):
    d = tmp_path / "run"
    shutil.copytree(finished_run, d)
    return d


def _cli(capsys, *argv) -> tuple[int, str]:
    """Exit code and the ``error:`` line(s) of stderr (progress bars and notes aside);
    an expected failure must give exactly one, and no traceback."""
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, "".join(line + "\n" for line in err.replace("\r", "\n").splitlines()
                         if line.startswith("error:"))


def test_second_training_into_the_same_folder_is_refused_with_the_holders_pid(tmp_path, sonnets):
    d = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from helpers.rundir import RunDir\n"
         "with RunDir(sys.argv[1]).lock():\n    print('held', flush=True); time.sleep(60)", str(d)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked, match=rf"in use by another training \(process {holder.pid}\)"):
            train(sonnets, d, TINY, {**QUICK, "epochs": 1})
        assert not (d / "best.keras").exists()  # the refused run wrote no model
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its process (no stale lock after a kill): now it trains
    r = train(sonnets, d, TINY, {**QUICK, "epochs": 1})
    assert (d / "best.keras").exists() and len(r.history) == 1


def test_lock_is_exclusive_within_one_process_too(tmp_path):
    rd = RunDir(tmp_path / "r")
    with rd.lock():
        with pytest.raises(RunLocked):
            with RunDir(tmp_path / "r").lock():
                pass
    with rd.lock():  # released on exit
        pass


def test_state_without_last_checkpoint_is_refused_and_best_is_kept(run, sonnets):
    best_before = (run / "best.keras").read_bytes()
    (run / "last.keras").unlink()
    with pytest.raises(RunDirError, match=r"last\.keras is missing.*--fresh.*--resume-from best"):
        train(sonnets, run, TINY, {**QUICK, "epochs": 5})
    assert (run / "best.keras").read_bytes() == best_before


def test_truncated_last_checkpoint_is_named_with_the_ways_on(run, sonnets):
    data = (run / "last.keras").read_bytes()
    (run / "last.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunDirError, match=r"last\.keras is damaged.*--fresh"):
        train(sonnets, run, TINY, {**QUICK, "epochs": 5})


def test_truncated_state_file_is_named(run, sonnets):
    text = (run / "state.json").read_text()
    (run / "state.json").write_text(text[: len(text) // 2])
    with pytest.raises(RunDirError, match=r"state\.json is damaged"):
        train(sonnets, run, TINY, {**QUICK, "epochs": 5})


def test_last_checkpoint_without_state_is_refused(run, sonnets):
    (run / "state.json").unlink()
    with pytest.raises(RunDirError, match=r"state\.json is missing"):
        train(sonnets, run, TINY, {**QUICK, "epochs": 5})


def test_resume_from_best_continues_at_the_best_epoch(run, sonnets):
    hist = json.loads((run / "history.json").read_text())
    best_row = min(hist, key=lambda h: h["val_loss"])
    (run / "last.keras").unlink()
    r = train(sonnets, run, TINY, {**QUICK, "epochs": best_row["epoch"] + 1}, resume_from="best")
    assert [h["epoch"] for h in r.history] == list(range(1, best_row["epoch"] + 2))
    assert r.history[: best_row["epoch"]] == [h for h in hist if h["epoch"] <= best_row["epoch"]]


def test_fresh_start_moves_the_old_run_aside(run, sonnets):
    best_before = (run / "best.keras").read_bytes()
    train(sonnets, run, TINY, {**QUICK, "epochs": 1}, resume=False)
    kept = list((run / "previous").iterdir())
    assert len(kept) == 1
    assert (kept[0] / "best.keras").read_bytes() == best_before
    assert json.loads((kept[0] / "state.json").read_text())["epoch"] == 3
    assert json.loads((run / "state.json").read_text())["epoch"] == 1


def test_swapped_vocabulary_is_refused_on_resume(run, sonnets):
    v = json.loads((run / "vocab.json").read_text())
    v["tokens"][5], v["tokens"][6] = v["tokens"][6], v["tokens"][5]
    (run / "vocab.json").write_text(json.dumps(v))
    with pytest.raises(RunDirError, match=r"vocab\.json does not match"):
        train(sonnets, run, TINY, {**QUICK, "epochs": 5})
    with pytest.raises(RunDirError, match="fingerprint"):
        RunDir(run).read_vocab()


def test_repr_says_where_the_run_stands(run):
    assert "epoch 3" in repr(RunDir(run))


# --- settings -------------------------------------------------------------------------
def test_unknown_setting_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown TrainConfig setting\(s\): lr\. Valid: seq_len"):
        TrainConfig.from_dict({"lr": 0.01})
    with pytest.raises(ValueError, match=r"Unknown ModelConfig setting\(s\): unit\."):
        ModelConfig.from_dict({"vocab_size": 10, "unit": 5})
    with pytest.raises(ValueError, match="schedule.* must be one of"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="cosine-time' needs max_minutes"):
        TrainConfig(schedule="cosine-time")


def test_every_setting_is_a_flag_with_the_dataclass_default():
    args = cli.build_parser().parse_args(["train", "x.txt"])
    assert TrainConfig.from_dict(values_from_args(TrainConfig, args)) == TrainConfig()
    mc = values_from_args(ModelConfig, args)
    assert ModelConfig(vocab_size=10, **mc) == ModelConfig(vocab_size=10)
    args = cli.build_parser().parse_args(
        ["train", "x.txt", "--lr", "0.01", "--warmup-steps", "7", "--carry-state", "--cell", "gru",
         "--sample-temperatures", "0.3", "0.9"])
    tc = TrainConfig.from_dict(values_from_args(TrainConfig, args))
    assert (tc.learning_rate, tc.warmup_steps, tc.carry_state) == (0.01, 7, True)
    assert tc.sample_temperatures == (0.3, 0.9)
    assert values_from_args(ModelConfig, args)["cell"] == "gru"


# --- the command line: one error line, nothing half-written -----------------------------
def test_cli_run_dir_under_a_file_is_one_error_line(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("to be or not to be " * 200)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, err = _cli(capsys, "train", str(corpus), "--run-dir", str(blocker / "run"))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "afile is a file, not a folder" in err and "Traceback" not in err


def test_cli_disk_full_is_one_error_line_and_nothing_half_written(tmp_path, capsys, monkeypatch,
                                                                   sonnets):
    import helpers.rundir as rundir_mod

    corpus = tmp_path / "c.txt"
    corpus.write_text(sonnets)

    def full(self, model, which):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.model_file(which)))

    monkeypatch.setattr(rundir_mod.RunDir, "save_model", full)
    d = tmp_path / "run"
    code, err = _cli(capsys, "train", str(corpus), "--run-dir", str(d), "--units", "8",
                     "--layers", "1", "--embed-dim", "4", "--steps-per-epoch", "2",
                     "--epochs", "1", "--samples-per-epoch", "0", "--seq-len", "32")
    assert code == 2
    assert err.startswith("error: cannot use ") and err.count("\n") == 1
    assert "best.keras: No space left on device. Free some disk space" in err
    assert not [f for f in d.iterdir() if f.name.startswith(".") and f.name != ".lock"]
    assert not (d / "state.json").exists()  # the epoch was never committed


def test_cli_locked_run_is_one_error_line(tmp_path, capsys, sonnets):
    corpus = tmp_path / "c.txt"
    corpus.write_text(sonnets)
    with RunDir(tmp_path / "run").lock():
        code, err = _cli(capsys, "train", str(corpus), "--run-dir", str(tmp_path / "run"))
    assert code == 2 and err.count("\n") == 1
    assert "in use by another training" in err


def test_error_line_never_shows_a_password():
    e = RunDirError("could not reach http://ann:hunter2@example.org/x (refused)")
    line = cli.error_line(e)
    assert "hunter2" not in line and "ann:***@example.org" in line


def test_lock_holder_survives_a_slow_start(tmp_path):
    """The pid in the lock file is written while holding the lock, so a refused second
    run reads a complete pid, not an empty file."""
    rd = RunDir(tmp_path / "r")
    with rd.lock():
        time.sleep(0.01)
        assert (tmp_path / "r" / ".lock").read_text().strip().isdigit()
