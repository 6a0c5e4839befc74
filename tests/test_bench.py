"""The bench's harness (``bench/harness.py``): plans expand with the command line's
settings over them, bad settings are refused before any run starts, and a tiny plan trains,
scores and writes its JSON (in this process, and through the command in fresh ones)."""

import json
import subprocess
import sys

import pytest

from helpers.paths import ROOT

from .conftest import FIXTURES

BENCH = ROOT / "bench"
TINY = {"defaults": {"budget_s": 7, "score_windows": 32,
                     "corpus": str(FIXTURES / "sonnets.txt"),
                     "model": {"cell": "gru", "units": 8, "layers": 1, "embed_dim": 4,
                               "dropout": 0.0},
                     "train": {"batch_size": 4, "seq_len": 16, "steps_per_epoch": 3,
                               "warmup_steps": 0, "val_max_tokens": 200}},
        "runs": [{"name": "tiny"}, {"name": "tiny_lr", "train": {"learning_rate": 0.01}}]}


@pytest.fixture
def harness(monkeypatch):
    """The bench scripts import ``harness`` from their own folder, as when run there."""
    monkeypatch.syspath_prepend(str(BENCH))
    import harness

    return harness


def test_expand_merges_defaults_run_and_command_line(harness):
    specs = harness.expand(TINY, model={"units": 12}, train={"seq_len": 8}, budget=30)
    assert [s["name"] for s in specs] == ["tiny", "tiny_lr"]
    assert all(s["model"]["units"] == 12 and s["train"]["seq_len"] == 8 for s in specs)
    assert all(s["budget_s"] == 30 and s["model"]["cell"] == "gru" for s in specs)
    assert specs[1]["train"]["learning_rate"] == 0.01
    assert "learning_rate" not in specs[0]["train"]  # the package's default, not a copy
    for plan in sorted((BENCH / "plans").glob("*.json")):  # the committed plans are valid
        assert harness.expand(json.loads(plan.read_text()))


@pytest.mark.parametrize("bad, said", [
    ({"model": {"units": 0}}, "--units (ModelConfig.units)"),
    ({"train": {"lr": 0.1}}, "Unknown TrainConfig setting(s): lr"),
    ({"corpus": "no-such-corpus"}, "neither a text file nor one of the data registry's"),
    ({"budget_s": 2}, "budget_s must be a number of seconds > 5"),
])
def test_a_bad_run_is_refused_before_anything_starts(harness, bad, said):
    plan = {**TINY, "runs": [{"name": "bad", **bad}]}
    with pytest.raises(SystemExit, match="error: run bad: ") as e:
        harness.expand(plan)
    assert said in str(e.value)


def test_repeated_names_are_refused(harness):
    with pytest.raises(SystemExit, match="run names repeat"):
        harness.expand({**TINY, "runs": [{"name": "a"}, {"name": "a"}]})


def test_bench_cpu_flags_come_from_the_settings(harness):
    import bench_cpu

    args = bench_cpu.parser().parse_args([
        "--budgets", "40", "90", "--units", "64", "--lr", "0.02", "--carry-state",
        "--corpus", str(FIXTURES / "sonnets.txt")])
    specs = harness.expand(bench_cpu.plan_from_args(args))
    assert [(s["name"], s["budget_s"]) for s in specs] == [("cpu_40s", 40), ("cpu_90s", 90)]
    model, train = specs[0]["model"], specs[0]["train"]
    assert model["units"] == 64 and model["cell"] == "gru"  # a flag, the bench's default
    assert train["learning_rate"] == 0.02 and train["carry_state"] is True
    assert train["val_max_tokens"] == 20_000 and "max_minutes" not in train


def test_a_tiny_run_trains_and_scores_in_this_process(harness):
    import time

    import helpers.evaluate
    import helpers.train  # noqa: F401  (imported before the clock starts: Keras with it)

    spec = harness.expand(TINY)[0]
    res = harness.run_one(spec, time.time())
    assert res["name"] == "tiny" and res["steps"] > 0 and res["curve"]
    assert 0 < res["val_windows_32"] < 10 and 0 < res["val_state_carried"] < 10
    assert res["spec"]["model"]["units"] == 8 and res["params"] > 0
    assert res["startup_s"] < res["trained_s"]
    table = harness.table([res])
    assert "| tiny |" in table and f"{res['val_windows_32']:.3f}" in table


@pytest.mark.slow
def test_the_plan_command_runs_each_configuration_in_a_fresh_process(tmp_path):
    # a run whose Keras backend does not exist fails in its own process; the others go on
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({**TINY, "runs": [*TINY["runs"],
                                                 {"name": "broken", "backend": "nonsense"}]}))
    out = tmp_path / "results"
    p = subprocess.run([sys.executable, str(BENCH / "bench_runs.py"), str(plan),
                        "--out", str(out), "--only", "tiny", "broken", "--budget", "40",
                        "--units", "6"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "error: 1 of 2 runs failed" in p.stderr
    assert "finished broken (exit 1)" in p.stdout and "nonsense" in (
        out / "logs" / "broken.log").read_text()
    (written,) = sorted(out.glob("*/*.json"))  # tiny's: --only left tiny_lr out
    run = json.loads(written.read_text())
    assert run["name"] == "tiny" and run["steps"] > 0
    assert run["spec"]["model"]["units"] == 6 and run["spec"]["budget_s"] == 40
    assert "| tiny |" in p.stdout and (out / "logs" / "tiny.log").exists()
