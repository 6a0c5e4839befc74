"""End-to-end: train on the sonnets fixture or a slice of tiny-shakespeare, resume after a
kill, reload and sample."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers.train import TrainConfig, train
from helpers.zoo import load_run

pytestmark = pytest.mark.core
ROOT = Path(__file__).resolve().parent.parent

SMALL = {"units": 48, "embed_dim": 16, "layers": 2, "dropout": 0.0}
FAST = {"seq_len": 64, "batch_size": 32, "steps_per_epoch": 50, "learning_rate": 1e-2,
        "warmup_steps": 5, "sample_length": 40, "sample_temperatures": (0.7,), "verbose": 0}


def test_validation_loss_falls_and_files_written(tmp_path, sonnets):
    r = train(sonnets, tmp_path, SMALL, {**FAST, "epochs": 3}, prompt="When")
    losses = [h["val_loss"] for h in r.history]
    assert len(losses) == 3
    assert losses[0] > losses[1] > losses[2], losses
    assert losses[-1] < 3.1, losses  # well below a uniform guess (ln 65 = 4.17 nats)
    for f in ("best.keras", "last.keras", "vocab.json", "history.csv", "history.json",
              "state.json", "config.json"):
        assert (tmp_path / f).exists(), f
    assert abs(r.history[-1]["val_bits"] - losses[-1] / 0.6931472) < 1e-3


def test_resume_continues_from_last_epoch(tmp_path, sonnets):
    text = sonnets
    train(text, tmp_path, SMALL, {**FAST, "epochs": 2})
    r = train(text, tmp_path, SMALL, {**FAST, "epochs": 3})
    assert [h["epoch"] for h in r.history] == [1, 2, 3]
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 3
    # the samples printed after each epoch are kept, one epoch's rows each, across the resume
    kept = json.loads((tmp_path / "samples.json").read_text())
    assert [r["epoch"] for r in kept] == [1, 2, 3]
    assert all(r["text"].startswith("When") or r["text"] for r in kept)


def test_killed_run_resumes(tmp_path, shakespeare):
    """Kill a training process mid-run (SIGKILL), rerun: it continues, nothing is corrupt."""
    corpus = tmp_path / "c.txt"
    corpus.write_text(shakespeare[:80_000])
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "helpers", "train", str(corpus), "--run-dir", str(run),
           "--units", "32", "--embed-dim", "8", "--seq-len", "32", "--batch-size", "16",
           "--steps-per-epoch", "15", "--epochs", "400"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            st = run / "state.json"
            if st.exists() and json.loads(st.read_text())["epoch"] >= 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail("training produced no checkpoint in time")
        time.sleep(0.3)  # now somewhere inside the next epoch
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait()
    done = json.loads((run / "state.json").read_text())["epoch"]
    cmd[cmd.index("400")] = str(done + 1)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"Resuming {run} after epoch {done}" in out.stdout
    assert json.loads((run / "state.json").read_text())["epoch"] == done + 1
    # a kill inside an atomic write may leave its temp file; the resumed run removes it
    assert not [f for f in run.iterdir()  # no temp files left (.lock is the run lock)
                if f.name.startswith(".") and f.name != ".lock"]


def test_resume_removes_temp_files_of_a_killed_write(tmp_path, shakespeare):
    text = shakespeare[:40_000]
    train(text, tmp_path, SMALL, {**FAST, "epochs": 1})
    stale = tmp_path / ".last.keras.k1ll3d.keras"
    stale.write_bytes(b"half a model")  # what SIGKILL during atomic_path leaves
    mine = tmp_path / ".notes.txt"
    mine.write_text("not ours")
    train(text, tmp_path, SMALL, {**FAST, "epochs": 2})
    assert not stale.exists() and mine.exists()


def test_save_load_in_new_process_samples_the_same(tmp_path, shakespeare):
    train(shakespeare[:40_000], tmp_path, SMALL, {**FAST, "epochs": 1})
    here = load_run(tmp_path).generate("ROMEO:", length=80, temperature=0.8, seed=11)[0].full
    code = ("import sys; from helpers.zoo import load_run; "
            "print(load_run(sys.argv[1]).generate('ROMEO:', length=80, temperature=0.8, "
            "seed=11)[0].full, end='')")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.endswith(here)


def test_bad_corpora(tmp_path):
    from helpers.textio import CorpusError

    with pytest.raises(CorpusError, match="empty"):
        train("", tmp_path / "a", SMALL, FAST)
    with pytest.raises(CorpusError, match="too small"):
        train("tiny text " * 10, tmp_path / "b", SMALL, FAST)
    assert not (tmp_path / "a" / "last.keras").exists()


def test_train_config_roundtrip():
    tc = TrainConfig(seq_len=99, sample_temperatures=(0.2, 0.4))
    assert TrainConfig.from_dict(tc.to_dict()) == tc


def test_mixed_precision_option(tmp_path, shakespeare):
    import keras

    r = train(shakespeare[:30_000], tmp_path, SMALL,
              {**FAST, "epochs": 1, "steps_per_epoch": 5, "precision": "mixed_bfloat16"})
    # the recurrent layers compute in bfloat16 (also after the reload from best.keras),
    # the logits stay float32 for a stable softmax
    assert r.model.get_layer("rnn_0").dtype_policy.compute_dtype == "bfloat16"
    assert r.model.get_layer("rnn_0").dtype_policy.variable_dtype == "float32"
    assert r.model.get_layer("logits").compute_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    with pytest.raises(ValueError, match="precision"):
        train(shakespeare[:30_000], tmp_path / "x", SMALL, {**FAST, "precision": "fp8"})


def test_carried_state_training_learns_saves_plain_model_and_resumes(tmp_path, shakespeare):
    text = shakespeare[:120_000]
    cfg = {**FAST, "epochs": 3, "carry_state": True, "steps_per_epoch": 40}
    r = train(text, tmp_path, SMALL, cfg, prompt="ROMEO:")
    losses = [h["val_loss"] for h in r.history]
    assert losses[0] > losses[-1] and losses[-1] < 3.1, losses
    for f in ("best.keras", "last.keras"):  # plain networks: any batch size, no carried state
        m = keras.models.load_model(tmp_path / f)
        assert m.name == "char_rnn" and m.predict(np.zeros((5, 7), "int32"), verbose=0).shape[:2] == (5, 7)
    assert load_run(tmp_path).generate("ROMEO:", length=20, seed=1)[0].text
    r2 = train(text, tmp_path, SMALL, {**cfg, "epochs": 4})
    assert [h["epoch"] for h in r2.history] == [1, 2, 3, 4]
    assert r2.history[-1]["val_loss"] < losses[0]


def test_carried_state_resets_at_each_pass(tmp_path, shakespeare, monkeypatch):
    from helpers.model import CarryStateModel

    resets = []
    monkeypatch.setattr(CarryStateModel, "reset_state", lambda self: resets.append(
        int(keras.ops.convert_to_numpy(self.optimizer.iterations))))
    from helpers.windows import StreamDataset

    served = []
    batch = StreamDataset.batch
    monkeypatch.setattr(StreamDataset, "batch", lambda self, step: served.append(step) or
                        batch(self, step))
    # 40,000 chars, 90% train: lanes of 36,000 // 16 = 2,250 tokens, 2249 // 64 = 35 steps
    train(shakespeare[:40_000], tmp_path, SMALL,
          {**FAST, "epochs": 2, "steps_per_epoch": 25, "batch_size": 16, "carry_state": True,
           "samples_per_epoch": 0})
    assert resets == [0, 35]
    # fit read the batches in order across the epoch boundary (after any peeks at the start)
    first = len(served) - 1 - served[::-1].index(0)
    assert served[first:first + 50] == list(range(50)), served[:60]


def test_carried_state_with_random_resets(tmp_path, shakespeare, monkeypatch):
    from helpers.model import CarryStateModel

    calls = []
    reset = CarryStateModel.reset_state
    monkeypatch.setattr(CarryStateModel, "reset_state",
                        lambda self, rows=None: calls.append(rows) or reset(self, rows))
    r = train(shakespeare[:60_000], tmp_path, SMALL,
              {**FAST, "epochs": 1, "steps_per_epoch": 30, "batch_size": 16, "carry_state": True,
               "carry_reset": 0.1, "samples_per_epoch": 0})
    partial = [rows for rows in calls if rows is not None]
    assert calls[0] is None and 10 < len(partial) <= 29  # P(no row of 16 reset) = 0.9**16
    assert all(0 < rows.sum() < 16 for rows in partial)
    assert r.history[0]["val_loss"] < 4.0
    with pytest.raises(ValueError, match="carry_reset"):
        train(shakespeare[:60_000], tmp_path / "x", SMALL, {**FAST, "carry_reset": 1.0})


def test_carried_state_and_data_parallel_do_not_mix(tmp_path, shakespeare):
    with pytest.raises(ValueError, match="carry_state"):
        train(shakespeare[:30_000], tmp_path, SMALL, {**FAST, "carry_state": True},
              data_parallel=True)
