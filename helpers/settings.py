"""Settings dataclasses, stated once: their dictionaries and their command-line flags.

:class:`~helpers.model.ModelConfig` and :class:`~helpers.train.TrainConfig` are the only
place a setting, its default, its allowed values and its help are written. This module
turns them into dictionaries and back (:func:`from_dict`, refusing unknown keys: a typo
such as ``"lr"`` must not be ignored) and into ``argparse`` flags (:func:`add_flags`),
so the CLI and the bench scripts never retype a default or a choice list.

A field says more about itself through ``dataclasses.field(metadata=...)``:
``help`` (the flag's help), ``choices`` (allowed values, checked by ``check_choices``
from ``__post_init__`` and by argparse), ``flag`` (a shorter flag than the name gives,
e.g. ``--lr``) and ``cli=False`` (no flag).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ModelConfig", "TrainConfig", "from_dict", "add_flags", "values_from_args",
           "check_choices"]

CELLS = ("lstm", "gru")
# recurrent state tensors per layer: an LSTM carries h and c, a GRU only h (the Keras
# model, the NumPy engine and the carried-state trainer all read this one table)
STATES_PER_CELL = {"lstm": 2, "gru": 1}


def check_choices(obj: Any) -> None:
    """Raise ``ValueError`` for a field whose value is not among its ``choices``."""
    for f in dataclasses.fields(obj):
        choices = f.metadata.get("choices")
        if choices is not None and getattr(obj, f.name) not in choices:
            raise ValueError(f"{f.name} must be one of {', '.join(map(str, choices))}; "
                             f"not {getattr(obj, f.name)!r}")


def from_dict(cls, d: dict, **extra):
    """``cls(**d, **extra)``, refusing keys that are not fields of ``cls`` and naming
    the valid ones. Lists become tuples where the field's default is a tuple (JSON has
    no tuples)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ValueError(f"Unknown {cls.__name__} setting(s): {', '.join(unknown)}. "
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
        parser.add_argument(_flag(f), **kw)


def values_from_args(cls, args: argparse.Namespace, skip: tuple[str, ...] = ()) -> dict:
    """The fields of ``cls`` that :func:`add_flags` put into ``args``, as a dict."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if f.name not in skip and hasattr(args, f.name)}


# --- the settings -------------------------------------------------------------------
@dataclass
class ModelConfig:
    """Sizes of the network. ``vocab_size`` must equal the vocabulary's size."""

    vocab_size: int = field(metadata={"cli": False})
    embed_dim: int = field(default=64, metadata={"help": "embedding size"})
    units: int = field(default=256, metadata={"help": "units per recurrent layer"})
    layers: int = field(default=2, metadata={"help": "recurrent layers"})
    cell: str = field(default="lstm", metadata={"help": "recurrent cell",
                                                "choices": CELLS})
    dropout: float = field(default=0.1, metadata={"help": "dropout after each layer"})
    # regularisers of the AWD-LSTM line of work (Merity et al. 2017) that keep the fast
    # fused kernels: one dropout mask per sequence instead of one per step ("locked" or
    # variational dropout), and whole token vectors dropped after the embedding
    locked_dropout: bool = field(default=False, metadata={
        "help": "one dropout mask per sequence, the same at every step (variational)"})
    embed_dropout: float = field(default=0.0, metadata={
        "help": "chance of dropping a whole token vector after the embedding"})

    def __post_init__(self):
        check_choices(self)
        if self.vocab_size < 2 or self.units < 1 or self.layers < 1 or self.embed_dim < 1:
            raise ValueError(f"Invalid sizes in {self}")
        if not 0 <= self.dropout < 1 or not 0 <= self.embed_dropout < 1:
            raise ValueError("dropout and embed_dropout must be in [0, 1)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """From a dict (e.g. a bundle's meta.json); unknown keys are refused."""
        return from_dict(cls, d)


def _s(default, help: str = "", **meta):
    """A setting: its default and what the command line says about it."""
    if isinstance(default, (list, dict)):
        raise TypeError("use a tuple for a sequence default")
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class TrainConfig:
    """How to train. Defaults suit a CPU; see the zoo model cards for GPU settings.

    Each field is also a flag of ``python -m helpers train`` (``seq_len`` is
    ``--seq-len``); see :mod:`helpers.settings`.
    """

    seq_len: int = _s(128, "window length in tokens (backpropagation through time)")
    batch_size: int = _s(64, "windows per batch")
    epochs: int = _s(20, "epochs to train")
    steps_per_epoch: int | None = _s(200, "batches per epoch")
    learning_rate: float = _s(2e-3, "peak learning rate", flag="--lr")
    # "cosine": decay over all planned steps, with warmup; "cosine-time": decay over the
    # wall-clock budget ``max_minutes`` (ends annealed whenever time runs out); "constant"
    schedule: str = _s("cosine", "learning-rate schedule; cosine-time decays over "
                       "--max-minutes", choices=("cosine", "cosine-time", "constant"))
    warmup_steps: int = _s(100, "steps of linear warm-up")
    min_lr_fraction: float = _s(0.05, "the schedule ends at this fraction of the peak")
    clipnorm: float | None = _s(1.0, "clip each gradient to this norm")
    weight_decay: float = _s(0.0, "decoupled weight decay (AdamW) when > 0")
    val_fraction: float = _s(0.1, "the last part of the corpus held out for validation")
    val_max_tokens: int | None = _s(500_000, "score at most this many validation tokens")
    patience: int | None = _s(None, "early stopping: epochs without improvement")
    max_minutes: float | None = _s(None, "wall-clock budget of this run")
    samples_per_epoch: int = _s(1, "samples printed after each epoch (0: none)")
    sample_length: int = _s(200, "tokens per printed sample")
    sample_temperatures: tuple[float, ...] = _s((0.5, 1.0), "temperatures of those samples")
    seed: int = _s(0, "random seed")
    verbose: int | str = _s("auto", cli=False)
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
                            "zeroed before a batch")
    # an exponential moving average of the weights (momentum, e.g. 0.999): validation,
    # best.keras and last.keras hold the average, training steps move the raw weights
    # (a resumed run continues from the average)
    ema: float | None = _s(None, "keep a moving average of the weights with this momentum; "
                           "score and save the average")
    # DropConnect on the hidden-to-hidden weights (AWD-LSTM's WeightDrop): a fresh mask on
    # the recurrent weight matrices for each batch, none at inference; the saved network
    # is a plain one (see helpers.model.dropped_connections)
    weight_drop: float = _s(0.0, "DropConnect: chance of dropping each recurrent weight, "
                            "drawn anew for each batch")
    # activation / temporal activation regularisation (AWD-LSTM's alpha and beta): added to
    # the loss while training, on the last recurrent layer's output (helpers.model)
    ar: float = _s(0.0, "activation regularisation: this times mean(h**2) of the last layer")
    tar: float = _s(0.0, "temporal activation regularisation: this times "
                    "mean((h[t] - h[t-1])**2) of the last layer")

    def __post_init__(self):
        check_choices(self)
        if self.seq_len < 1 or self.batch_size < 1 or self.epochs < 1:
            raise ValueError("seq_len, batch_size and epochs must be at least 1")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError("steps_per_epoch must be at least 1 (or None: one pass)")
        if not 0 < self.val_fraction < 1:
            raise ValueError("val_fraction must be between 0 and 1")
        if not 0 <= self.carry_reset < 1:
            raise ValueError("carry_reset must be in [0, 1)")
        if not 0 <= self.weight_drop < 1:
            raise ValueError("weight_drop must be in [0, 1)")
        if self.ar < 0 or self.tar < 0:
            raise ValueError("ar and tar must be at least 0")
        if self.ema is not None and not 0 < self.ema < 1:
            raise ValueError("ema must be a momentum in (0, 1), e.g. 0.999")
        if self.schedule == "cosine-time" and not self.max_minutes:
            raise ValueError("schedule='cosine-time' needs max_minutes (the time to decay over)")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sample_temperatures"] = list(self.sample_temperatures)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """From a dict (e.g. a run's config.json); unknown keys are refused."""
        return from_dict(cls, d)
