"""Train a model on a corpus, with checkpoints that survive a killed run.

``train(text, run_dir)`` does everything: builds (or reloads) the vocabulary,
encodes the corpus once, splits it (first 90% train, last 10% validation), builds
the model, and calls ``model.fit`` on random windows. Every epoch it

* scores the whole validation split (loss in nats per token, and bits per token),
* writes ``last.keras`` (model + optimizer, for resuming) and, when validation
  improved, ``best.keras``, both atomically,
* appends to ``history.csv`` / ``history.json``, and prints a few samples.

Run it again with the same ``run_dir`` and it resumes after the last finished
epoch. A wall-clock budget (``max_minutes``) ends training cleanly.

With ``carry_state=True`` it trains by truncated backpropagation through time instead:
the training split is read as ``batch_size`` contiguous streams
(:class:`~helpers.windows.StreamDataset`) and a :class:`~helpers.model.CarryStateModel`
carries the recurrent state from batch to batch; the plain network is what is validated,
saved and sampled, so checkpoints look the same either way.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from .model import CarryStateModel, ModelConfig, build_model, config_of, count_params
from .textio import (
    CorpusError,
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    display_path,
    remove_stale_temps,
)
from .vocab import CharVocab, Vocab, load_vocab
from .windows import SequentialWindows, StreamDataset, WindowDataset, split_ids

__all__ = ["TrainConfig", "TrainResult", "train", "compile_model", "prepare_ids",
           "enable_data_parallel"]

LN2 = math.log(2.0)
RUN_FILES = ("best.keras", "last.keras", "state.json", "history.json", "history.csv",
             "vocab.json", "config.json")


@dataclass
class TrainConfig:
    """How to train. Defaults suit a CPU; see the zoo model cards for GPU settings."""

    seq_len: int = 128
    batch_size: int = 64
    epochs: int = 20
    steps_per_epoch: int | None = 200
    learning_rate: float = 2e-3
    # "cosine": decay over all planned steps, with warmup; "cosine-time": decay over the
    # wall-clock budget ``max_minutes`` (ends annealed whenever time runs out); "constant"
    schedule: str = "cosine"
    warmup_steps: int = 100
    min_lr_fraction: float = 0.05
    clipnorm: float | None = 1.0
    weight_decay: float = 0.0
    val_fraction: float = 0.1
    val_max_tokens: int | None = 500_000
    patience: int | None = None  # early stopping on validation loss
    max_minutes: float | None = None  # wall-clock budget for this run
    samples_per_epoch: int = 1
    sample_length: int = 200
    sample_temperatures: tuple[float, ...] = (0.5, 1.0)
    seed: int = 0
    verbose: int | str = "auto"
    # "mixed_float16" / "mixed_bfloat16": compute in half precision, keep float32 weights
    # (helps on GPUs with tensor cores; the logits layer stays float32)
    precision: str = "float32"
    # truncated backpropagation through time: the batch is ``batch_size`` contiguous
    # streams read window after window, the recurrent state carried from one batch to the
    # next (gradients stop at window boundaries); see helpers.windows.StreamDataset
    carry_state: bool = False
    # with carry_state: the chance that a stream's state is zeroed before a batch, so the
    # model also learns to start from nothing (as scoring in windows, or a short prompt, asks)
    carry_reset: float = 0.0

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sample_temperatures"] = list(self.sample_temperatures)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if "sample_temperatures" in d:
            d["sample_temperatures"] = tuple(d["sample_temperatures"])
        return cls(**d)


@dataclass
class TrainResult:
    model: keras.Model
    vocab: Vocab
    run_dir: Path
    history: list[dict] = field(default_factory=list)
    best_val_loss: float = math.inf
    seconds: float = 0.0

    def __repr__(self) -> str:
        return (f"TrainResult(run_dir={display_path(self.run_dir)!r}, epochs={len(self.history)}, "
                f"best_val_loss={self.best_val_loss:.4f} nats/token "
                f"({self.best_val_loss / LN2:.3f} bits), seconds={self.seconds:.0f})")


def compile_model(model: keras.Model, config: TrainConfig, total_steps: int) -> keras.Model:
    """Adam(W) with optional cosine decay + warmup and gradient clipping."""
    lr = config.learning_rate
    if config.schedule == "cosine":
        warm = min(config.warmup_steps, max(1, total_steps // 10))
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate * 0.1 if warm else config.learning_rate,
            decay_steps=max(1, total_steps - warm), alpha=config.min_lr_fraction,
            warmup_target=config.learning_rate if warm else None, warmup_steps=warm,
        )
    elif config.schedule == "cosine-time":
        if not config.max_minutes:
            raise ValueError("schedule='cosine-time' needs max_minutes (the time to decay over)")
    elif config.schedule != "constant":
        raise ValueError("schedule must be 'cosine', 'cosine-time' or 'constant'")
    if config.weight_decay:
        opt = keras.optimizers.AdamW(lr, weight_decay=config.weight_decay, clipnorm=config.clipnorm)
    else:
        opt = keras.optimizers.Adam(lr, clipnorm=config.clipnorm)
    model.compile(optimizer=opt,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def enable_data_parallel(batch_size: int | None = None) -> list[str]:
    """Replicate the model on every local device and split each batch between them
    (``keras.distribution.DataParallel``). Supported with the JAX backend; on a CPU,
    ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` makes four devices."""
    if keras.backend.backend() != "jax":
        raise RuntimeError(
            "Data-parallel training uses keras.distribution, which supports the JAX backend: "
            "set KERAS_BACKEND=jax (pip install 'jax[cpu]' or a CUDA build of jax).")
    devices = keras.distribution.list_devices()
    if batch_size is not None and batch_size % len(devices):
        raise ValueError(f"batch_size {batch_size} must be divisible by the {len(devices)} devices")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return devices


def prepare_ids(text: str, vocab: Vocab) -> np.ndarray:
    """Encode a corpus once, compactly (uint8 for up to 256 tokens)."""
    if not text or not text.strip():
        raise CorpusError("The corpus is empty: nothing to train on.")
    return vocab.encode(text, errors="unk")


class _EpochEnd(keras.callbacks.Callback):
    """Checkpoints, history, samples and the time budget, in one place and in order."""

    def __init__(self, run_dir: Path, vocab: Vocab, cfg: TrainConfig, documents: bool,
                 best: float, history: list[dict], t_start: float, elapsed0: float,
                 prompt: str, net: keras.Model, val_data=None, streams=None):
        super().__init__()
        # ``net`` is the network saved and sampled; ``self.model`` is the one fitted (the
        # same, or a CarryStateModel around it, which then needs ``val_data`` scored here
        # and its state reset at the start of every pass over ``streams``)
        self.net, self.val_data, self.streams = net, val_data, streams
        self.rng = np.random.default_rng((cfg.seed, int(elapsed0)))
        self.run_dir, self.vocab, self.cfg, self.documents = run_dir, vocab, cfg, documents
        self.best, self.history = best, history
        self.t_start, self.elapsed0 = t_start, elapsed0
        self.bad_epochs = 0
        self.prompt = prompt
        self.step = 0

    def elapsed(self) -> float:
        return self.elapsed0 + time.time() - self.t_start

    def on_train_batch_begin(self, batch, logs=None):
        self.step += 1
        # batches arrive in order: this one is global step start_step + step - 1 (the
        # state starts at zero, so resuming mid-pass needs no reset)
        if self.streams is not None and self.streams.starts_pass(
                self.streams.start_step + self.step - 1):
            self.model.reset_state()
        elif self.streams is not None and self.cfg.carry_reset:
            rows = self.rng.random(self.cfg.batch_size) < self.cfg.carry_reset
            if rows.any():
                self.model.reset_state(rows)
        if self.cfg.schedule == "cosine-time" and (self.step % 10 == 1 or self.step < 200):
            self.model.optimizer.learning_rate.assign(self.time_lr())

    def time_lr(self) -> float:
        """Learning rate of the "cosine-time" schedule: linear warmup over
        ``warmup_steps`` then cosine decay over the fraction of the time budget used."""
        c = self.cfg
        frac = min(1.0, self.elapsed() / (c.max_minutes * 60))
        floor = c.learning_rate * c.min_lr_fraction
        lr = floor + (c.learning_rate - floor) * 0.5 * (1 + math.cos(math.pi * frac))
        if c.warmup_steps and self.step < c.warmup_steps:
            lr *= (self.step + 1) / c.warmup_steps
        return lr

    def on_train_batch_end(self, batch, logs=None):
        if self.cfg.max_minutes is not None and self.elapsed() > self.cfg.max_minutes * 60:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.val_data is not None:
            logs["val_loss"] = float(self.net.evaluate(self.val_data, verbose=0))
        val = float(logs.get("val_loss", logs.get("loss", math.nan)))
        row = {
            "epoch": epoch + 1,
            "seconds": round(self.elapsed(), 1),
            "loss": round(float(logs.get("loss", math.nan)), 5),
            "val_loss": round(val, 5),
            "val_bits": round(val / LN2, 5),
            "lr": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
        }
        self.history.append(row)
        logs["val_bits"] = row["val_bits"]
        improved = val < self.best
        if improved:
            self.best = val
            self.bad_epochs = 0
            with atomic_path(self.run_dir / "best.keras") as tmp:
                self.net.save(tmp)
        else:
            self.bad_epochs += 1
        with atomic_path(self.run_dir / "last.keras") as tmp:
            self.net.save(tmp)
        _write_history(self.run_dir, self.history)
        atomic_write_json(self.run_dir / "state.json", {
            "epoch": epoch + 1, "best_val_loss": self.best, "elapsed_seconds": self.elapsed(),
        })
        print(f"\nepoch {epoch + 1}: val_loss {val:.4f} nats/token = {val / LN2:.3f} bits"
              f"{' (best, saved)' if improved else ''}; {row['seconds']:.0f}s elapsed", flush=True)
        if self.cfg.samples_per_epoch:
            self._print_samples(epoch)
        if self.cfg.patience is not None and self.bad_epochs >= self.cfg.patience:
            print(f"early stop: no improvement in {self.cfg.patience} epochs", flush=True)
            self.model.stop_training = True

    def _print_samples(self, epoch: int):
        from .sample import Generator

        gen = Generator(self.net, self.vocab, documents=self.documents)
        for t in self.cfg.sample_temperatures:
            for s in gen.generate(self.prompt, length=self.cfg.sample_length, temperature=t,
                                  n=self.cfg.samples_per_epoch, seed=epoch, unknown="unk"):
                print(f"--- sample, temperature {t} ---\n{s.full}", flush=True)


def _write_history(run_dir: Path, history: list[dict]) -> None:
    atomic_write_json(run_dir / "history.json", history)
    buf = io.StringIO()
    if history:
        w = csv.DictWriter(buf, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
    atomic_write_text(run_dir / "history.csv", buf.getvalue())


def train(
    text: str,
    run_dir: str | os.PathLike = "runs/latest",
    model_config: ModelConfig | dict | None = None,
    train_config: TrainConfig | dict | None = None,
    vocab: Vocab | None = None,
    documents: bool = False,
    resume: bool = True,
    prompt: str = "",
    callbacks: list | None = None,
    data_parallel: bool = False,
) -> TrainResult:
    """Train (or resume training) a model on ``text``; see the module docstring.

    Args:
        text: the corpus.
        run_dir: where checkpoints, vocabulary and history go. If it holds an
            unfinished run with the same vocabulary, training continues from it.
        model_config: network sizes (``vocab_size`` is filled in for you).
        train_config: optimisation settings.
        vocab: defaults to a character vocabulary built from ``text``.
        documents: ``text`` is documents wrapped in start/end tokens (postings, tweets).
        prompt: what the per-epoch samples start from.
        data_parallel: split every batch across all local devices (GPUs, or CPU
            devices) with ``keras.distribution.DataParallel``; JAX backend only.
    """
    tc = train_config if isinstance(train_config, TrainConfig) else TrainConfig.from_dict(
        train_config or {})
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(run_dir, RUN_FILES)  # a run killed mid-write leaves its temp file
    keras.utils.set_random_seed(tc.seed)
    if not 0 <= tc.carry_reset < 1:
        raise ValueError("carry_reset must be in [0, 1)")
    if data_parallel and tc.carry_state:
        raise ValueError("carry_state=True and data_parallel=True cannot be combined: the "
                         "carried state is one (batch, units) array on one device.")
    if data_parallel:
        enable_data_parallel(tc.batch_size)
    if tc.precision not in ("float32", "mixed_float16", "mixed_bfloat16"):
        raise ValueError("precision must be float32, mixed_float16 or mixed_bfloat16")

    state_path, last_path = run_dir / "state.json", run_dir / "last.keras"
    resuming = resume and state_path.exists() and last_path.exists()
    if resuming:
        saved_vocab = load_vocab(run_dir / "vocab.json")
        if vocab is not None and vocab != saved_vocab:
            raise ValueError(f"{run_dir} holds a run with a different vocabulary; use another "
                             "run_dir or resume=False to start over.")
        vocab = saved_vocab
    vocab = vocab or CharVocab.build(text)
    ids = prepare_ids(text, vocab)
    train_ids, val_ids = split_ids(ids, tc.val_fraction)
    if tc.val_max_tokens and len(val_ids) > tc.val_max_tokens:
        val_ids = val_ids[: tc.val_max_tokens]
    if len(val_ids) < tc.seq_len + 1:
        raise CorpusError(
            f"The corpus ({len(ids):,} tokens) is too small: its validation split has "
            f"{len(val_ids)} tokens, fewer than one window of {tc.seq_len}. Use more text or a "
            "smaller seq_len."
        )
    if tc.carry_state:
        data = StreamDataset(train_ids, tc.seq_len, tc.batch_size, seed=tc.seed)
        steps = tc.steps_per_epoch or data.steps_per_pass
    else:
        data = WindowDataset(train_ids, tc.seq_len, tc.batch_size, tc.steps_per_epoch,
                             seed=tc.seed)
        steps = len(data)
    val = SequentialWindows(val_ids, tc.seq_len, tc.batch_size, drop_remainder=data_parallel)
    total_steps = tc.epochs * steps

    history: list[dict] = []
    best, initial_epoch, elapsed0 = math.inf, 0, 0.0
    if resuming:
        state = json.loads(state_path.read_text())
        model = keras.models.load_model(last_path)
        initial_epoch = int(state["epoch"])
        best = float(state["best_val_loss"])
        elapsed0 = float(state.get("elapsed_seconds", 0.0))
        hist_path = run_dir / "history.json"
        history = json.loads(hist_path.read_text()) if hist_path.exists() else []
        history = [h for h in history if h["epoch"] <= initial_epoch]
        if tc.carry_state:
            data.start_step = initial_epoch * steps
        else:
            data.epoch = initial_epoch
        print(f"Resuming {display_path(run_dir)} after epoch {initial_epoch} "
              f"(best val_loss {best:.4f}).")
    else:
        mc = model_config if isinstance(model_config, ModelConfig) else None
        if mc is None:
            mc = ModelConfig(**{**(model_config or {}), "vocab_size": len(vocab)})
        if mc.vocab_size != len(vocab):
            mc = dataclasses.replace(mc, vocab_size=len(vocab))
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(tc.precision)  # layers keep it once built
        try:
            model = build_model(mc)
        finally:
            keras.mixed_precision.set_global_policy(previous)
        compile_model(model, tc, total_steps)
        vocab.save(run_dir / "vocab.json")
    atomic_write_json(run_dir / "config.json", {
        "model": config_of(model).to_dict(), "train": tc.to_dict(), "documents": documents,
        "vocab_fingerprint": vocab.fingerprint(), "params": count_params(model),
        "backend": keras.backend.backend(),
    })
    if initial_epoch >= tc.epochs:
        print(f"{run_dir} already finished {initial_epoch} epochs; raise epochs to train more.")
    fit_model = model
    if tc.carry_state:  # fit the carrying form; score and save the plain network
        fit_model = CarryStateModel(model, tc.batch_size)
        fit_model.compile(optimizer=model.optimizer, loss=model.loss)
    end = _EpochEnd(run_dir, vocab, tc, documents, best, history, time.time(), elapsed0, prompt,
                    net=model, val_data=val if tc.carry_state else None,
                    streams=data if tc.carry_state else None)
    t0 = time.time()
    fit_model.fit(data, validation_data=None if tc.carry_state else val,
                  epochs=tc.epochs, initial_epoch=initial_epoch,
                  steps_per_epoch=steps if tc.carry_state else None,
                  shuffle=not tc.carry_state,  # streams must be read in order
                  callbacks=[end, *(callbacks or [])], verbose=tc.verbose)
    best_path = run_dir / "best.keras"
    if best_path.exists():
        model = keras.models.load_model(best_path)
    return TrainResult(model, vocab, run_dir, end.history, end.best, time.time() - t0)
