"""The callbacks of a training run, one per job: the checkpoints that survive a killed
run, the per-epoch samples, the wall-clock budget and the "cosine-time" learning rate,
and the state resets of carried-state training. :func:`helpers.train.train` chooses
which ones a run needs, in the order they must run.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from .rundir import RunDir
from .settings import TrainConfig
from .vocab import Vocab
from .windows import StreamDataset

__all__ = ["LN2", "time_cosine_lr", "Clock", "TimeCosine", "TimeBudget", "StreamResets",
           "Checkpoints", "Samples"]

LN2 = math.log(2.0)


def time_cosine_lr(config: TrainConfig, elapsed: float, step: int) -> float:
    """Learning rate of the "cosine-time" schedule: linear warm-up over ``warmup_steps``,
    then cosine decay over the fraction of the time budget ``max_minutes`` used."""
    c = config
    frac = min(1.0, elapsed / (c.max_minutes * 60))
    floor = c.learning_rate * c.min_lr_fraction
    lr = floor + (c.learning_rate - floor) * 0.5 * (1 + math.cos(math.pi * frac))
    if c.warmup_steps and step < c.warmup_steps:
        lr *= (step + 1) / c.warmup_steps
    return lr


class Clock:
    """Seconds of training so far, counting the runs this one resumes."""

    def __init__(self, elapsed0: float = 0.0):
        self.t0, self.elapsed0 = time.time(), elapsed0

    def __call__(self) -> float:
        return self.elapsed0 + time.time() - self.t0


class TimeCosine(keras.callbacks.Callback):
    """The "cosine-time" schedule: sets the learning rate from the wall clock, which a
    Keras schedule (a function of the step, traced into the graph) cannot read."""

    def __init__(self, cfg: TrainConfig, clock: Clock):
        super().__init__()
        self.cfg, self.clock, self.step = cfg, clock, 0

    def on_train_batch_begin(self, batch, logs=None):
        self.step += 1
        if self.step % 10 == 1 or self.step < 200:  # assigning every step costs a sync
            self.model.optimizer.learning_rate.assign(
                time_cosine_lr(self.cfg, self.clock(), self.step))


class TimeBudget(keras.callbacks.Callback):
    """Ends training cleanly (after the batch, checkpoints intact) when time is up."""

    def __init__(self, minutes: float, clock: Clock):
        super().__init__()
        self.seconds, self.clock = minutes * 60, clock

    def on_train_batch_end(self, batch, logs=None):
        if self.clock() > self.seconds:
            self.model.stop_training = True


class StreamResets(keras.callbacks.Callback):
    """With carried state: zero it where a pass over the streams starts, and (with
    ``carry_reset``) for a random share of the rows before each batch."""

    def __init__(self, streams: StreamDataset, cfg: TrainConfig, rng: np.random.Generator):
        super().__init__()
        self.streams, self.cfg, self.rng, self.step = streams, cfg, rng, 0

    def on_train_batch_begin(self, batch, logs=None):
        # batches arrive in order: this one is global step start_step + step (the state
        # starts at zero, so resuming mid-pass needs no reset)
        global_step = self.streams.start_step + self.step
        self.step += 1
        if self.streams.starts_pass(global_step):
            self.model.reset_state()
        elif self.cfg.carry_reset:
            rows = self.rng.random(self.cfg.batch_size) < self.cfg.carry_reset
            if rows.any():
                self.model.reset_state(rows)


class Checkpoints(keras.callbacks.Callback):
    """End of epoch: score validation (when ``fit`` does not), append the history row,
    save ``best.keras`` when it improved and ``last.keras`` always, and then
    ``state.json``, the commit point of the epoch."""

    def __init__(self, run: RunDir, net: keras.Model, best: float, history: list[dict],
                 clock: Clock, val_data=None):
        super().__init__()
        # ``net`` is the network saved and sampled; ``self.model`` is the one fitted (the
        # same, or a CarryStateModel around it, whose validation is scored here)
        self.run, self.net, self.best, self.history = run, net, best, history
        self.clock, self.val_data = clock, val_data

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.val_data is not None:
            logs["val_loss"] = float(self.net.evaluate(self.val_data, verbose=0))
        val = float(logs.get("val_loss", logs.get("loss", math.nan)))
        row = {
            "epoch": epoch + 1,
            "seconds": round(self.clock(), 1),
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
            self.run.save_model(self.net, "best")
        self.run.save_model(self.net, "last")
        self.run.write_history(self.history)
        self.run.write_state(epoch + 1, self.best, self.clock())
        print(f"\nepoch {epoch + 1}: val_loss {val:.4f} nats/token = {val / LN2:.3f} bits"
              f"{' (best, saved)' if improved else ''}; {row['seconds']:.0f}s elapsed", flush=True)


class Samples(keras.callbacks.Callback):
    """Prints a few samples after every epoch, from the network being trained, and keeps
    them in the run folder's ``samples.json`` (``plots.evolution`` draws them beside the
    loss curve: the printed ones scroll away, or are cleared by a live plot)."""

    def __init__(self, net: keras.Model, vocab: Vocab, cfg: TrainConfig, documents: bool,
                 prompt: str, run: RunDir | None = None):
        super().__init__()
        self.net, self.vocab, self.cfg, self.documents, self.prompt, self.run = (
            net, vocab, cfg, documents, prompt, run)

    def on_epoch_end(self, epoch, logs=None):
        from .sample import Generator

        gen = Generator(self.net, self.vocab, documents=self.documents)
        rows = []
        for t in self.cfg.sample_temperatures:
            for s in gen.generate(self.prompt, length=self.cfg.sample_length, temperature=t,
                                  n=self.cfg.samples_per_epoch, seed=epoch, unknown="unk",
                                  alternatives=0):
                print(f"--- sample, temperature {t} ---\n{s.full}", flush=True)
                rows.append({"epoch": epoch + 1, "temperature": t, "text": s.full})
        if self.run is not None:
            self.run.add_samples(rows)
