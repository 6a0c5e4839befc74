"""A lean NumPy forward pass of a trained model, one token at a time.

Sampling is a loop of single steps with batch sizes of 1 to a few dozen. At that
size a framework's per-call overhead (graph dispatch, device syncs) dominates the
arithmetic, so we copy the trained weights out once and step in NumPy: the same
equations as Keras' ``LSTMCell`` / ``GRUCell`` (checked in the tests), with the
first layer's input projection folded into a lookup table (``embedding @ W + b``).

The same pass can record every layer's hidden state, cell state and gates, which
is what :mod:`helpers.activations` visualises.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .settings import STATES_PER_CELL

if TYPE_CHECKING:
    import keras

__all__ = ["NumpyRNN", "blas_single_thread"]


def blas_single_thread():
    """Context manager: one BLAS thread. Step-sized matrix products (a few rows) run
    faster on one thread than on several that wake up and synchronise per call."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional; only a speed-up
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # exact identity, no overflow warnings


@dataclass
class _Cell:
    kind: str  # "lstm" | "gru"
    W: np.ndarray  # input kernel
    U: np.ndarray  # recurrent kernel
    b: np.ndarray  # bias (LSTM: (4u,); GRU: (2, 3u) input/recurrent)
    units: int


class NumpyRNN:
    """Forward pass of a :func:`helpers.model.build_model` network in NumPy."""

    def __init__(self, embedding: np.ndarray, cells: list[_Cell], dense_W: np.ndarray,
                 dense_b: np.ndarray):
        self.embedding = embedding
        self.cells = cells
        self.dense_W, self.dense_b = dense_W, dense_b
        c0 = cells[0]
        bias0 = c0.b if c0.kind == "lstm" else c0.b[0]
        self.table0 = (embedding @ c0.W + bias0).astype(np.float32)  # (V, gates*u)

    @classmethod
    def from_model(cls, model: keras.Model) -> NumpyRNN:
        """Copy the weights out of a Keras model built by ``build_model``. (Without
        Keras, :func:`helpers.kerasfile.load_engine` reads them from a ``.keras`` file.)"""
        # imported here: sampling from a file must not pay seconds for Keras' start-up
        import keras
        from keras import layers

        from .model import rnn_layers

        def arr(v):
            return np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float32)

        emb = arr(model.get_layer("embedding").embeddings)
        cells = []
        for layer in rnn_layers(model):
            c = layer.cell
            if isinstance(layer, layers.GRU):
                if not c.reset_after:
                    raise ValueError("Only GRU(reset_after=True), the Keras default, is supported.")
                b = arr(c.bias) if c.use_bias else np.zeros((2, 3 * c.units), np.float32)
                cells.append(_Cell("gru", arr(c.kernel), arr(c.recurrent_kernel), b, c.units))
            else:
                b = arr(c.bias) if c.use_bias else np.zeros(4 * c.units, np.float32)
                cells.append(_Cell("lstm", arr(c.kernel), arr(c.recurrent_kernel), b, c.units))
        dense = model.get_layer("logits")
        return cls(emb, cells, arr(dense.kernel), arr(dense.bias))

    @property
    def vocab_size(self) -> int:
        return self.embedding.shape[0]

    def count_params(self) -> int:
        """Trainable numbers of the network, as Keras counts them (the folded input
        table is derived, not counted)."""
        arrays = [self.embedding, self.dense_W, self.dense_b]
        arrays += [a for c in self.cells for a in (c.W, c.U, c.b)]
        return int(sum(a.size for a in arrays))

    def __repr__(self) -> str:
        desc = " -> ".join(f"{c.kind.upper()}({c.units})" for c in self.cells)
        return f"NumpyRNN(vocab={self.vocab_size}, {desc})"

    def initial_state(self, batch: int = 1) -> list[np.ndarray]:
        """Zero state: ``[h, c]`` per LSTM layer, ``[h]`` per GRU layer."""
        out = []
        for c in self.cells:
            out += [np.zeros((batch, c.units), np.float32)] * STATES_PER_CELL[c.kind]
        return out

    def step(self, tokens: np.ndarray, state: list[np.ndarray], record: dict | None = None):
        """Advance one token. ``tokens``: int array ``[batch]``. Returns ``(logits, state)``.

        With ``record`` (a dict), appends each layer's ``h``, ``c`` and gates to lists in it.
        """
        tokens = np.asarray(tokens)
        new_state: list[np.ndarray] = []
        x = None
        k = 0
        for li, c in enumerate(self.cells):
            u = c.units
            if c.kind == "lstm":
                h, cs = state[k], state[k + 1]
                k += 2
                z = self.table0[tokens] if li == 0 else x @ c.W + c.b
                z = z + h @ c.U
                i = _sigmoid(z[:, :u])
                f = _sigmoid(z[:, u:2 * u])
                g = np.tanh(z[:, 2 * u:3 * u])
                o = _sigmoid(z[:, 3 * u:])
                cs = f * cs + i * g
                h = o * np.tanh(cs)
                new_state += [h, cs]
                if record is not None:
                    for name, val in (("h", h), ("c", cs), ("i", i), ("f", f), ("g", g), ("o", o)):
                        record.setdefault(f"{li}/{name}", []).append(val)
            else:
                h = state[k]
                k += 1
                xz = self.table0[tokens] if li == 0 else x @ c.W + c.b[0]
                hz = h @ c.U + c.b[1]
                zg = _sigmoid(xz[:, :u] + hz[:, :u])
                r = _sigmoid(xz[:, u:2 * u] + hz[:, u:2 * u])
                hh = np.tanh(xz[:, 2 * u:] + r * hz[:, 2 * u:])
                h = zg * h + (1.0 - zg) * hh
                new_state.append(h)
                if record is not None:
                    for name, val in (("h", h), ("z", zg), ("r", r)):
                        record.setdefault(f"{li}/{name}", []).append(val)
            x = h
        return x @ self.dense_W + self.dense_b, new_state

    def run(self, tokens: np.ndarray, state: list[np.ndarray] | None = None,
            record: bool = False, return_logits: bool = True):
        """Run a whole sequence ``[T]`` or batch ``[B, T]`` step by step.

        Returns ``(logits [B, T, V] or None, final_state, records)`` where ``records``
        maps ``"layer/h"``, ``"layer/c"``, gate names... to arrays ``[B, T, units]``
        (empty unless ``record=True``).
        """
        tokens = np.asarray(tokens)
        squeeze = tokens.ndim == 1
        if squeeze:
            tokens = tokens[None, :]
        state = state if state is not None else self.initial_state(tokens.shape[0])
        rec: dict | None = {} if record else None
        outs = []
        with blas_single_thread() if tokens.shape[0] <= 64 else contextlib.nullcontext():
            for t in range(tokens.shape[1]):
                logits, state = self.step(tokens[:, t], state, rec)
                if return_logits:
                    outs.append(logits)
        logits = np.stack(outs, axis=1) if outs else None
        records = {k: np.stack(v, axis=1) for k, v in (rec or {}).items()}
        if squeeze:
            logits = None if logits is None else logits[0]
            records = {k: v[0] for k, v in records.items()}
        return logits, state, records
