"""A character-level LSTM written out in NumPy: forward, backward, gradient check, Adagrad, sampling.

Notebook 09 writes these functions out where it teaches them, character for character
(``tests/test_scratch_lstm.py`` checks that the notebook's cells hold this module's
source, so the two cannot drift); the tests import them from here.

Conventions are those of :mod:`helpers.engine` and of Keras's ``LSTMCell``: row vectors
(``x @ W``), one kernel per layer with the gates side by side in the order i, f, g, o, so
the same arrays load into ``keras.layers.LSTM`` with ``set_weights([W, U, b])``. The input
is a character id; multiplying its one-hot vector by ``W`` is a row lookup, ``W[x]``.

Shapes: ``V`` characters, ``u`` units, a batch of ``B`` streams of ``T`` characters.
``W (V, 4u)``, ``U (u, 4u)``, ``b (4u,)``, ``Wy (u, V)``, ``by (V,)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sigmoid", "init_params", "forward", "backward", "grad_check", "adagrad_step",
           "sample"]


def sigmoid(z):
    """1 / (1 + e^-z), squashing to (0, 1)."""
    return 0.5 * (np.tanh(0.5 * z) + 1.0)  # the same function, without overflow


def init_params(vocab_size, units, rng, forget_bias=1.0):
    """Small random weights; the forget gate's bias starts at ``forget_bias`` (Keras: 1)."""
    V, u = vocab_size, units
    params = {
        "W": rng.normal(0, 1 / np.sqrt(V), (V, 4 * u)),    # input kernel: a row per character
        "U": rng.normal(0, 1 / np.sqrt(u), (u, 4 * u)),    # recurrent kernel
        "b": np.zeros(4 * u),
        "Wy": rng.normal(0, 1 / np.sqrt(u), (u, V)),       # output layer: h -> logits
        "by": np.zeros(V),
    }
    params["b"][u:2 * u] = forget_bias                     # f starts near sigmoid(1) = 0.73: remember
    return params


def forward(params, xs, ys, h, c):
    """Run a batch of streams ``xs`` (B, T) of character ids from state ``(h, c)``.
    Returns the mean cross-entropy of predicting ``ys`` (B, T) in nats per character, and
    the cache the backward pass needs (the last state is ``cache["h"][-1], cache["c"][-1]``)."""
    W, U, b, Wy, by = params["W"], params["U"], params["b"], params["Wy"], params["by"]
    u = U.shape[0]
    hs, cs, gates = [h], [c], []
    for t in range(xs.shape[1]):
        z = W[xs[:, t]] + h @ U + b                        # (B, 4u): all four gates at once
        i, f = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u])
        g, o = np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        c = f * c + i * g                                  # keep part of the memory, write part
        h = o * np.tanh(c)                                 # show part of it
        hs.append(h)
        cs.append(c)
        gates.append((i, f, g, o))
    H = np.stack(hs[1:], axis=1)                           # (B, T, u): every step's output
    logits = H @ Wy + by                                   # (B, T, V)
    logits = logits - logits.max(axis=-1, keepdims=True)   # softmax is shift-invariant: no overflow
    p = np.exp(logits)
    p /= p.sum(axis=-1, keepdims=True)
    picked = np.take_along_axis(p, ys[..., None], axis=-1)[..., 0]
    loss = -np.log(picked).mean()
    return loss, {"xs": xs, "ys": ys, "h": hs, "c": cs, "gates": gates, "H": H, "p": p}


def backward(params, cache):
    """Gradients of the mean loss with respect to every parameter and to the initial state
    ``h0``, ``c0``: backpropagation through time, the forward pass read backwards."""
    U, Wy = params["U"], params["Wy"]
    xs, ys, p, H = cache["xs"], cache["ys"], cache["p"], cache["H"]
    B, T = xs.shape
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dlogits = p.copy()                                     # softmax + cross-entropy: p - onehot(y)
    np.put_along_axis(dlogits, ys[..., None], np.take_along_axis(p, ys[..., None], -1) - 1, -1)
    dlogits /= B * T                                       # the loss is a mean
    grads["Wy"] = np.einsum("btu,btv->uv", H, dlogits)
    grads["by"] = dlogits.sum(axis=(0, 1))
    dH = dlogits @ Wy.T                                    # (B, T, u): what each h did to the loss
    dh_next, dc_next = np.zeros_like(cache["h"][0]), np.zeros_like(cache["c"][0])
    for t in reversed(range(T)):
        i, f, g, o = cache["gates"][t]
        c, c_prev, h_prev = cache["c"][t + 1], cache["c"][t], cache["h"][t]
        tc = np.tanh(c)
        dh = dH[:, t] + dh_next                            # to the output here, and to the next step
        do = dh * tc
        dc = dc_next + dh * o * (1 - tc**2)                # c reaches the loss through h and c_{t+1}
        di, dg, df = dc * g, dc * i, dc * c_prev
        dc_next = dc * f                                   # the memory's path back: times f
        dz = np.concatenate([di * i * (1 - i), df * f * (1 - f),   # through each gate's squashing
                             dg * (1 - g**2), do * o * (1 - o)], axis=1)
        np.add.at(grads["W"], xs[:, t], dz)                # W[x] was a lookup: add to those rows
        grads["U"] += h_prev.T @ dz
        grads["b"] += dz.sum(axis=0)
        dh_next = dz @ U.T                                 # h_{t-1} fed all four gates through U
    grads["h0"], grads["c0"] = dh_next, dc_next
    return grads


def grad_check(params, xs, ys, h, c, grads, rng, n=5, eps=1e-5):
    """Compare ``grads`` with centred finite differences at ``n`` random entries of every
    parameter; returns the largest relative error per parameter."""
    worst = {}
    for name, value in params.items():
        errors = []
        for _ in range(n):
            k = tuple(rng.integers(s) for s in value.shape)
            old = value[k]
            value[k] = old + eps
            up = forward(params, xs, ys, h, c)[0]
            value[k] = old - eps
            down = forward(params, xs, ys, h, c)[0]
            value[k] = old                                 # put it back
            numeric = (up - down) / (2 * eps)
            analytic = grads[name][k]
            errors.append(abs(analytic - numeric) / max(abs(analytic) + abs(numeric), 1e-12))
        worst[name] = max(errors)
    return worst


def adagrad_step(params, grads, state, lr=0.1):
    """One Adagrad update in place, as in min-char-rnn; ``state`` (a dict, empty at first)
    keeps, per weight, the sum of its squared gradients."""
    for name, value in params.items():
        s = state.setdefault(name, np.zeros_like(value))
        s += grads[name] ** 2                              # every squared gradient so far
        value -= lr * grads[name] / np.sqrt(s + 1e-8)      # a weight that moved much moves less


def sample(params, start, n, rng, temperature=1.0):
    """``n`` character ids drawn one at a time after the id ``start``, from a zero state."""
    W, U, b, Wy, by = params["W"], params["U"], params["b"], params["Wy"], params["by"]
    u = U.shape[0]
    h, c, x, out = np.zeros(u), np.zeros(u), start, []
    for _ in range(n):
        z = W[x] + h @ U + b                               # the forward pass, one stream, one step
        i, f = sigmoid(z[:u]), sigmoid(z[u:2 * u])
        g, o = np.tanh(z[2 * u:3 * u]), sigmoid(z[3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        logits = (h @ Wy + by) / temperature               # below 1 sharpens, above 1 flattens
        p = np.exp(logits - logits.max())
        x = rng.choice(len(p), p=p / p.sum())
        out.append(x)
    return out
