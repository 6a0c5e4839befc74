"""Measured recipes: the settings that did best in a given time on a given kind of machine.

A recipe is a set of :class:`~helpers.settings.ModelConfig` and
:class:`~helpers.settings.TrainConfig` values plus where it was measured (a run JSON of
``bench/results/``, written by ``bench/bench_runs.py``). Start from one and override
what you like::

    python -m helpers train mybook.txt --recipe cpu-1min
    python -m helpers train mybook.txt --recipe cpu-10min --units 384   # a flag wins

    from helpers import recipes
    r = recipes.get("cpu-1min")
    train(text, "runs/quick", r.model, r.train)

:func:`adapt` is how ``--recipe`` does it: the settings given win over the recipe's, and
where this machine differs from the one the recipe was measured on, a choice that would
backfire here is changed and a note says so.

The budget is part of the recipe: the learning rate decays over ``max_minutes`` of wall
time (``schedule="cosine-time"``), so a recipe ends annealed when its time is up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import machine

__all__ = ["RECIPES", "Recipe", "get", "adapt"]


@dataclass(frozen=True)
class Recipe:
    """Model and training settings that were measured together."""

    name: str
    what: str
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    measured: str = ""
    # the Keras backend it was measured on, where that matters (it is chosen before
    # Keras is imported, so a recipe can only say so: ``python -m helpers train`` does)
    backend: str | None = None

    def __repr__(self) -> str:
        return f"Recipe({self.name!r}: {self.what})"


# validation every 100 steps on the first 20,000 tokens of the split: cheap enough to
# leave the budget to training (score the whole split afterwards, python -m helpers evaluate)
_TIMED = {"schedule": "cosine-time", "epochs": 100_000, "steps_per_epoch": 100,
          "val_max_tokens": 20_000}

RECIPES: dict[str, Recipe] = {r.name: r for r in [
    Recipe(
        "cpu-1min", "the first minute on a laptop CPU: small batches, many steps, no dropout",
        model={"cell": "gru", "units": 256, "layers": 2, "dropout": 0.0},
        train={**_TIMED, "seq_len": 64, "batch_size": 32, "learning_rate": 1e-2,
               "warmup_steps": 50, "max_minutes": 1.2},
        measured="80 s from the command on a 2-core CPU: 1.611 nats/char on tiny-shakespeare "
                 "(bench/results/cpu-2-cores/80s_b32_s64_lr1e-2_nodrop.json); nanoGPT's CPU "
                 "baby run: 1.898 after 91 s on the same machine that day",
    ),
    Recipe(
        "cpu-10min", "ten minutes on a laptop CPU: the fused LSTM kernel in bfloat16 "
        "(KERAS_BACKEND=torch; bfloat16 needs a CPU with Intel AMX, else float32 is used)",
        model={"cell": "lstm", "units": 384, "layers": 2, "dropout": 0.25},
        train={**_TIMED, "seq_len": 128, "batch_size": 32, "learning_rate": 5e-3,
               "warmup_steps": 50, "max_minutes": 10, "precision": "mixed_bfloat16"},
        measured="600 s from the command on a 2-core CPU with AMX: 1.452 nats/char on "
                 "tiny-shakespeare in windows of 160 (bench/results/cpu-2-cores/"
                 "600s_lstm384_bf16_drop025_lr5e-3_fused_torch.json, torch backend, "
                 "helpers.fused_rnn; with dropout 0.3, 1.465 and 1.458); nanoGPT's CPU baby "
                 "run: 1.552 after 668.5 s on the same machine that day",
        backend="torch",
    ),
    Recipe(
        "gpu-5min", "five minutes on one GPU (cuDNN LSTM, KERAS_BACKEND=torch)",
        model={"cell": "lstm", "units": 512, "layers": 2, "dropout": 0.3},
        train={**_TIMED, "seq_len": 256, "batch_size": 128, "learning_rate": 2e-3,
               "max_minutes": 5, "val_max_tokens": 500_000},  # the GPU scores it all
        measured="one NVIDIA H100: 1.472 nats/char on tiny-shakespeare after 65 s, then "
                 "overfits (zoo/shakespeare_char)",
    ),
]}


def get(name: str) -> Recipe:
    """The recipe called ``name``; the error lists the others."""
    try:
        return RECIPES[name]
    except KeyError:
        raise KeyError(f"No recipe {name!r}; there are: {', '.join(RECIPES)}") from None


def adapt(recipe: Recipe, model: dict | None = None,
          train: dict | None = None) -> tuple[dict, dict, list[str]]:
    """The model and training settings of a run from ``recipe``: the recipe's, then
    ``model`` and ``train`` over them (the settings given explicitly, e.g. flags: only
    those, so they can be told from the recipe's), adapted to this machine; and the notes
    that say where this machine differs from the one the recipe was measured on.

    On a CPU without bfloat16 matrix units (and no GPU) a recipe's ``mixed_bfloat16``
    becomes ``float32``, unless ``train`` asks for a precision itself: bfloat16 would be
    emulated there, and slower than float32. Starts Keras (to ask for its backend)."""
    import keras

    given = train or {}
    model, train = {**recipe.model, **(model or {})}, {**recipe.train, **given}
    notes = []
    backend = keras.backend.backend()
    if recipe.backend and backend != recipe.backend:
        notes.append(f"{recipe.name} was measured with KERAS_BACKEND={recipe.backend}; this "
                     f"run uses {backend}, which trains it with fewer steps per second")
    if (train.get("precision") == "mixed_bfloat16" and "precision" not in given
            and not machine.has_gpu() and not machine.bf16_matrix_units()):
        train["precision"] = "float32"
        notes.append("this CPU has no bfloat16 matrix units (Intel AMX), so bfloat16 would be "
                     "emulated and slow: training in float32 (--precision to choose)")
    return model, train, notes
