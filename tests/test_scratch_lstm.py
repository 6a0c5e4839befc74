"""The NumPy LSTM of notebook 09 (helpers/scratch_lstm.py): its backward pass agrees with
finite differences and with Keras's gradients on the same weights, a broken line of it is
caught by both checks, it trains, and the notebook holds exactly this module's code."""

import inspect
import json

import keras
import numpy as np
import pytest

from helpers import scratch_lstm
from helpers.scratch_lstm import adagrad_step, backward, forward, grad_check, init_params, sample

from .conftest import ROOT

pytestmark = pytest.mark.core

NOTEBOOK = ROOT / "notebooks" / "09_lstm_from_scratch.ipynb"
V, U_, B, T = 11, 8, 3, 7
# lines of backward() and what a plausible slip makes of them
SLIPS = {
    "forget gate left off the memory's path": ("dc_next = dc * f", "dc_next = dc"),
    "tanh' left off": ("dh * o * (1 - tc**2)", "dh * o"),
    "next step's dh dropped": ("dh = dH[:, t] + dh_next", "dh = dH[:, t]"),
    "sigmoid' of the forget gate left off": ("df * f * (1 - f)", "df"),
}


def _code_cells() -> list[str]:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.fixture
def problem():
    """A small model, a batch and a start state that is not zero (every term counts)."""
    rng = np.random.default_rng(0)
    params = init_params(V, U_, rng)
    for v in params.values():  # move away from the initial values, biases included
        v += rng.normal(0, 0.3, v.shape)
    xs, ys = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    h0, c0 = rng.normal(0, 0.5, (2, B, U_))
    return params, xs, ys, h0, c0


def _fd_error(params, xs, ys, h0, c0) -> dict:
    grads = scratch_lstm.backward(params, forward(params, xs, ys, h0, c0)[1])
    return grad_check(params, xs, ys, h0, c0, grads, np.random.default_rng(1), n=8)


def _broken_backward(slip: str):
    old, new = SLIPS[slip]
    src = inspect.getsource(scratch_lstm.backward)
    assert old in src, f"backward() no longer has the line {old!r}: update SLIPS"
    scope = dict(vars(scratch_lstm))
    exec(src.replace(old, new), scope)
    return scope["backward"]


def test_backward_matches_finite_differences(problem):
    errors = _fd_error(*problem)
    assert set(errors) == {"W", "U", "b", "Wy", "by"}
    assert max(errors.values()) < 1e-6, errors


def test_gradient_of_the_initial_state(problem):
    params, xs, ys, h0, c0 = problem
    grads = backward(params, forward(params, xs, ys, h0, c0)[1])
    eps = 1e-6
    for name, state in (("h0", h0), ("c0", c0)):
        for k in ((0, 0), (2, 5)):
            old = state[k]
            state[k] = old + eps
            up = forward(params, xs, ys, h0, c0)[0]
            state[k] = old - eps
            down = forward(params, xs, ys, h0, c0)[0]
            state[k] = old
            assert grads[name][k] == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("slip", sorted(SLIPS))
def test_finite_differences_catch_a_broken_backward(problem, slip, monkeypatch):
    monkeypatch.setattr(scratch_lstm, "backward", _broken_backward(slip))
    errors = _fd_error(*problem)
    assert max(errors.values()) > 1e-3, errors  # the check fails, as it must
    assert errors["Wy"] < 1e-6 and errors["by"] < 1e-6  # the output layer is not behind the slip


def _keras_helpers() -> dict:
    """``keras_twin`` and ``keras_gradients`` as notebook 09 defines them (one copy)."""
    cell = next(c for c in _code_cells() if "def keras_gradients" in c)
    scope: dict = {}
    exec(cell, scope)
    return scope


def _keras_difference(params, xs, ys, backward_fn) -> float:
    k = _keras_helpers()
    zeros = np.zeros((xs.shape[0], params["U"].shape[0]))  # Keras starts from zeros
    ours = backward_fn(params, forward(params, xs, ys, zeros, zeros)[1])
    twin = k["keras_twin"](params)
    theirs = k["keras_gradients"](twin, np.eye(params["by"].size)[xs], ys)
    assert [v.shape for v in twin.trainable_variables] == [params[n].shape
                                                           for n in ("W", "U", "b", "Wy", "by")]
    return max(np.abs(ours[n] - g).max() / np.abs(g).max()
               for n, g in zip(("W", "U", "b", "Wy", "by"), theirs, strict=True))


def test_backward_matches_keras(problem):
    params, xs, ys, _, _ = problem
    diff = _keras_difference(params, xs, ys, backward)
    # TensorFlow computes in float64 throughout; Keras's type promotion on torch and JAX
    # computes products of float64 arrays in float32
    limit = 1e-12 if keras.backend.backend() == "tensorflow" else 1e-5
    assert diff < limit, diff


def test_keras_catches_a_broken_backward(problem):
    params, xs, ys, _, _ = problem
    assert _keras_difference(params, xs, ys, _broken_backward(
        "forget gate left off the memory's path")) > 1e-3


def test_training_lowers_the_loss_and_samples_follow():
    text = "abcabd\n" * 40 + "a"  # 4 streams of 70, each starting at an "a"
    chars = sorted(set(text))
    ids = np.array([chars.index(ch) for ch in text])
    params, opt = init_params(len(chars), 16, np.random.default_rng(0)), {}
    xs, ys = ids[:-1].reshape(4, -1), ids[1:].reshape(4, -1)
    zeros = np.zeros((4, 16))
    first = forward(params, xs, ys, zeros, zeros)[0]
    for _ in range(150):
        loss, cache = forward(params, xs, ys, zeros, zeros)
        adagrad_step(params, backward(params, cache), opt)
    assert first == pytest.approx(np.log(len(chars)), abs=0.2)
    assert loss < 0.35 * first, (first, loss)  # "abcab" is certain; only d/c after "ab" is not
    out = sample(params, chars.index("a"), 30, np.random.default_rng(1), temperature=0.3)
    assert all(0 <= k < len(chars) for k in out)
    assert chars[out[0]] == "b"  # every stream began "ab": learnt
    again = sample(params, chars.index("a"), 30, np.random.default_rng(1), temperature=0.3)
    assert out == again  # the generator decides every draw


def test_notebook_writes_out_this_module_and_checks_it():
    cells = _code_cells()
    for name in scratch_lstm.__all__:
        src = inspect.getsource(getattr(scratch_lstm, name)).rstrip()
        assert any(src in c for c in cells), f"notebook 09 does not hold {name}() as in the module"
    code = "\n".join(cells)
    # the notebook fails (and with it the notebook tests) when a check fails
    assert 'assert max(errors.values()) < 1e-5' in code and "assert worst < 1e-5" in code
