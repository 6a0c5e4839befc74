"""What do single LSTM cells track? Record, rank and render neuron activations.

>>> acts = record(model, vocab, text)            # one pass, every layer        # doctest: +SKIP
>>> ranking = find_neurons(acts, in_quotes(text))                               # doctest: +SKIP
>>> neuron_html(text, acts.get("1/c")[:, ranking[0].neuron])                    # doctest: +SKIP

Features are per-character arrays over the text: :func:`in_quotes`,
:func:`paren_depth`, :func:`line_position`, :func:`indentation`,
:func:`in_string_or_comment` (Python code), or any function of your own.
"""

from __future__ import annotations

import html
import io
import tokenize
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .engine import NumpyRNN
from .textio import atomic_write_text

__all__ = ["Activations", "record", "find_neurons", "NeuronScore", "in_quotes", "paren_depth",
           "line_position", "indentation", "in_string_or_comment", "neuron_html",
           "save_neuron_html", "heatmap", "top_passages", "most_active", "most_active_table"]


@dataclass
class Activations:
    """Per-character recordings: ``arrays["L/h"]`` etc. have shape ``[len(text), units]``
    and row ``i`` is the state *after* reading character ``i``."""

    text: str
    arrays: dict[str, np.ndarray]

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.arrays))
        return f"Activations(chars={len(self.text):,}, arrays=[{keys}])"

    def get(self, key: str = "0/h") -> np.ndarray:
        if key not in self.arrays:
            raise KeyError(f"No recording {key!r}; have {sorted(self.arrays)}")
        return self.arrays[key]

    def all_neurons(self, kinds: tuple[str, ...] = ("h", "c")) -> tuple[np.ndarray, list[str]]:
        """Every recorded neuron of the given kinds side by side, with labels."""
        cols, labels = [], []
        for key in sorted(self.arrays):
            if key.split("/")[1] in kinds:
                a = self.arrays[key]
                cols.append(a)
                labels += [f"{key}[{j}]" for j in range(a.shape[1])]
        return np.concatenate(cols, axis=1), labels


def record(model, vocab, text: str, kinds: tuple[str, ...] | None = None) -> Activations:
    """Run ``text`` through the model once, recording hidden states (``h``), cell
    states (``c``) and gates of every layer for every character."""
    eng = model if isinstance(model, NumpyRNN) else NumpyRNN.from_model(model)
    ids = vocab.encode(text, errors="unk").astype(np.int64)
    _, _, rec = eng.run(ids, record=True, return_logits=False)
    if kinds is not None:
        rec = {k: v for k, v in rec.items() if k.split("/")[1] in kinds}
    return Activations(text, rec)


# --- features of the text ------------------------------------------------------------
_CLOSING = {"“": "”", "‘": "’", "«": "»", "„": "“"}
_ONLY_CLOSE = {"”", "’", "»"}  # these never open a quotation


def in_quotes(text: str, quotes: str = "\"'“”‘’") -> np.ndarray:
    """1 inside a quotation (between an opening and a closing quote), else 0.
    A quote character counts as inside. Curly quotes close with their partner (“ with ”,
    ‘ with ’); straight ones with themselves. Apostrophes within words (``don't``,
    ``don’t``) are ignored."""
    out = np.zeros(len(text), np.float32)
    open_q = None
    for i, ch in enumerate(text):
        if ch in quotes:
            word_inner = ch in "'’" and 0 < i < len(text) - 1 and text[i - 1].isalpha() \
                and text[i + 1].isalpha()
            if word_inner:
                out[i] = 1.0 if open_q else 0.0
                continue
            if open_q is None and ch not in _ONLY_CLOSE:
                open_q = ch
                out[i] = 1.0
                continue
            if open_q is not None and ch == _CLOSING.get(open_q, open_q):
                out[i] = 1.0
                open_q = None
                continue
        out[i] = 1.0 if open_q else 0.0
    return out


def paren_depth(text: str, pairs: str = "()[]{}") -> np.ndarray:
    """Nesting depth of brackets at each character."""
    opens, closes = pairs[0::2], pairs[1::2]
    out = np.zeros(len(text), np.float32)
    d = 0
    for i, ch in enumerate(text):
        if ch in opens:
            d += 1
        out[i] = d
        if ch in closes:
            d = max(0, d - 1)
    return out


def line_position(text: str) -> np.ndarray:
    """Column of each character in its line (0 at the start of a line)."""
    out = np.zeros(len(text), np.float32)
    col = 0
    for i, ch in enumerate(text):
        out[i] = col
        col = 0 if ch == "\n" else col + 1
    return out


def indentation(text: str) -> np.ndarray:
    """Indentation (leading spaces) of the line each character is on."""
    out = np.zeros(len(text), np.float32)
    pos = 0
    for line in text.split("\n"):
        ind = len(line) - len(line.lstrip(" "))
        out[pos:pos + len(line) + 1] = ind
        pos += len(line) + 1
    return out[: len(text)]


def in_string_or_comment(code: str) -> np.ndarray:
    """1 inside a Python string literal or comment (by :mod:`tokenize`), else 0."""
    from .pysource import token_offsets

    out = np.zeros(len(code), np.float32)
    off = token_offsets(code)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (tokenize.STRING, tokenize.COMMENT):
                out[off(tok.start):off(tok.end)] = 1.0
    except (tokenize.TokenError, SyntaxError, IndexError):
        pass  # partial code: keep what was tokenised
    return out


# --- neuron finder -------------------------------------------------------------------
@dataclass
class NeuronScore:
    label: str
    neuron: int
    key: str
    correlation: float

    def __repr__(self) -> str:
        return f"NeuronScore({self.label}, r={self.correlation:+.3f})"


def find_neurons(acts: Activations, feature: np.ndarray | Callable[[str], np.ndarray],
                 kinds: tuple[str, ...] = ("h", "c"), top: int = 10) -> list[NeuronScore]:
    """Rank neurons by the absolute Pearson correlation of their activation with a
    per-character ``feature`` (an array, or a function of the text)."""
    f = feature(acts.text) if callable(feature) else np.asarray(feature, np.float64)
    if len(f) != len(acts.text):
        raise ValueError(f"The feature has {len(f)} values for {len(acts.text)} characters.")
    X, labels = acts.all_neurons(kinds)
    X = X.astype(np.float64)
    fc = f - f.mean()
    Xc = X - X.mean(axis=0)
    denom = np.sqrt((Xc ** 2).sum(axis=0) * (fc ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (Xc * fc[:, None]).sum(axis=0) / denom
    r = np.nan_to_num(r)
    order = np.argsort(-np.abs(r))[:top]
    out = []
    for j in order:
        key, idx = labels[j].split("[")
        out.append(NeuronScore(labels[j], int(idx.rstrip("]")), key, float(r[j])))
    return out


# --- renderings ----------------------------------------------------------------------
# The diverging scale of every neuron and probability colouring: orange below zero,
# white at zero, blue above. Blue against orange stays apart for readers with red-green
# colour blindness (the commonest kind), and both ends are light enough for black text
# (contrast about 6:1): ColorBrewer's PuOr orange and RdBu blue.
NEGATIVE = (230, 97, 1)    # #e66101
POSITIVE = (67, 147, 195)  # #4393c3
NAN_COLOUR = "#d0d0d0"     # grey: a value that is not a number is neither sign


def _colour(v: float) -> str:
    """-1 -> orange, 0 -> white, +1 -> blue, blended linearly in between; NaN -> grey."""
    v = float(v)
    if v != v:  # NaN (an infinity is clipped to the end of the scale like any big value)
        return NAN_COLOUR
    v = float(np.clip(v, -1, 1))
    end = POSITIVE if v >= 0 else NEGATIVE
    r, g, b = (round(255 - abs(v) * (255 - e)) for e in end)
    return f"#{r:02x}{g:02x}{b:02x}"


def colormap():
    """The same orange-white-blue scale as a matplotlib colormap (for :func:`heatmap`)."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(
        "orange_white_blue", [tuple(c / 255 for c in NEGATIVE), (1, 1, 1),
                              tuple(c / 255 for c in POSITIVE)])


def neuron_html(text: str, values: np.ndarray, title: str = "", scale: float | None = None) -> str:
    """HTML of ``text`` with each character's background coloured by ``values``
    (blue positive, orange negative). The colour scale is symmetric around 0 and runs to
    ``scale`` (default: the largest |value| shown, so nothing saturates; a cell state can
    reach well past ±1); a legend under the title says which colour is which sign. Returns
    a string; in Jupyter wrap it with ``IPython.display.HTML``."""
    # only the values of the characters shown set the scale (a longer array may be passed)
    values = np.asarray(values, dtype=np.float64).reshape(-1)[: len(text)]
    # the scale comes from the finite values: one NaN or infinity (a diverged model)
    # must not turn every colour into NaN; those characters are grey, or full colour
    finite = np.abs(values[np.isfinite(values)])
    if scale and not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    s = float(scale or (finite.max(initial=0.0) or 1.0))
    legend = (f"<div style='font-size:12px;margin:2px 0 6px'>"
              f"<span style='background:{_colour(-1)}'>&nbsp;−{s:.2f}&nbsp;</span> "
              f"<span style='background:{_colour(-0.5)}'>&nbsp;−{s / 2:.2f}&nbsp;</span> "
              f"<span style='background:{_colour(0)};border:1px solid #ddd'>&nbsp;0&nbsp;</span> "
              f"<span style='background:{_colour(0.5)}'>&nbsp;+{s / 2:.2f}&nbsp;</span> "
              f"<span style='background:{_colour(1)}'>&nbsp;+{s:.2f}&nbsp;</span>"
              " &nbsp;orange: below zero, blue: above (hover a character for its value)</div>")
    spans = []
    # a value past the float range over a tiny scale is +-inf: clipped, not a warning
    with np.errstate(over="ignore"):
        ratios = values / s
    for ch, v, r in zip(text, values, ratios, strict=False):
        shown = "⏎<br>" if ch == "\n" else html.escape(ch).replace(" ", "&nbsp;")
        spans.append(f'<span style="background:{_colour(r)}" title="{v:+.3f}">{shown}</span>')
    head = f"<div style='font-weight:bold;margin:4px 0'>{html.escape(title)}</div>" if title else ""
    head += legend
    return (f"{head}<div style='font-family:monospace;font-size:13px;line-height:1.5;"
            f"color:#000;white-space:normal'>{''.join(spans)}</div>")


def save_neuron_html(path, text: str, values: np.ndarray, title: str = "") -> str:
    """Write a standalone HTML page of :func:`neuron_html` (atomically)."""
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body style='background:#fff'>{neuron_html(text, values, title)}"
            "</body></html>")
    atomic_write_text(path, page)
    return str(path)


def heatmap(acts: Activations, key: str = "0/h", neurons: list[int] | None = None,
            start: int = 0, length: int = 120, ax=None, per_row: bool = False,
            chars_per_panel: int = 60):
    """A matplotlib heatmap of many neurons (rows) over a passage (columns), with
    the characters as column labels.

    The colour scale (orange below zero, blue above) is symmetric around 0 and as wide as
    the largest |value| shown. ``per_row=True`` gives each row a scale of its own (its
    largest |value|, written in its label): cell states of one layer can differ tenfold in
    size, and on a shared scale the small ones fade to white. Without ``ax``, a passage
    longer than ``chars_per_panel`` is drawn in panels one under the other, so that the
    figure fits a page (10 inches, 1,000 pixels at 100 dpi) with every character label
    readable. Returns the axes of the first panel (``ax.figure.axes`` holds all)."""
    import matplotlib.pyplot as plt

    a = acts.get(key)
    neurons = list(range(min(32, a.shape[1]))) if neurons is None else list(neurons)
    seg = a[start:start + length, neurons].T.astype(np.float64)
    chars = acts.text[start:start + length]
    labels = [f"{key}[{n}]" for n in neurons]
    if per_row:
        peaks = np.abs(seg).max(axis=1)
        seg = seg / np.where(peaks > 0, peaks, 1.0)[:, None]
        labels = [f"{lab} ±{p:.2g}" for lab, p in zip(labels, peaks, strict=True)]
    # symmetric around 0 and as wide as the values: cell states reach past ±1, and a
    # clipped scale would paint 1.1 and 2.2 the same
    lim = 1.0 if per_row else (float(np.abs(seg).max()) if seg.size else 0.0) or 1.0
    if ax is None:
        panels = max(1, -(-len(chars) // chars_per_panel))
        width = max(1, -(-len(chars) // panels))    # panels of equal length
        _, axes = plt.subplots(panels, 1, squeeze=False,
                               figsize=(min(10.0, 0.13 * width + 2.8),
                                        panels * (0.22 * len(neurons) + 0.7)))
        axes = list(axes[:, 0])
    else:
        width, axes = max(1, len(chars)), [ax]
    for k, panel in enumerate(axes):
        lo, hi = k * width, min((k + 1) * width, len(chars))
        im = panel.imshow(seg[:, lo:hi], aspect="auto", cmap=colormap(), vmin=-lim, vmax=lim,
                          interpolation="nearest")
        panel.set_xticks(range(hi - lo))
        panel.set_xticklabels(["⏎" if c == "\n" else c for c in chars[lo:hi]], fontsize=8,
                              family="monospace")
        panel.set_yticks(range(len(neurons)))
        panel.set_yticklabels(labels, fontsize=8)
        panel.tick_params(length=0)
    bar = axes[0].figure.colorbar(im, ax=axes, fraction=0.02, pad=0.01)
    if per_row:
        bar.set_label("value / the row's largest |value|", fontsize=8)
    return axes[0]


def top_passages(acts: Activations, key: str, neuron: int, k: int = 5, width: int = 40,
                 ) -> list[tuple[float, str, int]]:
    """The ``k`` passages where a neuron fires most: ``(value, passage, position)``,
    the character at ``position`` in the middle of the passage."""
    a = acts.get(key)[:, neuron]
    out, taken = [], np.zeros(len(a), bool)
    for i in np.argsort(-a):
        if len(out) >= k:
            break
        if taken[max(0, i - width):i + width].any():
            continue
        taken[i] = True
        lo, hi = max(0, i - width), min(len(acts.text), i + width)
        out.append((float(a[i]), acts.text[lo:hi], int(i)))
    return out


def most_active(acts: Activations, key: str = "1/h") -> tuple[np.ndarray, np.ndarray]:
    """For each character, the neuron of ``key`` with the largest |activation| and that
    activation (the view of chapter 5 of Douwe Osinga's *Deep Learning Cookbook*: which cell
    speaks up where)."""
    a = acts.get(key)
    idx = np.abs(a).argmax(axis=1)
    return idx, a[np.arange(len(a)), idx]


def most_active_table(acts: Activations, key: str = "1/h", start: int = 0, length: int = 60,
                      per_row: int = 15) -> str:
    """:func:`most_active` over a passage as text: the characters, under each the neuron
    that wins there, and how often each neuron wins in the whole recording."""
    idx, _ = most_active(acts, key)
    end = min(start + length, len(acts.text))
    rows = []
    for a in range(start, end, per_row):
        b = min(a + per_row, end)
        chars = ["⏎" if c == "\n" else ("␣" if c == " " else c) for c in acts.text[a:b]]
        rows.append("".join(f"{c:>5}" for c in chars))
        rows.append("".join(f"{n:>5}" for n in idx[a:b]))
    counts = np.bincount(idx, minlength=acts.get(key).shape[1])
    top = np.argsort(-counts)[:5]
    wins = ", ".join(f"[{j}] {counts[j] / len(idx):.0%}" for j in top)
    return "\n".join(rows) + f"\nmost often the most active neuron of {key}: {wins}"
