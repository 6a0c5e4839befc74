"""The measured recipes: valid settings, a measurement that exists and says what the
recipe claims, and a --recipe flag whose values the command line can override."""

import json
import re

import pytest

from helpers import recipes
from helpers.paths import ROOT
from helpers.settings import ModelConfig, TrainConfig

from .conftest import FIXTURES, environ


@pytest.mark.parametrize("name", list(recipes.RECIPES))
def test_recipes_are_valid_settings_backed_by_a_measurement(name):
    r = recipes.get(name)
    ModelConfig.from_dict({**r.model, "vocab_size": 65})
    tc = TrainConfig.from_dict(r.train)
    assert tc.schedule == "cosine-time" and tc.max_minutes
    assert name in repr(r)
    # the measurement the recipe quotes is a file here, and its number is that file's
    files = re.findall(r"\b((?:bench|zoo)/[\w./-]+?)\)?(?:[,;)]|$| )", r.measured)
    assert files, r.measured
    path = ROOT / files[0].rstrip(".")
    assert path.exists(), path
    quoted = float(re.search(r"(\d\.\d{3}) nats/char", r.measured).group(1))
    if path.suffix == ".json" and path.parent.name != "bench":  # a bench_runs.py run
        run = json.loads(path.read_text())
        assert round(run["val_windows_160"], 3) == quoted
        assert r.backend in (None, run["backend"])  # a backend it names is the run's
        assert run["spec"]["model"] == {**run["spec"]["model"], **r.model}
        assert run["spec"]["train"] == {**run["spec"]["train"], **{
            k: v for k, v in r.train.items() if k not in ("epochs", "max_minutes", "schedule")}}


def test_unknown_recipe_names_the_others():
    with pytest.raises(KeyError, match="cpu-1min"):
        recipes.get("cpu-2min")


def test_cli_recipe_then_flags(tmp_path, capsys):
    from helpers.cli import main

    f = tmp_path / "sonnets.txt"
    f.write_bytes((FIXTURES / "sonnets.txt").read_bytes())
    run = tmp_path / "run"
    with environ(TEXTGEN_ENCODED=str(tmp_path / "enc")):
        assert main(["train", str(f), "--recipe", "cpu-1min", "--run-dir", str(run),
                     "--units", "16", "--max-minutes", "0.05", "--steps-per-epoch", "2",
                     "--samples-per-epoch", "0"]) == 0
    assert "# recipe cpu-1min" in capsys.readouterr().err
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["units"] == 16                      # the flag wins
    assert cfg["model"]["cell"] == "gru" and cfg["model"]["dropout"] == 0.0   # the recipe's
    assert cfg["train"]["learning_rate"] == 1e-2 and cfg["train"]["batch_size"] == 32
    assert cfg["train"]["max_minutes"] == 0.05 and cfg["train"]["steps_per_epoch"] == 2
    assert main(["train", str(f), "--recipe", "cpu-1min", "--init-from", "novels_char"]) == 2
    assert capsys.readouterr().err.startswith("error: --recipe and --init-from")


def test_adapt_flags_win_and_the_recipe_stays_as_it_was():
    r = recipes.get("cpu-1min")
    before = (dict(r.model), dict(r.train))
    mc, tc, _ = recipes.adapt(r, {"units": 16}, {"batch_size": 8})
    assert mc == {**r.model, "units": 16} and tc == {**r.train, "batch_size": 8}
    assert (r.model, r.train) == before


def test_adapt_notes_another_backend_and_avoids_emulated_bfloat16(monkeypatch):
    import keras

    from helpers import machine

    other = "jax" if keras.backend.backend() != "jax" else "torch"
    r = recipes.Recipe("r", "a test recipe", train={"precision": "mixed_bfloat16"},
                       backend=other)
    monkeypatch.setattr(machine, "has_gpu", lambda: False)
    monkeypatch.setattr(machine, "bf16_matrix_units", lambda: False)
    _, tc, notes = recipes.adapt(r, {}, {})
    assert len(notes) == 2 and f"KERAS_BACKEND={other}" in notes[0]
    assert tc["precision"] == "float32" and "emulated" in notes[1]
    # a precision asked for (on the command line) is kept, whatever the CPU
    _, tc, notes = recipes.adapt(r, {}, {"precision": "mixed_bfloat16"})
    assert len(notes) == 1 and tc["precision"] == "mixed_bfloat16"
    # where the hardware has the units (or a GPU trains it), the recipe stands, silently
    monkeypatch.setattr(machine, "bf16_matrix_units", lambda: True)
    same = recipes.Recipe("s", "same backend", train={"precision": "mixed_bfloat16"},
                          backend=keras.backend.backend())
    assert recipes.adapt(same) == ({}, {"precision": "mixed_bfloat16"}, [])
