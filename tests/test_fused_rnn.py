"""The fused CPU kernel for Keras on torch: the same numbers as Keras's loop, the kernel
really called, Keras's own functions back afterwards, and no change on other backends."""

import importlib

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy

from helpers import fused_rnn
from helpers.evaluate import text_loss
from helpers.model import ModelConfig, build_model
from helpers.settings import TrainConfig
from helpers.train import train
from helpers.vocab import CharVocab

pytestmark = pytest.mark.core

ON_TORCH = keras.backend.backend() == "torch"
needs_torch = pytest.mark.skipif(not ON_TORCH, reason="the fused CPU path is for "
                                 "KERAS_BACKEND=torch (this run's backend has its own)")
VOCAB = CharVocab.build("abcdefghij klmnop\nqrstuvwxyz.,!?ABC")


@pytest.fixture
def calls(monkeypatch):
    """Count the calls that reach the fused kernel (Keras's torch._VF wrappers)."""
    if not ON_TORCH:
        return {}
    mod = importlib.import_module("keras.src.backend.torch.rnn")
    seen = {"lstm": 0, "gru": 0}
    for cell in seen:
        real = getattr(mod, f"_cudnn_{cell}")

        def spy(*a, _real=real, _cell=cell, **k):
            seen[_cell] += 1
            return _real(*a, **k)

        monkeypatch.setattr(mod, f"_cudnn_{cell}", spy)
    return seen


def _grads(model, x, y):
    """Loss and gradients of every weight, through torch autograd."""
    model.zero_grad()
    logits = model(x, training=True)
    loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
        y, logits, from_logits=True))
    loss.backward()
    grads = [w.value.grad for w in model.trainable_weights if w.value.grad is not None]
    return float(loss.detach()), [g.detach().numpy().copy() for g in grads]


@needs_torch
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fused_kernel_gives_keras_outputs_and_gradients(cell, calls):
    keras.utils.set_random_seed(3)
    m = build_model(ModelConfig(vocab_size=len(VOCAB), embed_dim=8, units=24, layers=2,
                                dropout=0.0, cell=cell))
    rng = np.random.default_rng(0)
    x = rng.integers(0, len(VOCAB), (3, 17)).astype("int32")
    y = rng.integers(0, len(VOCAB), (3, 17)).astype("int32")
    loop_out = convert_to_numpy(m(x))
    loop_loss, loop_grads = _grads(m, x, y)
    assert calls[cell] == 0
    with fused_rnn.fused_cpu_rnn() as active:
        fused_out = convert_to_numpy(m(x))
        fused_loss, fused_grads = _grads(m, x, y)
    assert active and calls[cell] == 4  # two layers, forward twice
    np.testing.assert_allclose(fused_out, loop_out, rtol=1e-5, atol=1e-5)
    assert fused_loss == pytest.approx(loop_loss, rel=1e-6)
    assert len(fused_grads) == len(loop_grads) == len(m.trainable_weights)
    for a, b in zip(fused_grads, loop_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@needs_torch
def test_initial_state_and_last_output_match():
    keras.utils.set_random_seed(4)
    layer = keras.layers.LSTM(16, return_state=True)
    x = np.random.default_rng(1).normal(size=(2, 9, 5)).astype("float32")
    h0 = np.random.default_rng(2).normal(size=(2, 16)).astype("float32")
    c0 = np.random.default_rng(3).normal(size=(2, 16)).astype("float32")
    loop = [convert_to_numpy(t) for t in layer(x, initial_state=[h0, c0])]
    with fused_rnn.fused_cpu_rnn():
        fused = [convert_to_numpy(t) for t in layer(x, initial_state=[h0, c0])]
    for a, b in zip(fused, loop, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@needs_torch
def test_what_the_kernel_does_not_cover_goes_to_keras(calls):
    x = np.random.default_rng(1).normal(size=(2, 7, 4)).astype("float32")
    reverse = keras.layers.LSTM(8, go_backwards=True)
    relu = keras.layers.GRU(8, activation="relu")
    expected = [convert_to_numpy(reverse(x)), convert_to_numpy(relu(x))]
    with fused_rnn.fused_cpu_rnn():
        got = [convert_to_numpy(reverse(x)), convert_to_numpy(relu(x))]
    assert calls == {"lstm": 0, "gru": 0}
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


@needs_torch
def test_bfloat16_takes_the_kernel_and_float16_keeps_the_loop(calls):
    x = np.random.default_rng(5).integers(0, len(VOCAB), (2, 11)).astype("int32")
    outs = {}
    for precision in ("mixed_bfloat16", "mixed_float16"):
        keras.utils.set_random_seed(6)
        m = build_model(ModelConfig(vocab_size=len(VOCAB), embed_dim=8, units=16, layers=1,
                                    dropout=0.0), precision=precision)
        loop = convert_to_numpy(m(x))
        before = calls["lstm"]
        with fused_rnn.fused_cpu_rnn():
            outs[precision] = (convert_to_numpy(m(x)), loop, calls["lstm"] - before)
    fused, loop, n = outs["mixed_bfloat16"]
    assert n == 1 and np.abs(fused - loop).max() < 0.05  # bfloat16 rounding, not a bug
    fused, loop, n = outs["mixed_float16"]
    assert n == 0 and np.array_equal(fused, loop)


def test_keras_functions_are_back_after_the_block_and_nesting_is_safe():
    kb = importlib.import_module("keras.src.backend")
    before = kb.lstm, kb.gru
    with fused_rnn.fused_cpu_rnn() as outer:
        with fused_rnn.fused_cpu_rnn() as inner:
            assert outer == inner == fused_rnn.available() == ON_TORCH
            assert (kb.lstm is not before[0]) == ON_TORCH
        assert (kb.lstm is not before[0]) == ON_TORCH  # the inner block left the outer's
    assert (kb.lstm, kb.gru) == before
    with pytest.raises(RuntimeError), fused_rnn.fused_cpu_rnn():
        raise RuntimeError("a failing step")
    assert (kb.lstm, kb.gru) == before


@needs_torch
def test_train_and_text_loss_use_the_fused_kernel(tmp_path, calls):
    text = ("the quick brown fox jumps over the lazy dog. " * 40)
    result = train(text, tmp_path / "run", {"units": 16, "layers": 1, "embed_dim": 8,
                                            "cell": "lstm"},
                   TrainConfig(seq_len=16, batch_size=4, epochs=1, steps_per_epoch=3,
                               samples_per_epoch=0, verbose=0))
    trained = calls["lstm"]
    assert trained >= 3  # at least the three training steps
    score = text_loss(result.model, result.vocab, text[:300], seq_len=32)
    assert calls["lstm"] > trained and np.isfinite(score["nats"])
