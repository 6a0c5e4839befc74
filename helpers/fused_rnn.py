"""The recurrent layers' whole-sequence kernel on a CPU, for Keras on torch.

On a GPU, Keras hands an LSTM or GRU layer's whole sequence to cuDNN in one call. On a
CPU its torch backend runs a Python loop of small matrix products instead, one per time
step: the slowest of the three backends (``bench/bench_kernel.py``). PyTorch has a fused
CPU kernel too. The very call Keras makes for cuDNN (``torch._VF.lstm`` / ``gru``, in
Keras's ``_cudnn_lstm`` / ``_cudnn_gru``) runs ATen's CPU implementation when the tensors
are on the CPU, and for the LSTM that is oneDNN's, which also uses the bfloat16 matrix
units of recent Intel CPUs under ``precision="mixed_bfloat16"``
(:func:`helpers.machine.bf16_matrix_units` tells whether this CPU has them).

Inside ``with fused_cpu_rnn():`` the layers take that path. Nothing else changes: the
layers, their weights and the saved ``.keras`` files are the usual ones, and the results
equal the loop's to float32 rounding (``tests/test_fused_rnn.py``). Whatever the fused
call does not cover goes to Keras's own code as before: masks, ``go_backwards``,
``unroll``, other activations, no bias, float16, tensors not on the CPU (the GPU keeps
cuDNN), and the TensorFlow and JAX backends. :func:`helpers.train.train` and
:func:`helpers.evaluate.text_loss` use it, so ``python -m helpers train`` on torch gets it.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager

import keras

__all__ = ["available", "fused_cpu_rnn"]

_MARK = "_textgen_fused"  # set on our wrappers, so a nested ``with`` does not wrap twice


def _torch_rnn():
    """Keras's torch RNN module, or None off torch or where its fused calls are missing."""
    if keras.backend.backend() != "torch":
        return None
    mod = importlib.import_module("keras.src.backend.torch.rnn")
    if not all(callable(getattr(mod, n, None)) for n in ("_cudnn_lstm", "_cudnn_gru")):
        return None  # a Keras that moved them: the loop still works, only slower
    return mod


def available() -> bool:
    """Whether :func:`fused_cpu_rnn` changes anything here (Keras on torch)."""
    return _torch_rnn() is not None


def _eligible(inputs, mask, go_backwards, unroll, bias, activation, recurrent_activation):
    """What the fused kernel computes: the standard cell on CPU tensors, whole sequences."""
    import torch

    return (mask is None and not go_backwards and not unroll and bias is not None
            and activation in (keras.activations.tanh, keras.ops.tanh, torch.tanh)
            and recurrent_activation in (keras.activations.sigmoid, keras.ops.sigmoid,
                                         torch.sigmoid)
            # a symbolic build runs on the "meta" device: leave it to Keras
            and isinstance(inputs, torch.Tensor) and inputs.device.type == "cpu"
            # the dtypes oneDNN's CPU kernel is built for (float16 keeps Keras's loop)
            and inputs.dtype in (torch.float32, torch.bfloat16))


def _tensors(inputs, states, kernel, recurrent_kernel, bias):
    """As Keras's own path does: weights as tensors (autocast under mixed precision),
    inputs and states in the weights' dtype."""
    convert = keras.ops.convert_to_tensor
    kernel, recurrent_kernel, bias = convert(kernel), convert(recurrent_kernel), convert(bias)
    dtype = kernel.dtype
    return (convert(inputs).to(dtype), [convert(s).to(dtype) for s in states],
            kernel, recurrent_kernel, bias)


def _fused_lstm(original, mod):
    def lstm(inputs, initial_state_h, initial_state_c, mask, kernel, recurrent_kernel, bias,
             activation, recurrent_activation, return_sequences=False, go_backwards=False,
             unroll=False, batch_first=True):
        if not (batch_first and _eligible(inputs, mask, go_backwards, unroll, bias,
                                          activation, recurrent_activation)):
            return original(inputs, initial_state_h, initial_state_c, mask, kernel,
                            recurrent_kernel, bias, activation, recurrent_activation,
                            return_sequences=return_sequences, go_backwards=go_backwards,
                            unroll=unroll, batch_first=batch_first)
        x, (h, c), k, rk, b = _tensors(inputs, (initial_state_h, initial_state_c), kernel,
                                       recurrent_kernel, bias)
        return mod._cudnn_lstm(x, h, c, k, rk, b, return_sequences=return_sequences,
                               device=x.device)

    setattr(lstm, _MARK, True)
    return lstm


def _fused_gru(original, mod):
    def gru(inputs, initial_state, mask, kernel, recurrent_kernel, bias, activation,
            recurrent_activation, return_sequences=False, go_backwards=False, unroll=False,
            reset_after=True):
        if not (reset_after and _eligible(inputs, mask, go_backwards, unroll, bias,
                                          activation, recurrent_activation)):
            return original(inputs, initial_state, mask, kernel, recurrent_kernel, bias,
                            activation, recurrent_activation,
                            return_sequences=return_sequences, go_backwards=go_backwards,
                            unroll=unroll, reset_after=reset_after)
        x, (h,), k, rk, b = _tensors(inputs, (initial_state,), kernel, recurrent_kernel, bias)
        return mod._cudnn_gru(x, h, k, rk, b, return_sequences=return_sequences,
                              device=x.device)

    setattr(gru, _MARK, True)
    return gru


@contextmanager
def fused_cpu_rnn():
    """Run Keras LSTM and GRU layers through PyTorch's fused CPU kernel inside the block.

    Yields whether it is in effect (False off the torch backend, where it does nothing).
    The layers look ``backend.lstm`` / ``backend.gru`` up at each call, so the block
    swaps those two functions for wrappers and puts Keras's back on the way out."""
    mod = _torch_rnn()
    if mod is None:
        yield False
        return
    kb = importlib.import_module("keras.src.backend")
    if getattr(kb.lstm, _MARK, False):  # already inside one
        yield True
        return
    saved = kb.lstm, kb.gru
    kb.lstm, kb.gru = _fused_lstm(saved[0], mod), _fused_gru(saved[1], mod)
    try:
        yield True
    finally:
        kb.lstm, kb.gru = saved
