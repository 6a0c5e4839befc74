"""Training windows cut on the fly from one encoded corpus array.

The corpus is encoded once into a compact integer array (``uint8`` for up to 256
tokens). A batch is ``batch_size`` windows of ``seq_len + 1`` tokens starting at
random (or strided) offsets; the model reads the first ``seq_len`` tokens and
predicts the next token at every position. Memory is O(corpus) plus one batch:
no one-hot tensor of all windows is ever built.
"""

from __future__ import annotations

import math

import numpy as np
from keras.utils import PyDataset

__all__ = ["split_ids", "WindowDataset", "SequentialWindows", "StreamDataset"]


def split_ids(ids: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous split: the first ``1 - val_fraction`` for training, the rest for
    validation (nanoGPT's split for tiny-shakespeare is ``val_fraction=0.1``)."""
    if not 0 <= val_fraction < 1:
        raise ValueError("val_fraction must be in [0, 1)")
    n = int(round(len(ids) * (1 - val_fraction)))
    return ids[:n], ids[n:]


def _windows(ids: np.ndarray, starts: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    view = np.lib.stride_tricks.sliding_window_view(ids, seq_len + 1)
    w = view[starts].astype(np.int32)
    return w[:, :-1], w[:, 1:]


class WindowDataset(PyDataset):
    """Random windows of a corpus array, a fresh draw every epoch.

    Args:
        ids: the encoded corpus (1-D integer array).
        seq_len: tokens the model reads per window.
        batch_size: windows per batch.
        steps_per_epoch: batches per epoch; ``None`` covers the corpus about once.
        seed: makes the sequence of batches reproducible.
    """

    def __init__(self, ids: np.ndarray, seq_len: int = 128, batch_size: int = 64,
                 steps_per_epoch: int | None = None, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError("ids must be a 1-D array")
        if len(ids) < seq_len + 2:
            raise ValueError(
                f"The corpus has {len(ids)} tokens, too few for windows of {seq_len}+1; "
                "use a shorter seq_len or more text."
            )
        self.ids, self.seq_len, self.batch_size = ids, seq_len, batch_size
        self.steps = steps_per_epoch or max(1, len(ids) // (seq_len * batch_size))
        self.seed, self.epoch = seed, 0

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, i: int):
        rng = np.random.default_rng((self.seed, self.epoch, i))
        starts = rng.integers(0, len(self.ids) - self.seq_len, size=self.batch_size)
        return _windows(self.ids, starts, self.seq_len)

    def on_epoch_end(self):
        self.epoch += 1

    def __repr__(self) -> str:
        return (f"WindowDataset(tokens={len(self.ids):,}, seq_len={self.seq_len}, "
                f"batch_size={self.batch_size}, steps={self.steps})")


class StreamDataset(PyDataset):
    """Contiguous streams for truncated backpropagation through time (TBPTT).

    The corpus is read as ``batch_size`` lanes of equal length; row ``b`` of batch ``k``
    is the ``k``-th window of lane ``b``, so row ``b`` of the next batch continues exactly
    where this one ended. A model that carries its recurrent state from batch to batch
    (see :class:`helpers.model.CarryStateModel`) then reads every lane from beginning to
    end with its whole history as context, while gradients stop at window boundaries.

    One *pass* reads every lane once (``steps_per_pass`` batches), and the state must be
    reset where a pass starts (:meth:`starts_pass`). Each pass rotates the lanes to a
    fresh random starting point in the corpus (wrapping around its end), so batch ``k``
    holds different text in every pass; a fixed cut would feed the same batches in the
    same order pass after pass.

    The dataset is endless: batch ``i`` is a pure function of the global step
    ``start_step + i``, because Keras reads an endless ``PyDataset`` in order across
    epochs (pass ``steps_per_epoch`` to ``fit``), even with tf.data prefetching, whereas
    a per-epoch counter would race with the prefetch at epoch boundaries.
    """

    def __init__(self, ids: np.ndarray, seq_len: int = 128, batch_size: int = 64,
                 seed: int = 0, start_step: int = 0, **kwargs):
        super().__init__(**kwargs)
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError("ids must be a 1-D array")
        self.lane = len(ids) // batch_size
        self.steps_per_pass = (self.lane - 1) // seq_len
        if self.steps_per_pass < 1:
            raise ValueError(
                f"The corpus has {len(ids)} tokens: too few for {batch_size} streams of at "
                f"least {seq_len + 1} tokens; use a smaller batch_size or seq_len, or more text.")
        self.ids, self.seq_len, self.batch_size = ids, seq_len, batch_size
        self.seed, self.start_step = seed, start_step

    @property
    def num_batches(self):
        return None  # endless; see the class docstring

    def starts_pass(self, step: int) -> bool:
        """Does global step ``step`` begin a pass (time to reset the state)?"""
        return step % self.steps_per_pass == 0

    def lane_starts(self, pass_no: int) -> np.ndarray:
        """Where each lane begins in pass ``pass_no`` (positions in the corpus)."""
        shift = int(np.random.default_rng((self.seed, pass_no)).integers(0, len(self.ids)))
        return (shift + np.arange(self.batch_size) * self.lane) % len(self.ids)

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and targets of global step ``step``."""
        pass_no, k = divmod(step, self.steps_per_pass)
        starts = self.lane_starts(pass_no) + k * self.seq_len
        pos = (starts[:, None] + np.arange(self.seq_len + 1)) % len(self.ids)
        w = self.ids[pos].astype(np.int32)
        return w[:, :-1], w[:, 1:]

    def __getitem__(self, i: int):
        return self.batch(self.start_step + i)

    def __repr__(self) -> str:
        return (f"StreamDataset(tokens={len(self.ids):,}, streams={self.batch_size}, "
                f"seq_len={self.seq_len}, steps_per_pass={self.steps_per_pass})")


class SequentialWindows(PyDataset):
    """Non-overlapping windows in order, for validation: every token is scored once
    (the last partial window is dropped; with ``drop_remainder`` also the last
    partial batch)."""

    def __init__(self, ids: np.ndarray, seq_len: int = 128, batch_size: int = 64,
                 drop_remainder: bool = False, **kwargs):
        super().__init__(**kwargs)
        ids = np.asarray(ids)
        n_windows = (len(ids) - 1) // seq_len
        if drop_remainder:  # whole batches only (data-parallel splits need them)
            n_windows -= n_windows % batch_size
        if n_windows < 1:
            raise ValueError(f"Validation text of {len(ids)} tokens is shorter than one window "
                             f"of {seq_len}; use a larger val_fraction or a shorter seq_len.")
        self.ids, self.seq_len, self.batch_size = ids, seq_len, batch_size
        self.starts = np.arange(n_windows) * seq_len

    def __len__(self) -> int:
        return math.ceil(len(self.starts) / self.batch_size)

    def __getitem__(self, i: int):
        return _windows(self.ids, self.starts[i * self.batch_size:(i + 1) * self.batch_size],
                        self.seq_len)
