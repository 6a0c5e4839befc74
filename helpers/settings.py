"""Settings dataclasses, stated once: their dictionaries and their command-line flags.

:class:`~helpers.model.ModelConfig` and :class:`~helpers.train.TrainConfig` are the only
place a setting, its default, its allowed values and its help are written. This module
turns them into dictionaries and back (:func:`from_dict`, refusing unknown keys: a typo
such as ``"lr"`` must not be ignored) and into ``argparse`` flags (:func:`add_flags`),
so the CLI and the bench scripts never retype a default or a choice list.

A field says more about itself through ``dataclasses.field(metadata=...)``:
``help`` (the flag's help), ``choices`` (allowed values, checked by ``check_choices``
from ``__post_init__`` and by argparse), ``flag`` (a shorter flag than the name gives,
e.g. ``--lr``), ``cli=False`` (no flag), and its range: ``lo``/``hi`` (bounds,
``lo_open``/``hi_open`` to exclude them). :func:`check_fields` checks every field of a
settings object against them (type, a finite number, the range, the choices) when it is
constructed, so the command line, the Python API (``TrainConfig(...)``, ``train()``) and
a resumed run all refuse a setting that makes no sense before any work or write, with one
:class:`SettingsError` that names the field and its flag. The upper bounds are sanity
limits (far above what this project's machines train), there so that a typo such as
``--units 1000000000`` is one clear message, not a backend traceback or a machine out of
memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from .errors import TextgenError

__all__ = ["ModelConfig", "TrainConfig", "VocabConfig", "SampleConfig", "SettingsError",
           "from_dict", "add_flags", "values_from_args", "check_choices", "check_fields",
           "RESUME_FIXED", "LR_SETTINGS", "resume_config"]


class SettingsError(TextgenError, ValueError):
    """A setting of the wrong type, out of its range or not among its choices; the
    message names the field and its command-line flag."""


CELLS = ("lstm", "gru")
# recurrent state tensors per layer: an LSTM carries h and c, a GRU only h (the Keras
# model, the NumPy engine and the carried-state trainer all read this one table)
STATES_PER_CELL = {"lstm": 2, "gru": 1}


def check_choices(obj: Any) -> None:
    """Raise :class:`SettingsError` for a field whose value is not among its ``choices``."""
    for f in dataclasses.fields(obj):
        choices = f.metadata.get("choices")
        value = getattr(obj, f.name)
        # ``True == 1``: a bool is not the choice 1
        if choices is not None and (value not in choices or isinstance(value, bool)):
            raise SettingsError(f"{_named(obj, f)} must be one of "
                                f"{', '.join(map(str, choices))}; not {value!r}")


def _named(obj: Any, f: dataclasses.Field) -> str:
    """How an error names a field: its flag, and where it lives (``--lr
    (TrainConfig.learning_rate)``), so both a command-line user and a caller of the
    Python API recognise it."""
    where = f"{type(obj).__name__}.{f.name}"
    return f"{_flag(f)} ({where})" if f.metadata.get("cli", True) else where


def _range_words(f: dataclasses.Field, kind: type) -> str:
    m = f.metadata
    lo, hi = m.get("lo"), m.get("hi")
    what = "a whole number" if kind is int else "a finite number"
    if lo is not None and hi is not None:
        if kind is int:
            return f"{what} from {lo:,} to {hi:,}"
        return (f"{what} in {'(' if m.get('lo_open') else '['}{lo}, {hi}"
                f"{')' if m.get('hi_open') else ']'}")
    if lo is not None:
        return f"{what} {'>' if m.get('lo_open') else '>='} {lo}"
    if hi is not None:
        return f"{what} {'<' if m.get('hi_open') else '<='} {hi}"
    return what


def _check_scalar(obj: Any, f: dataclasses.Field, kind: type, value: Any) -> None:
    """One value of a field: its type, finiteness and range (see :func:`check_fields`)."""
    m = f.metadata
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif kind is float:
        ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
              and math.isfinite(value))
    else:
        ok = isinstance(value, str)
    if ok and kind in (int, float):
        lo, hi = m.get("lo"), m.get("hi")
        ok = ((lo is None or (value > lo if m.get("lo_open") else value >= lo))
              and (hi is None or (value < hi if m.get("hi_open") else value <= hi)))
    if not ok:
        words = {bool: "true or false", str: "text"}.get(kind) or _range_words(f, kind)
        hint = f" {m['hint']}" if m.get("hint") else ""
        raise SettingsError(f"{_named(obj, f)} must be {words}; not {value!r}.{hint}")


def check_fields(obj: Any) -> None:
    """Check every field of a settings dataclass against what its metadata allows: the
    type (a bool is not a number, a float not a whole number), a finite number (no NaN,
    no infinity), the range (``lo``/``hi``), the ``choices``; ``None`` only where the
    annotation allows it. Tuples are checked element by element (and ``max_len``).
    Raises :class:`SettingsError` naming the field and its flag."""
    check_choices(obj)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("choices") is not None:
            continue  # checked above
        annotation = f.type if isinstance(f.type, str) else str(f.type)
        if value is None:
            if "None" not in annotation:
                raise SettingsError(f"{_named(obj, f)} must be given; not None")
            continue
        if isinstance(f.default, bool):
            _check_scalar(obj, f, bool, value)
        elif isinstance(f.default, tuple):
            if not isinstance(value, (tuple, list)):
                raise SettingsError(f"{_named(obj, f)} must be a list of values; not {value!r}")
            limit = f.metadata.get("max_len")
            if limit is not None and len(value) > limit:
                raise SettingsError(f"{_named(obj, f)} takes at most {limit} values; "
                                    f"not {len(value)}")
            for v in value:
                _check_scalar(obj, f, _scalar_type(f), v)
        else:
            _check_scalar(obj, f, _scalar_type(f), value)


def from_dict(cls, d: dict, **extra):
    """``cls(**d, **extra)``, refusing keys that are not fields of ``cls`` and naming
    the valid ones. Lists become tuples where the field's default is a tuple (JSON has
    no tuples)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if not isinstance(d, dict):
        raise SettingsError(f"{cls.__name__} settings must be a dictionary; not {d!r}")
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise SettingsError(f"Unknown {cls.__name__} setting(s): {', '.join(unknown)}. "
                         f"Valid: {', '.join(fields)}.")
    d = {k: (tuple(v) if isinstance(fields[k].default, tuple) and isinstance(v, list) else v)
         for k, v in d.items()}
    return cls(**{**d, **extra})


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _scalar_type(f: dataclasses.Field):
    # annotations are strings under ``from __future__ import annotations``
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    for name, typ in (("float", float), ("int", int), ("str", str)):
        if name in t:
            return typ
    raise TypeError(f"no command-line type for {f.name}: {t}")


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls,
              defaults: dict | None = None, skip: tuple[str, ...] = (),
              explicit_only: bool = False) -> None:
    """Add one flag per field of ``cls`` (``--seq-len`` for ``seq_len``) with the
    field's default (or ``defaults[name]``, for a script that prefers another), type,
    choices and help. The parsed value lands in ``args.<field name>``. With
    ``explicit_only`` a flag not given on the command line leaves no attribute at all,
    which tells what a user asked for from what they left to the defaults."""
    defaults = defaults or {}
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.metadata.get("cli", True):
            continue
        default = defaults.get(f.name, f.default)
        if default is dataclasses.MISSING:
            continue
        kw: dict = {"dest": f.name,
                    "default": argparse.SUPPRESS if explicit_only else default}
        shown = "" if default is None else f" (default {default})"
        kw["help"] = f.metadata.get("help", "") + shown
        if isinstance(f.default, bool):
            kw["action"] = argparse.BooleanOptionalAction
        elif isinstance(f.default, tuple):
            kw.update(type=_scalar_type(f), nargs="+")
        else:
            kw["type"] = _scalar_type(f)
            if f.metadata.get("choices"):
                kw["choices"] = list(f.metadata["choices"])
        # a short alias (``-t``) is spelled beside the field it names
        parser.add_argument(*filter(None, (f.metadata.get("short"), _flag(f))), **kw)


def values_from_args(cls, args: argparse.Namespace, skip: tuple[str, ...] = ()) -> dict:
    """The fields of ``cls`` that :func:`add_flags` put into ``args``, as a dict."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if f.name not in skip and hasattr(args, f.name)}


# --- the settings -------------------------------------------------------------------
# sanity limits: far above anything this project trains (its largest zoo model has 512
# units), low enough that a typo is refused before it becomes an allocation of terabytes
MAX_VOCAB = 1_000_000
MAX_WIDTH = 8192          # embedding size and units per layer
MAX_LAYERS = 16
MAX_SEQ_LEN = 65_536
MAX_BATCH = 65_536
MAX_EPOCHS = 100_000
MAX_STEPS = 10_000_000
MAX_SEED = 2**32 - 1      # NumPy's and Keras' seeds
MAX_PARAMS = 1_000_000_000   # weights of one network (x4 bytes, x3 with Adam's moments)
MAX_BATCH_TOKENS = 4_000_000  # seq_len x batch_size: the activations of one step grow with it
MAX_SAMPLE_LENGTH = 100_000
MAX_SAMPLES = 1_000
# samples x tokens of one call: each token is kept (id, probability, text) until the end
MAX_SAMPLE_TOKENS = 2_000_000
TEMPERATURE = {"lo": 1e-3, "hi": 100.0}


def _s(default, help: str = "", **meta):
    """A setting: its default, what the command line says about it, and its range."""
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple for a sequence default")
    return field(default=default, metadata={"help": help, **meta})


def check_sample_budget(n: int, length: int, where: str) -> None:
    """Refuse ``n`` samples of ``length`` tokens that together exceed
    :data:`MAX_SAMPLE_TOKENS` (memory grows with both)."""
    if n * length > MAX_SAMPLE_TOKENS:
        raise SettingsError(f"{where}: {n:,} samples of {length:,} tokens is {n * length:,} "
                            f"tokens, more than the {MAX_SAMPLE_TOKENS:,} one call may make. "
                            "Ask for fewer or shorter samples, in several calls.")


@dataclass
class ModelConfig:
    """Sizes of the network. ``vocab_size`` must equal the vocabulary's size."""

    vocab_size: int = field(metadata={"cli": False, "lo": 2, "hi": MAX_VOCAB})
    embed_dim: int = _s(64, "embedding size", lo=1, hi=MAX_WIDTH)
    units: int = _s(256, "units per recurrent layer", lo=1, hi=MAX_WIDTH)
    layers: int = _s(2, "recurrent layers", lo=1, hi=MAX_LAYERS)
    cell: str = _s("lstm", "recurrent cell", choices=CELLS)
    dropout: float = _s(0.1, "dropout after each layer", lo=0.0, hi=1.0, hi_open=True)
    # regularisers of the AWD-LSTM line of work (Merity et al. 2017) that keep the fast
    # fused kernels: one dropout mask per sequence instead of one per step ("locked" or
    # variational dropout), and whole token vectors dropped after the embedding
    locked_dropout: bool = _s(False, "one dropout mask per sequence, the same at every step "
                              "(variational)")
    embed_dropout: float = _s(0.0, "chance of dropping a whole token vector after the "
                              "embedding", lo=0.0, hi=1.0, hi_open=True)

    def __post_init__(self):
        check_fields(self)
        if self.n_params() > MAX_PARAMS:
            raise SettingsError(
                f"--units {self.units}, --layers {self.layers}, --embed-dim {self.embed_dim} "
                f"and a vocabulary of {self.vocab_size:,} make a network of about "
                f"{self.n_params():,} weights, more than the {MAX_PARAMS:,} this project "
                "trains. Choose smaller sizes.")

    def n_params(self) -> int:
        """The number of weights of this network (as :func:`helpers.model.build_model`
        makes it), computed without building it."""
        gates = {"lstm": 4, "gru": 3}[self.cell]
        biases = 1 if self.cell == "lstm" else 2  # Keras' GRU: reset_after, two biases
        total = self.vocab_size * self.embed_dim + self.units * self.vocab_size + self.vocab_size
        width = self.embed_dim
        for _ in range(self.layers):
            total += gates * self.units * (width + self.units + biases)
            width = self.units
        return total

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """From a dict (e.g. a bundle's meta.json); unknown keys are refused."""
        return from_dict(cls, d)


@dataclass
class TrainConfig:
    """How to train. Defaults suit a CPU; see the zoo model cards for GPU settings.

    Each field is also a flag of ``python -m helpers train`` (``seq_len`` is
    ``--seq-len``); see :mod:`helpers.settings`.
    """

    seq_len: int = _s(128, "window length in tokens (backpropagation through time)",
                      lo=1, hi=MAX_SEQ_LEN)
    batch_size: int = _s(64, "windows per batch", lo=1, hi=MAX_BATCH)
    epochs: int = _s(20, "epochs to train", lo=1, hi=MAX_EPOCHS)
    steps_per_epoch: int | None = _s(200, "batches per epoch", lo=1, hi=MAX_STEPS)
    learning_rate: float = _s(2e-3, "peak learning rate", flag="--lr", lo=0.0, lo_open=True,
                              hi=1.0)
    # "cosine": decay over all planned steps, with warmup; "cosine-time": decay over the
    # wall-clock budget ``max_minutes`` (ends annealed whenever time runs out); "constant"
    schedule: str = _s("cosine", "learning-rate schedule; cosine-time decays over "
                       "--max-minutes", choices=("cosine", "cosine-time", "constant"))
    warmup_steps: int = _s(100, "steps of linear warm-up", lo=0, hi=MAX_STEPS)
    min_lr_fraction: float = _s(0.05, "the schedule ends at this fraction of the peak",
                                lo=0.0, hi=1.0)
    clipnorm: float | None = _s(1.0, "clip each gradient to this norm", lo=0.0, lo_open=True,
                                hi=1e6)
    weight_decay: float = _s(0.0, "decoupled weight decay (AdamW) when > 0", lo=0.0, hi=1.0,
                             hi_open=True)
    val_fraction: float = _s(0.1, "the last part of the corpus held out for validation",
                             lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    val_max_tokens: int | None = _s(500_000, "score at most this many validation tokens",
                                    lo=1, hi=10**12)
    patience: int | None = _s(None, "early stopping: epochs without improvement",
                              lo=0, hi=MAX_EPOCHS)
    max_minutes: float | None = _s(None, "wall-clock budget of this run", lo=0.0,
                                   lo_open=True, hi=1e6)
    samples_per_epoch: int = _s(1, "samples printed after each epoch (0: none)",
                                lo=0, hi=MAX_SAMPLES)
    sample_length: int = _s(200, "tokens per printed sample", lo=1, hi=MAX_SAMPLE_LENGTH)
    sample_temperatures: tuple[float, ...] = _s((0.5, 1.0), "temperatures of those samples",
                                                max_len=16, **TEMPERATURE)
    seed: int = _s(0, "random seed", lo=0, hi=MAX_SEED)
    verbose: int | str = _s("auto", cli=False, choices=("auto", 0, 1, 2))
    # "mixed_float16" / "mixed_bfloat16": compute in half precision, keep float32 weights
    # (helps on GPUs with tensor cores; the logits layer stays float32)
    precision: str = _s("float32", "mixed precision helps on recent GPUs",
                        choices=("float32", "mixed_float16", "mixed_bfloat16"))
    # truncated backpropagation through time: the batch is ``batch_size`` contiguous
    # streams read window after window, the recurrent state carried from one batch to the
    # next (gradients stop at window boundaries); see helpers.windows.StreamDataset
    carry_state: bool = _s(False, "truncated backprop through time: read the corpus as "
                           "batch-size streams, carrying the state from batch to batch")
    # with carry_state: the chance that a stream's state is zeroed before a batch, so the
    # model also learns to start from nothing (as scoring in windows, or a short prompt, asks)
    carry_reset: float = _s(0.0, "with --carry-state: chance that a stream's state is "
                            "zeroed before a batch", lo=0.0, hi=1.0, hi_open=True)
    # an exponential moving average of the weights (momentum, e.g. 0.999): validation,
    # best.keras and last.keras hold the average, training steps move the raw weights
    # (a resumed run continues from the average)
    ema: float | None = _s(None, "keep a moving average of the weights with this momentum; "
                           "score and save the average", lo=0.0, hi=1.0, lo_open=True,
                           hi_open=True)
    # DropConnect on the hidden-to-hidden weights (AWD-LSTM's WeightDrop): a fresh mask on
    # the recurrent weight matrices for each batch, none at inference; the saved network
    # is a plain one (see helpers.model.dropped_connections)
    weight_drop: float = _s(0.0, "DropConnect: chance of dropping each recurrent weight, "
                            "drawn anew for each batch", lo=0.0, hi=1.0, hi_open=True)
    # activation / temporal activation regularisation (AWD-LSTM's alpha and beta): added to
    # the loss while training, on the last recurrent layer's output (helpers.model)
    ar: float = _s(0.0, "activation regularisation: this times mean(h**2) of the last layer",
                   lo=0.0, hi=1e3)
    tar: float = _s(0.0, "temporal activation regularisation: this times "
                    "mean((h[t] - h[t-1])**2) of the last layer", lo=0.0, hi=1e3)

    def __post_init__(self):
        # everything, including the settings of the samples printed after each epoch:
        # a bad one must be refused now, not after the first epoch has trained
        check_fields(self)
        if self.seq_len * self.batch_size > MAX_BATCH_TOKENS:
            raise SettingsError(
                f"--seq-len {self.seq_len} x --batch-size {self.batch_size} is "
                f"{self.seq_len * self.batch_size:,} tokens a step, more than the "
                f"{MAX_BATCH_TOKENS:,} this project trains. Choose a smaller one of them.")
        check_sample_budget(self.samples_per_epoch * len(self.sample_temperatures),
                            self.sample_length, "--samples-per-epoch x --sample-length")
        if self.schedule == "cosine-time" and not self.max_minutes:
            raise SettingsError("--schedule cosine-time needs --max-minutes, the time to "
                                "decay over (schedule='cosine-time' needs max_minutes)")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sample_temperatures"] = list(self.sample_temperatures)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """From a dict (e.g. a run's config.json); unknown keys are refused."""
        return from_dict(cls, d)


@dataclass
class VocabConfig:
    """How ``train`` builds the vocabulary of a corpus (flags of ``train``)."""

    word_level: bool = _s(False, "words instead of characters")
    max_words: int = _s(10_000, "word vocabulary size (with --word-level), the three "
                        "special tokens included", lo=16, hi=MAX_VOCAB)
    min_count: int = _s(1, "rarer tokens become the unknown token", lo=1, hi=10**9)

    def __post_init__(self):
        check_fields(self)


@dataclass
class SampleConfig:
    """What ``sample`` generates (its flags); :meth:`Generator.generate
    <helpers.sample.Generator.generate>` checks its arguments with it too."""

    length: int = _s(400, "max tokens to generate", lo=0, hi=MAX_SAMPLE_LENGTH)
    temperature: float = _s(0.8, "lower is safer and more repetitive, higher is wilder",
                            flag="--temperature", short="-t", hint="For the likeliest token at every "
                            "step use --greedy (greedy=True).", **TEMPERATURE)
    top_k: int | None = _s(None, "sample among the k likeliest only", lo=1, hi=MAX_VOCAB)
    top_p: float | None = _s(None, "nucleus sampling, e.g. 0.9", lo=0.0, lo_open=True, hi=1.0)
    greedy: bool = _s(False, "always take the likeliest token")
    num: int = _s(1, "how many samples (batched)", flag="--num", short="-n", lo=1,
                  hi=MAX_SAMPLES)
    seed: int | None = _s(None, "make the output reproducible", lo=0, hi=MAX_SEED)

    def __post_init__(self):
        check_fields(self)
        check_sample_budget(self.num, self.length, "--num x --length")


# --- resuming -------------------------------------------------------------------------
# What a resumed run cannot change: the saved optimizer carries the clipping, the weight
# decay (Adam or AdamW) and the moving average; the saved model its precision; and the
# validation split must stay the one that chose best.keras, or "best" would compare
# losses on different texts.
RESUME_FIXED = ("clipnorm", "weight_decay", "ema", "precision", "val_fraction",
                "val_max_tokens")
# The learning rate and its schedule: "constant" and "cosine-time" keep the rate in a
# variable of the optimizer that train() sets (once, or from the clock at every step), so
# a resumed run may change them; a "cosine" decay is a schedule saved inside the
# optimizer, planned over the steps of the first start, and cannot change.
LR_SETTINGS = ("learning_rate", "schedule", "warmup_steps", "min_lr_fraction")


def _same(a, b) -> bool:
    return (tuple(a) if isinstance(a, list) else a) == (tuple(b) if isinstance(b, list) else b)


def resume_config(saved: dict | None, asked: dict, where: str) -> TrainConfig:
    """The settings a resumed run trains with, and records: each setting ``asked`` for,
    else the one the run recorded (``saved``, its ``config.json``), else the default.
    Everything else (epochs, steps, batch size, time budget, patience, samples,
    regularisers, and the learning rate between the "constant" and "cosine-time"
    schedules) applies from the next epoch on. A setting of :data:`RESUME_FIXED` (or of
    :data:`LR_SETTINGS`, when a "cosine" schedule is involved) asked with another value
    than the run's is refused, naming it."""
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in (saved or {}).items() if k in fields}
    merged = {**saved, **asked}
    fixed = RESUME_FIXED
    why = "its saved optimizer, model or validation split holds it"
    if "cosine" in (saved.get("schedule"), merged.get("schedule", "cosine")):
        fixed = LR_SETTINGS + RESUME_FIXED
        why = ("a cosine schedule is saved inside the optimizer, planned at the first start; "
               "--schedule constant or cosine-time runs can change their learning rate") \
            if any(n in asked and n in saved and not _same(asked[n], saved[n])
                   for n in LR_SETTINGS) else why
    for name in fixed:
        if name in asked and name in saved and not _same(asked[name], saved[name]):
            raise SettingsError(
                f"{_flag(fields[name])} ({name}) cannot change when resuming {where}: the "
                f"run trains with {saved[name]!r}, not {asked[name]!r} ({why}). Leave it out "
                "to continue the run, start over with --fresh (the old run is moved to "
                f"previous/), or start a new run from this one with --init-from {where}.")
    return TrainConfig.from_dict(merged)
