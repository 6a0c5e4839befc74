"""Plots the notebooks show: character frequencies, loss curves (live while training)."""

from __future__ import annotations

import math
from collections import Counter

import keras

__all__ = ["char_frequencies", "loss_curves", "LivePlot", "evolution"]


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
        self._handle = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.rows.append({"epoch": epoch + 1, "loss": logs.get("loss", math.nan),
                          "val_loss": logs.get("val_loss", math.nan)})
        if (epoch + 1) % self.every:
            return
        try:
            import matplotlib.pyplot as plt
            from IPython.display import display
        except ImportError:
            return
        fig, ax = plt.subplots(figsize=(6, 3))
        ep = [r["epoch"] for r in self.rows]
        ax.plot(ep, [r["loss"] for r in self.rows], label="train")
        ax.plot(ep, [r["val_loss"] for r in self.rows], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (nats/char)")
        ax.legend()
        ax.grid(alpha=0.3)
        # redraw in place through a display handle: clear_output would also erase what
        # other callbacks printed in between (the samples after each epoch)
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)


def evolution(history: list[dict], epoch_samples: list[dict], epochs=(1, 3, 10),
              temperature: float | None = None, chars: int = 180, x: str = "seconds"):
    """How a model learns: the validation curve, and beside it what the model wrote after
    a few epochs (``epoch_samples`` as ``RunDir.read_samples()`` or a record's
    ``"epoch_samples"`` hold them). Epochs that did not run are skipped; returns the figure."""
    import textwrap

    import matplotlib.pyplot as plt

    if temperature is not None:
        epoch_samples = [r for r in epoch_samples if r["temperature"] == temperature]
    by_epoch: dict[int, str] = {}
    for r in epoch_samples:
        by_epoch.setdefault(r["epoch"], r["text"])
    rows = {h["epoch"]: h for h in history}
    shown = [e for e in epochs if e in by_epoch and e in rows]
    if not shown:
        raise ValueError(f"None of the epochs {tuple(epochs)} has both a sample and a history "
                         f"row (samples exist for epochs {sorted(by_epoch)}); train with "
                         "samples_per_epoch=1 to keep them.")
    fig = plt.figure(figsize=(12, 1.2 + 1.6 * len(shown)))
    grid = fig.add_gridspec(len(shown), 2, width_ratios=(1, 1.5))
    ax = fig.add_subplot(grid[:, 0])
    ax.plot([h[x] for h in history], [h["val_loss"] for h in history], marker=".", color="C0")
    for e in shown:
        h = rows[e]
        ax.plot(h[x], h["val_loss"], "o", ms=9, color="C3")
        ax.annotate(f"epoch {e}", (h[x], h["val_loss"]), textcoords="offset points",
                    xytext=(8, 6), fontsize=9, color="C3")
    ax.set_xlabel("training time (s)" if x == "seconds" else x)
    ax.set_ylabel("validation loss (nats/char)")
    ax.grid(alpha=0.3)
    for i, e in enumerate(shown):
        tax = fig.add_subplot(grid[i, 1])
        tax.axis("off")
        h = rows[e]
        text = by_epoch[e][:chars].replace("\t", "    ")
        lines = [w for line in text.split("\n") for w in (textwrap.wrap(line, 70) or [""])]
        tax.set_title(f"after epoch {e} ({h.get('seconds', 0):.0f} s, validation {h['val_loss']:.2f})",
                      loc="left", fontsize=9, color="C3")
        tax.text(0, 1, "\n".join(lines[:6]), va="top", family="monospace", fontsize=8,
                 transform=tax.transAxes)
    fig.tight_layout()
    return fig

