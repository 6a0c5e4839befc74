"""Plots the notebooks show: character frequencies, loss curves (live while training)."""

from __future__ import annotations

import math
from collections import Counter

import keras

__all__ = ["char_frequencies", "loss_curves", "LivePlot"]


def char_frequencies(text: str, top: int = 60, ax=None, log: bool = True):
    """Bar chart of the most frequent characters (whitespace shown by name)."""
    import matplotlib.pyplot as plt

    names = {" ": "␣", "\n": "⏎", "\t": "⇥", "\x02": "START", "\x03": "END", "\x04": "UNK"}
    counts = Counter(text).most_common(top)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(16, 0.25 * len(counts) + 2), 3))
    ax.bar(range(len(counts)), [n for _, n in counts], color="#4c72b0")
    ax.set_xticks(range(len(counts)))
    ax.set_xticklabels([names.get(c, c) for c, _ in counts], fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("count")
    ax.set_title(f"{len(Counter(text))} distinct characters, the {len(counts)} most frequent")
    return ax


def loss_curves(histories: dict[str, list[dict]], x: str = "seconds", ax=None,
                reference: dict[str, float] | None = None):
    """Validation loss against time (or epoch) for several runs; ``reference``
    draws horizontal lines (e.g. a published number)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for name, h in histories.items():
        ax.plot([r[x] for r in h], [r["val_loss"] for r in h], marker=".", label=name)
    for name, y in (reference or {}).items():
        ax.axhline(y, ls="--", lw=1, color="grey")
        ax.text(ax.get_xlim()[1], y, f" {name}", va="center", fontsize=8, color="grey")
    ax.set_xlabel("training time (s)" if x == "seconds" else x)
    ax.set_ylabel("validation loss (nats/char)")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


class LivePlot(keras.callbacks.Callback):
    """Redraw training and validation loss after every epoch (in a notebook)."""

    def __init__(self, every: int = 1):
        super().__init__()
        self.every = every
        self.rows: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.rows.append({"epoch": epoch + 1, "loss": logs.get("loss", math.nan),
                          "val_loss": logs.get("val_loss", math.nan)})
        if (epoch + 1) % self.every:
            return
        try:
            import matplotlib.pyplot as plt
            from IPython.display import clear_output, display
        except ImportError:
            return
        clear_output(wait=True)
        fig, ax = plt.subplots(figsize=(6, 3))
        ep = [r["epoch"] for r in self.rows]
        ax.plot(ep, [r["loss"] for r in self.rows], label="train")
        ax.plot(ep, [r["val_loss"] for r in self.rows], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (nats/char)")
        ax.legend()
        ax.grid(alpha=0.3)
        display(fig)
        plt.close(fig)
