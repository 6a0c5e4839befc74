"""Settings that make no sense are refused when constructed, by the Python API and the
command line alike, before any work or write; a resumed run applies what it can and
records exactly that, or refuses naming the setting.

The property tests feed arbitrary values (NaN, infinities, huge and negative numbers,
text) to every numeric setting and flag: each is accepted within its range or refused
with one :class:`~helpers.settings.SettingsError` (one ``error:`` line, exit 2) that
names it; nothing else may happen. Values that once got through stay as examples.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import cli
from helpers.errors import TextgenError
from helpers.settings import (
    ModelConfig,
    SampleConfig,
    SettingsError,
    TrainConfig,
    VocabConfig,
)

pytestmark = pytest.mark.core

PROPS = settings(max_examples=60, deadline=None)
# capsys is read (and so emptied) by each example itself
CLI_PROPS = settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


def _numeric_fields(cls, kind: str) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("choices") is None
            and not isinstance(f.default, (bool, tuple))
            and kind in (f.type if isinstance(f.type, str) else str(f.type))]


def _in_range(f: dataclasses.Field, v) -> bool:
    m = f.metadata
    lo, hi = m.get("lo"), m.get("hi")
    return (math.isfinite(v)
            and (lo is None or (v > lo if m.get("lo_open") else v >= lo))
            and (hi is None or (v < hi if m.get("hi_open") else v <= hi)))


def _make(cls, name, value):
    base = {"vocab_size": 10} if cls is ModelConfig else {}
    return cls(**{**base, name: value})


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


CLASSES = (ModelConfig, TrainConfig, VocabConfig, SampleConfig)
FLOATS = [(c, f) for c in CLASSES for f in _numeric_fields(c, "float")]
INTS = [(c, f) for c in CLASSES for f in _numeric_fields(c, "int")]


def _combined(e: SettingsError) -> bool:
    return any(w in str(e) for w in ("tokens", "weights"))


@PROPS
@given(st.sampled_from(FLOATS), st.floats(allow_nan=True, allow_infinity=True))
@example((TrainConfig, next(f for c, f in FLOATS if f.name == "learning_rate")), -1.0)
@example((TrainConfig, next(f for c, f in FLOATS if f.name == "learning_rate")), math.nan)
@example((TrainConfig, next(f for c, f in FLOATS if f.name == "clipnorm")), -1.0)
@example((TrainConfig, next(f for c, f in FLOATS if f.name == "weight_decay")), -0.5)
def test_every_float_setting_is_in_range_or_refused_naming_it(field_of, value):
    cls, f = field_of
    try:
        obj = _make(cls, f.name, value)
    except SettingsError as e:
        assert isinstance(e, TextgenError) and isinstance(e, ValueError)
        assert f.name in str(e) and not _in_range(f, value)
        return
    assert _in_range(f, value) and getattr(obj, f.name) == value


@PROPS
@given(st.sampled_from(INTS), st.integers(min_value=-(10**15), max_value=10**15))
@example((TrainConfig, next(f for c, f in INTS if f.name == "warmup_steps")), -1)
@example((TrainConfig, next(f for c, f in INTS if f.name == "patience")), -1)
@example((VocabConfig, next(f for c, f in INTS if f.name == "max_words")), 0)
@example((ModelConfig, next(f for c, f in INTS if f.name == "units")), 1_000_000_000)
@example((SampleConfig, next(f for c, f in INTS if f.name == "num")), 100_000_000)
@example((TrainConfig, next(f for c, f in INTS if f.name == "seq_len")), 62_501)
@example((ModelConfig, next(f for c, f in INTS if f.name == "layers")), 16)
def test_every_whole_number_setting_is_in_range_or_refused_naming_it(field_of, value):
    cls, f = field_of
    try:
        obj = _make(cls, f.name, value)
    except SettingsError as e:
        assert f.name in str(e) or _flag(f) in str(e)
        # in range, but too much together with the other settings (sample tokens, tokens
        # a step, weights of the network), which the message names by their flags
        assert not _in_range(f, value) or _combined(e)
        return
    assert _in_range(f, value) and getattr(obj, f.name) == value


@pytest.mark.parametrize("cls, name, value", [
    (TrainConfig, "epochs", 2.0),          # a float is not a whole number
    (TrainConfig, "epochs", True),         # nor is a bool
    (ModelConfig, "dropout", "0.1"),       # text is not a number
    (TrainConfig, "sample_temperatures", (0.5, math.nan)),
    (TrainConfig, "sample_temperatures", (0.0,)),
    (TrainConfig, "carry_state", 1),
    (TrainConfig, "verbose", True),
    (TrainConfig, "seed", None),
])
def test_wrong_types_are_refused(cls, name, value):
    with pytest.raises(SettingsError, match=name):
        _make(cls, name, value)


def test_sample_budget_counts_samples_times_length():
    SampleConfig(num=1000, length=2000)
    with pytest.raises(SettingsError, match="--num x --length"):
        SampleConfig(num=1000, length=100_000)
    with pytest.raises(SettingsError, match="samples-per-epoch"):
        TrainConfig(samples_per_epoch=1000, sample_length=100_000)


# --- the command line: every value a user may type ---------------------------------------
TRAIN_FLAGS = {_flag(f): f for c, f in FLOATS + INTS
               if c in (ModelConfig, TrainConfig, VocabConfig) and f.metadata.get("cli", True)}
SAMPLE_FIELDS = {_flag(f): f for f in dataclasses.fields(SampleConfig)
                 if f.name not in ("greedy",)}
SAMPLE_FLAGS = sorted(SAMPLE_FIELDS)
TYPED = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.integers(-(10**12), 10**12).map(str),
                  st.text(alphabet="0123456789.-+eEinfa", min_size=1, max_size=8))


def _run_cli(capsys, argv) -> tuple[int, list[str]]:
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse: a value that is not a number at all
        code = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [x for x in err.splitlines() if "error:" in x]


@CLI_PROPS
@given(flag=st.sampled_from(sorted(TRAIN_FLAGS)), value=TYPED)
@example(flag="--lr", value="-1")
@example(flag="--lr", value="nan")
@example(flag="--max-words", value="0")
@example(flag="--units", value="1000000000")
@example(flag="--warmup-steps", value="-5")
@example(flag="--sample-length", value="0")
def test_train_flags_refuse_before_any_work(capsys, tmp_path_factory, flag, value):
    """A bad value is refused before the corpus is read or the run folder made: with a
    corpus that is not there, the error names the flag when the value is bad, and the
    missing corpus only when every setting is fine."""
    run = tmp_path_factory.getbasetemp() / "flags-run"
    code, errors = _run_cli(capsys, ["train", str(run / "missing.txt"), "--run-dir", str(run),
                                     f"{flag}={value}"])
    assert code == 2 and len(errors) == 1, errors
    assert not run.exists()
    if _out_of_range(TRAIN_FLAGS[flag], value):
        assert flag in errors[0] and "missing.txt" not in errors[0], errors
    elif "missing.txt" not in errors[0]:
        assert flag in errors[0], errors


def _out_of_range(f: dataclasses.Field, typed: str) -> bool:
    """True when ``typed`` is a number of the flag's type (so argparse takes it) that lies
    outside the field's range."""
    kind = float if "float" in str(f.type) else int
    try:
        value = kind(typed)
    except ValueError:
        return False
    return not _in_range(f, value)


@pytest.mark.parametrize("flag, value", [
    ("--lr", "-1"), ("--lr", "nan"), ("--lr", "inf"), ("--lr", "0"), ("--warmup-steps", "-1"),
    ("--clipnorm", "-1"), ("--patience", "-1"), ("--weight-decay", "-0.1"),
    ("--max-words", "0"), ("--units", "1000000000"), ("--embed-dim", "0"),
    ("--seq-len", "10000000"), ("--sample-length", "0"), ("--sample-temperatures", "0"),
    ("--samples-per-epoch", "-1"), ("--max-minutes", "-1"), ("--min-count", "0"),
])
def test_bad_train_flags_are_refused_naming_them_before_the_corpus_is_read(capsys, tmp_path,
                                                                          flag, value):
    corpus = tmp_path / "c.txt"
    corpus.write_text("to be or not to be " * 200)
    run = tmp_path / "run"
    code, errors = _run_cli(capsys, ["train", str(corpus), "--run-dir", str(run),
                                     "--epochs", "1", "--steps-per-epoch", "1",
                                     f"{flag}={value}"])
    assert code == 2 and len(errors) == 1 and flag in errors[0], errors
    assert not run.exists()


@CLI_PROPS
@given(flag=st.sampled_from(SAMPLE_FLAGS), value=TYPED)
@example(flag="--num", value="100000000")
@example(flag="--length", value="100000000")
@example(flag="--temperature", value="nan")
@example(flag="--top-p", value="1.5")
def test_sample_flags_refuse_before_reading_a_model(capsys, flag, value):
    code, errors = _run_cli(capsys, ["sample", "--zoo", "no_such_model", f"{flag}={value}"])
    assert code == 2 and len(errors) == 1, errors
    if _out_of_range(SAMPLE_FIELDS[flag], value):
        assert flag in errors[0] and "no_such_model" not in errors[0], errors
    else:
        assert "no_such_model" in errors[0] or flag in errors[0], errors


# --- settings are checked before any work, also the samples printed after each epoch ---
@pytest.mark.parametrize("bad", [{"learning_rate": -1.0}, {"learning_rate": math.nan},
                                 {"sample_temperatures": (0.0,)}, {"sample_length": 0},
                                 {"warmup_steps": -1}, {"clipnorm": -1.0}])
def test_train_refuses_bad_settings_before_touching_the_run_folder(tmp_path, bad):
    from helpers.train import train

    with pytest.raises(SettingsError):
        train("to be or not to be " * 200, tmp_path / "run", {"units": 8}, bad)
    assert not (tmp_path / "run").exists()


def test_train_refuses_a_bad_model_setting_before_touching_the_run_folder(tmp_path):
    from helpers.train import train

    with pytest.raises(SettingsError, match="--units"):
        train("to be or not to be " * 200, tmp_path / "run", {"units": 10**9}, {})
    assert not (tmp_path / "run").exists()


# --- resuming: apply what can change, record exactly that, or refuse naming it ----------
TINY_MODEL = {"units": 8, "embed_dim": 4, "layers": 1, "dropout": 0.0}
TINY = {"seq_len": 16, "batch_size": 8, "steps_per_epoch": 3, "epochs": 1, "warmup_steps": 1,
        "learning_rate": 5e-3, "samples_per_epoch": 0, "verbose": 0}


@pytest.fixture
def one_epoch_run(tmp_path, sonnets):
    from helpers.train import train

    run = tmp_path / "run"
    train(sonnets[:6000], run, TINY_MODEL, TINY)
    return run


def test_resume_refuses_an_optimizer_setting_it_cannot_apply(one_epoch_run, sonnets):
    from helpers.train import train

    before = (one_epoch_run / "config.json").read_text()
    with pytest.raises(SettingsError, match=r"--lr \(learning_rate\) cannot change"):
        train(sonnets[:6000], one_epoch_run, TINY_MODEL,
              {**TINY, "epochs": 2, "learning_rate": 0.5, "schedule": "constant"})
    with pytest.raises(SettingsError, match=r"--units \(units\) cannot change"):
        train(sonnets[:6000], one_epoch_run, {**TINY_MODEL, "units": 16}, {**TINY, "epochs": 2})
    assert (one_epoch_run / "config.json").read_text() == before
    assert json.loads((one_epoch_run / "state.json").read_text())["epoch"] == 1


def test_resume_applies_what_was_asked_keeps_the_rest_and_records_it(one_epoch_run, sonnets,
                                                                      capsys):
    """The command line asks for only what was typed: a resume with ``--epochs 2`` keeps
    the run's own window length, batch size and learning rate (not the defaults), and
    ``config.json`` records what the resumed run trained with."""
    code = cli.main(["train", str(_corpus(one_epoch_run, sonnets)), "--run-dir",
                     str(one_epoch_run), "--epochs", "2", "--no-carry-state"])
    assert code == 0, capsys.readouterr().err[-2000:]
    recorded = json.loads((one_epoch_run / "config.json").read_text())["train"]
    assert recorded["epochs"] == 2
    for name in ("seq_len", "batch_size", "steps_per_epoch", "learning_rate", "warmup_steps"):
        assert recorded[name] == TINY[name], name
    assert json.loads((one_epoch_run / "state.json").read_text())["epoch"] == 2
    rows = json.loads((one_epoch_run / "history.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2]


def _corpus(run, sonnets):
    path = run.parent / "sonnets.txt"
    path.write_text(sonnets[:6000], encoding="utf-8")
    return path


def test_resume_applies_a_new_learning_rate_to_a_constant_schedule(tmp_path, sonnets):
    """A "constant" run keeps its rate in a variable of the optimizer: a resumed run sets
    it, trains with it (the history's lr column) and records it."""
    from helpers.train import train

    run = tmp_path / "run"
    first = {**TINY, "schedule": "constant"}
    train(sonnets[:6000], run, TINY_MODEL, first)
    train(sonnets[:6000], run, None, {"epochs": 2, "learning_rate": 1e-3})
    rows = json.loads((run / "history.json").read_text())
    assert [r["lr"] for r in rows] == pytest.approx([5e-3, 1e-3])
    recorded = json.loads((run / "config.json").read_text())["train"]
    assert recorded["learning_rate"] == 1e-3 and recorded["schedule"] == "constant"
    assert recorded["seq_len"] == TINY["seq_len"]


def test_resume_with_a_damaged_config_is_one_error(one_epoch_run, sonnets):
    from helpers.rundir import RunDirError
    from helpers.train import train

    (one_epoch_run / "config.json").write_text('{"train": [1, 2]}')
    with pytest.raises(RunDirError, match="config.json is damaged"):
        train(sonnets[:6000], one_epoch_run, TINY_MODEL, {**TINY, "epochs": 2})
