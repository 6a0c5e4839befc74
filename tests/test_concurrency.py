"""Two trainings into one run folder: the second is refused, and the first is unharmed.

The first training is a real one in its own process; at the end of its first epoch it
holds a checkpoint write open (the temporary ``.best.keras.*`` file that
:func:`helpers.textio.atomic_path` renames into place) until the test says go. The second
is the command line, started into the same folder meanwhile. It must be turned away
(exit 2, one ``error:`` line) without touching the folder: a refused training that first
"cleaned stale temporary files" used to delete the live one's checkpoint in flight, and
the first training died at that save.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.core
ROOT = Path(__file__).resolve().parent.parent

FIRST = r"""
import sys, time
from pathlib import Path

import keras

from helpers.textio import atomic_path
from helpers.train import train

run, ready, go, corpus = map(Path, sys.argv[1:5])


class HoldACheckpointOpen(keras.callbacks.Callback):
    # after the run's own callbacks: best.keras is written again, and the write is held
    # open (its temporary file on disk) until the test has started the second training
    def on_epoch_end(self, epoch, logs=None):
        if epoch:
            return
        with atomic_path(run / "best.keras") as tmp:
            self.model.save(tmp)
            ready.write_text(str(tmp))
            deadline = time.time() + 90  # never hang, whatever the test does
            while not go.exists() and time.time() < deadline:
                time.sleep(0.05)


train(corpus.read_text(), run, {"units": 16, "embed_dim": 8, "layers": 1, "dropout": 0.0},
      {"seq_len": 16, "batch_size": 8, "steps_per_epoch": 4, "epochs": 2, "warmup_steps": 1,
       "samples_per_epoch": 0, "verbose": 0}, callbacks=[HoldACheckpointOpen()])
print("first done")
"""


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.time() + seconds
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the first training ended early ({proc.returncode}): {err[-2000:]}")
        if time.time() > deadline:
            pytest.fail("the first training did not reach its first checkpoint")
        time.sleep(0.05)


def test_second_training_into_a_busy_run_folder_is_refused_and_harms_nothing(tmp_path, sonnets):
    corpus = tmp_path / "sonnets.txt"
    corpus.write_text(sonnets, encoding="utf-8")
    run, ready, go = tmp_path / "run", tmp_path / "ready", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TEXTGEN_CORPUS_CACHE": "0"}
    first = subprocess.Popen([sys.executable, "-c", FIRST, str(run), str(ready), str(go),
                              str(corpus)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(ready, first, 120)
        in_flight = Path(ready.read_text())
        assert in_flight.exists() and in_flight.parent == run
        before = sorted(p.name for p in run.iterdir())
        second = subprocess.run(
            [sys.executable, "-m", "helpers", "train", str(corpus), "--run-dir", str(run),
             "--units", "16", "--embed-dim", "8", "--layers", "1", "--seq-len", "16",
             "--epochs", "2", "--fresh"],  # --fresh would move the first one's files away
            env=env, capture_output=True, text=True, timeout=120)
        errors = [x for x in second.stderr.splitlines() if x.startswith("error:")]
        assert second.returncode == 2, second.stderr[-2000:]
        assert len(errors) == 1 and "in use by another training" in errors[0], second.stderr
        assert "Traceback" not in second.stderr
        # nothing in the folder was touched: the checkpoint in flight is still there
        assert in_flight.exists()
        assert sorted(p.name for p in run.iterdir()) == before
        assert not (run / "previous").exists()
    finally:
        go.write_text("go")
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-3000:]
    assert "first done" in out

    import keras

    model = keras.saving.load_model(run / "best.keras")
    assert model.get_layer("embedding").output_dim == 8
    assert (run / "state.json").read_text().count('"epoch": 2') == 1
