"""Plots the notebooks show: character frequencies, loss curves (live while training)."""

from __future__ import annotations

import math
from collections import Counter

import keras

__all__ = ["char_frequencies", "loss_curves", "LivePlot", "evolution", "next_token_chart"]


def char_frequencies(text: str, top: int = 60, ax=None, log: bool = True):
    """Bar chart of the most frequent characters (whitespace shown by name)."""
    import matplotlib.pyplot as plt

    names = {" ": "␣", "\n": "⏎", "\t": "⇥", "\x02": "START", "\x03": "END", "\x04": "UNK"}
    counts = Counter(text).most_common(top)
    if ax is None:
        # at most 10 inches: 1,000 pixels at 100 dpi, the width of a page
        _, ax = plt.subplots(figsize=(min(10, 0.15 * len(counts) + 1.2), 3))
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
    fig = plt.figure(figsize=(10, 1.4 + 1.8 * len(shown)))  # page width: readable when shown
    grid = fig.add_gridspec(len(shown), 2, width_ratios=(1, 1.6))
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
        # the special tokens have no glyph in the font: start/end go, unknown shows as "?"
        text = (by_epoch[e][:chars].replace("\t", "    ").replace("\x04", "?")
                .replace("\x02", "").replace("\x03", ""))
        lines = [w for line in text.split("\n") for w in (textwrap.wrap(line, 60) or [""])]
        tax.set_title(f"after epoch {e} ({h.get('seconds', 0):.0f} s, validation {h['val_loss']:.2f})",
                      loc="left", fontsize=9, color="C3")
        tax.text(0, 1, "\n".join(lines[:6]), va="top", family="monospace", fontsize=9,
                 transform=tax.transAxes)
    fig.tight_layout()
    return fig


def next_token_chart(generator, prompt: str, temperatures=(0.3, 1.0, 1.5), top_k: int | None = 5,
                     top_p: float | None = 0.9, top: int = 15, axes=None):
    """What temperature does to the next token: one bar chart per temperature of the
    ``top`` likeliest tokens after ``prompt``, with the top-k and the top-p cut-offs
    drawn as vertical lines (each alone, as if it were the only rule).

    The kept tokens come from :func:`helpers.sample.truncation_mask`, the function
    sampling itself uses, so a line sits exactly where ``sample_from_logits`` stops
    drawing. The lines carry ``gid`` ``"top_k"`` / ``"top_p"`` and sit at x = (tokens
    kept) - 0.5; a top-p set wider than the chart is drawn at its right edge and its
    legend says how many it keeps. Returns the axes, one per temperature.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from .sample import softmax, token_label, truncation_mask

    logits = generator.next_logits(prompt)
    # dividing by T > 0 keeps the ranking, so one order serves every panel
    order = np.argsort(-logits, kind="stable")[:top]
    labels = [token_label(generator.vocab.tokens[i]) for i in order]
    if axes is None:
        # panels share 10 inches (1,000 pixels at 100 dpi, the width of a page)
        _, axes = plt.subplots(1, len(temperatures), figsize=(min(10, 3.6 * len(temperatures)), 3.2),
                               sharey=True, squeeze=False)
        axes = axes[0]
    x = np.arange(len(order))
    for ax, t in zip(axes, temperatures, strict=True):
        p = softmax(logits, t)
        ax.bar(x, p[order], color="#4c72b0")
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=9, rotation=90 if max(map(len, labels)) > 2 else 0)
        for rule, kw, style in (("top_k", {"top_k": top_k}, ("--", "C1")),
                                ("top_p", {"top_p": top_p}, (":", "C4"))):  # orange, purple
            if kw[rule] is None:
                continue
            kept = int(truncation_mask(p, **kw)[0].sum())
            name = f"top-k {top_k}" if rule == "top_k" else f"top-p {top_p}"
            ax.axvline(min(kept, len(order)) - 0.5, ls=style[0], color=style[1], lw=1.5,
                       gid=rule, label=f"{name}: keeps {kept}")
        ax.set_title(f"T = {t}")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("probability of the next token")
    axes[0].figure.suptitle(f"next token after {prompt!r}", fontsize=10)
    axes[0].figure.tight_layout()
    return axes
