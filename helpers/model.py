"""The stacked-RNN language model and its one-step inference form.

``build_model`` makes ``Embedding -> N x (LSTM | GRU) with dropout -> Dense logits``.
The network reads integer token ids and returns unnormalised logits for the next
token at every position (train it with ``from_logits=True``).

``build_step_model`` makes a second Keras model that runs *one* token through the
same layer objects (so it shares the trained weights) and carries the recurrent
state in and out, which is what sampling needs.
"""

from __future__ import annotations

from contextlib import contextmanager

import keras
import numpy as np
from keras import layers, ops

from .settings import STATES_PER_CELL, ModelConfig

__all__ = ["CarryStateModel", "ModelConfig", "RegularisedModel", "StepModel", "build_model",
           "build_step_model", "config_of", "count_params", "dropped_connections", "rnn_layers",
           "state_sizes"]

CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}


def build_model(config: ModelConfig, name: str = "char_rnn",
                precision: str | None = None) -> keras.Model:
    """Build the training/evaluation model (not compiled). For training with the
    state carried between batches, wrap it in :class:`CarryStateModel`.

    ``precision`` ("mixed_float16", "mixed_bfloat16") builds the layers under that Keras
    dtype policy (they keep it once built; the global policy is restored after)."""
    if precision is not None:
        previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(precision)
        try:
            return build_model(config, name)
        finally:
            keras.mixed_precision.set_global_policy(previous)
    cell = CELLS[config.cell]
    inputs = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = layers.Embedding(config.vocab_size, config.embed_dim, name="embedding")(inputs)
    if config.embed_dropout:  # whole token vectors: one mask value per position
        x = layers.Dropout(config.embed_dropout, noise_shape=(None, None, 1),
                           name="embed_dropout")(x)
    for i in range(config.layers):
        x = cell(config.units, return_sequences=True, name=f"rnn_{i}")(x)
        if config.dropout:
            # locked: one mask per sequence, broadcast over the time axis
            shape = (None, 1, config.units) if config.locked_dropout else None
            x = layers.Dropout(config.dropout, noise_shape=shape, name=f"dropout_{i}")(x)
    logits = layers.Dense(config.vocab_size, name="logits", dtype="float32")(x)
    model = keras.Model(inputs, logits, name=name)
    model.textgen_config = config  # handy; the bundle stores it as JSON too
    return model


def rnn_layers(model: keras.Model) -> list:
    """The recurrent layers of a model built by :func:`build_model`, in order."""
    return [layer for layer in model.layers if isinstance(layer, (layers.LSTM, layers.GRU))]


def config_of(model: keras.Model) -> ModelConfig:
    """Recover the :class:`ModelConfig` of a model built by :func:`build_model`
    (also after it was saved and loaded)."""
    cfg = getattr(model, "textgen_config", None)
    if cfg is not None:
        return cfg
    emb = model.get_layer("embedding")
    rnns = rnn_layers(model)
    if not rnns:
        raise ValueError("This model has no LSTM/GRU layers; was it built by build_model()?")
    drops = [layer for layer in model.layers if isinstance(layer, layers.Dropout)]
    embed = [d for d in drops if d.name == "embed_dropout"]
    drop = [d for d in drops if d.name != "embed_dropout"]
    return ModelConfig(
        vocab_size=emb.input_dim, embed_dim=emb.output_dim, units=rnns[0].units,
        layers=len(rnns), cell="gru" if isinstance(rnns[0], layers.GRU) else "lstm",
        dropout=drop[0].rate if drop else 0.0,
        locked_dropout=bool(drop) and drop[0].noise_shape is not None,
        embed_dropout=embed[0].rate if embed else 0.0,
    )


def n_states(layer) -> int:
    """State tensors of one recurrent layer: 2 for an LSTM (h, c), 1 for a GRU (h)."""
    return STATES_PER_CELL["lstm" if isinstance(layer, layers.LSTM) else "gru"]


def state_sizes(model: keras.Model) -> list[int]:
    """Sizes of the recurrent state tensors, layer by layer (h, c for LSTM; h for GRU)."""
    sizes = []
    for layer in rnn_layers(model):
        sizes += [layer.units] * n_states(layer)
    return sizes


class StepModel(keras.Model):
    """One-step form of a model from :func:`build_model`; see :func:`build_step_model`."""

    def __init__(self, model: keras.Model, **kwargs):
        super().__init__(name=f"{model.name}_step", **kwargs)
        self.embedding = model.get_layer("embedding")
        self.cells = [layer.cell for layer in rnn_layers(model)]
        self.n_states = [n_states(layer) for layer in rnn_layers(model)]
        self.logits = model.get_layer("logits")

    def call(self, inputs, training=False):
        token, *states = inputs
        x = self.embedding(token)
        out_states, k = [], 0
        for cell, n in zip(self.cells, self.n_states, strict=False):
            s = states[k:k + n]
            k += n
            x, new = cell(x, s if n == 2 else s[0], training=False)
            out_states += list(new) if isinstance(new, (list, tuple)) else [new]
        return [self.logits(x), *out_states]


@contextmanager
def dropped_connections(layer, rate: float, seed_generator):
    """DropConnect on the hidden-to-hidden weights of one recurrent layer, for one call.

    Inside the ``with``, ``layer.cell.recurrent_kernel`` is the variable times a fresh
    0/1 mask, scaled by ``1 / (1 - rate)``: the same dropped connections at every step
    of every sequence of this batch, and a new draw on the next call. The layer reads
    the masked matrix wherever it reads the weights (the fused cuDNN kernel included),
    and the gradient reaches the variable through the product, zero where dropped.
    Afterwards the attribute is the variable again, so inference never sees a mask
    (AWD-LSTM's WeightDrop, Merity et al. 2017)."""
    cell = layer.cell
    raw = cell.recurrent_kernel
    keep = ops.cast(keras.random.uniform(raw.shape, seed=seed_generator) >= rate, raw.dtype)
    masked = ops.cast(raw * keep / (1.0 - rate), layer.compute_dtype)
    # past Layer.__setattr__: the masked tensor must not be tracked as a weight
    object.__setattr__(cell, "recurrent_kernel", masked)
    try:
        yield masked
    finally:
        object.__setattr__(cell, "recurrent_kernel", raw)


class RegularisedModel(keras.Model):
    """Training form of a :func:`build_model` network with the AWD-LSTM regularisers that
    act only while training (Merity et al. 2017). It calls the *same* layer objects as
    ``model`` (fit this, save ``model``): the saved network is a plain one, and with
    ``training=False`` this gives exactly what ``model`` gives.

    - ``weight_drop``: DropConnect on the recurrent weights, a new mask per batch
      (:func:`dropped_connections`);
    - ``ar``: activation regularisation, ``ar * mean(h**2)`` of what the logits layer reads
      (the last recurrent layer's output after its dropout): keeps activations small;
    - ``tar``: temporal activation regularisation, ``tar * mean((h[t] - h[t-1])**2)`` of the
      last recurrent layer's output before dropout: penalises a state that jumps.
    """

    def __init__(self, model: keras.Model, weight_drop: float = 0.0, ar: float = 0.0,
                 tar: float = 0.0, seed: int | None = None, name: str | None = None, **kwargs):
        super().__init__(name=name or f"{model.name}_regularised", **kwargs)
        if not 0 <= weight_drop < 1 or ar < 0 or tar < 0:
            raise ValueError(f"weight_drop must be in [0, 1), ar and tar >= 0 (got "
                             f"{weight_drop}, {ar}, {tar})")
        self.base, self.weight_drop, self.ar, self.tar = model, weight_drop, ar, tar
        self.rnns = rnn_layers(model)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _rnn(self, layer, x, training):
        """Run one recurrent layer (the carrying form runs it from the carried state)."""
        return layer(x, training=training)

    def call(self, tokens, training=False):
        x = tokens
        for layer in self.base.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if layer in self.rnns:
                if training and self.weight_drop:
                    with dropped_connections(layer, self.weight_drop, self.seed_generator):
                        x = self._rnn(layer, x, training)
                else:
                    x = self._rnn(layer, x, training)
                if training and self.tar and layer is self.rnns[-1]:
                    step = ops.cast(x[:, 1:] - x[:, :-1], "float32")
                    self.add_loss(self.tar * ops.mean(ops.square(step)))
                continue
            if training and self.ar and layer.name == "logits":
                self.add_loss(self.ar * ops.mean(ops.square(ops.cast(x, "float32"))))
            x = layer(x, training=training)
        return x

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.base.name}, weight_drop={self.weight_drop}, "
                f"ar={self.ar}, tar={self.tar})")


class CarryStateModel(RegularisedModel):
    """Training form of a :func:`build_model` network for truncated backpropagation
    through time: each batch starts from the recurrent state the previous batch ended
    in (row by row), so with :class:`helpers.windows.StreamDataset` the network learns
    from context longer than one window, while gradients stop at window boundaries.
    It takes the regularisers of :class:`RegularisedModel` too.

    It calls the *same* layer objects as ``model`` (train this, save ``model``). The
    state lives in non-trainable variables of shape ``(batch_size, units)``, so it works
    under every backend's ``fit`` (Keras' own ``stateful=True`` LSTM fails under torch
    autograd and does not carry state under JAX in Keras 3.15). Call
    :meth:`reset_state` at the start of every pass over the data.
    """

    def __init__(self, model: keras.Model, batch_size: int, **kwargs):
        super().__init__(model, name=f"{model.name}_carry", **kwargs)
        self.batch_size = batch_size
        self.carried = [
            self.add_weight(shape=(batch_size, size), initializer="zeros", trainable=False,
                            dtype="float32", name=f"carried_{i}")
            for i, size in enumerate(state_sizes(model))
        ]
        self._first = {}  # layer -> index of its first state tensor in self.carried
        k = 0
        for layer in self.rnns:
            self._first[id(layer)] = k
            k += n_states(layer)

    def _rnn(self, layer, x, training):
        k, n = self._first[id(layer)], n_states(layer)
        # a copy: torch autograd must not see the variable change in place
        init = [ops.stop_gradient(ops.copy(v)) for v in self.carried[k:k + n]]
        layer.return_state = True  # the base model keeps return_state=False
        try:
            x, *new = layer(x, initial_state=init, training=training)
        finally:
            layer.return_state = False
        for v, s in zip(self.carried[k:k + n], new, strict=True):
            v.assign(ops.cast(s, "float32"))
        return x

    def reset_state(self, rows=None) -> None:
        """Zero the carried state: all of it (start of a pass over the data), or only the
        batch rows where the boolean array ``rows`` is true."""
        for v in self.carried:
            if rows is None:
                v.assign(ops.zeros(v.shape, "float32"))
            else:
                keep = ops.convert_to_tensor(~np.asarray(rows, bool), "float32")
                v.assign(v * ops.expand_dims(keep, 1))

    def __repr__(self) -> str:
        return f"CarryStateModel({self.base.name}, batch_size={self.batch_size})"


def build_step_model(model: keras.Model) -> keras.Model:
    """One-step form of ``model``: ``[token[batch], *states] -> [logits[batch, V], *states]``.

    It calls the *same* embedding, cell and dense layer objects as ``model``, so it
    shares its weights (train more, and the step model sees the new weights).
    Dropout is inactive here: this is inference.
    """
    return StepModel(model)


def count_params(model: keras.Model) -> int:
    return int(sum(ops.size(w) for w in model.weights))
