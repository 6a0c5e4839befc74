"""The AWD-LSTM regularisers as options: locked (variational) dropout, whole-token
embedding dropout, and an averaged copy of the weights that is what gets scored and saved."""

import json

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy

from helpers.kerasfile import load_engine
from helpers.model import ModelConfig, RegularisedModel, build_model, config_of, dropped_connections
from helpers.sample import Generator
from helpers.settings import TrainConfig
from helpers.train import train
from helpers.vocab import CharVocab

pytestmark = pytest.mark.core

VOCAB = CharVocab.build("abcdefghij klmnop\nqrstuvwxyz.,!?ABC")


def _layer_out(model, name, x, training):
    sub = keras.Model(model.inputs, model.get_layer(name).output)
    return convert_to_numpy(sub(x, training=training))


def test_locked_dropout_keeps_one_mask_per_sequence_and_nothing_at_inference():
    cfg = ModelConfig(vocab_size=len(VOCAB), embed_dim=8, units=32, layers=1, dropout=0.5,
                      locked_dropout=True)
    m = build_model(cfg)
    x = np.random.default_rng(0).integers(0, len(VOCAB), (4, 12)).astype("int32")
    pre = _layer_out(m, "rnn_0", x, training=False)
    out = _layer_out(m, "dropout_0", x, training=True)
    dropped = (out == 0) & (pre != 0)
    # a unit dropped at one step is dropped at every step of that sequence
    assert dropped.any() and (dropped == dropped[:, :1, :]).all()
    assert not (dropped[0] == dropped[1]).all()          # but the sequences differ
    np.testing.assert_allclose(_layer_out(m, "dropout_0", x, training=False), pre)
    # the default (per-step) mask changes from step to step
    std = build_model(ModelConfig(vocab_size=len(VOCAB), embed_dim=8, units=32, layers=1,
                                  dropout=0.5))
    d = (_layer_out(std, "dropout_0", x, training=True) == 0) & (_layer_out(std, "rnn_0", x, False) != 0)
    assert not (d == d[:, :1, :]).all()


def test_embedding_dropout_drops_whole_token_vectors():
    m = build_model(ModelConfig(vocab_size=len(VOCAB), embed_dim=8, units=8, layers=1,
                                dropout=0.0, embed_dropout=0.5))
    x = np.random.default_rng(1).integers(0, len(VOCAB), (8, 20)).astype("int32")
    out = _layer_out(m, "embed_dropout", x, training=True)
    zero = (out == 0).all(axis=-1)
    assert zero.any() and ((out == 0).any(axis=-1) == zero).all()   # all or nothing per token
    emb = _layer_out(m, "embedding", x, training=False)
    np.testing.assert_allclose(out[~zero], 2 * emb[~zero], rtol=1e-6)  # kept ones scaled 1/(1-p)
    np.testing.assert_allclose(_layer_out(m, "embed_dropout", x, training=False), emb)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_regularised_models_save_reload_and_read_without_keras(tmp_path, cell):
    cfg = ModelConfig(vocab_size=len(VOCAB), embed_dim=8, units=16, layers=2, cell=cell,
                      dropout=0.3, locked_dropout=True, embed_dropout=0.1)
    m = build_model(cfg)
    path = tmp_path / "m.keras"
    m.save(path)
    back = keras.saving.load_model(path, safe_mode=True)
    assert config_of(back) == cfg
    a = Generator(m, VOCAB).generate("abc", length=40, n=2, seed=1)
    b = Generator(load_engine(path), VOCAB).generate("abc", length=40, n=2, seed=1)
    assert [s.full for s in a] == [s.full for s in b]


def test_settings_refuse_bad_values_and_round_trip():
    with pytest.raises(ValueError):
        ModelConfig(vocab_size=10, embed_dropout=1.0)
    with pytest.raises(ValueError):
        TrainConfig(ema=1.0)
    cfg = ModelConfig(vocab_size=10, locked_dropout=True, embed_dropout=0.2)
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert TrainConfig.from_dict(TrainConfig(ema=0.99).to_dict()).ema == 0.99


class _Watch(keras.callbacks.Callback):
    """The raw weights: at the start, and after the last training step of each epoch."""

    def on_train_begin(self, logs=None):
        self.start = [w.copy() for w in self.model.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        self.raw = [w.copy() for w in self.model.get_weights()]


def test_the_average_is_what_gets_scored_and_saved(tmp_path, sonnets):
    """With a momentum close to 1 the average hardly leaves the initial weights, while the
    raw weights move: best.keras and last.keras must hold the average."""
    watch = _Watch()
    small = {"units": 24, "embed_dim": 8, "layers": 1, "dropout": 0.0}
    cfg = {"seq_len": 32, "batch_size": 16, "steps_per_epoch": 20, "learning_rate": 1e-2,
           "epochs": 2, "ema": 0.99999, "samples_per_epoch": 0, "verbose": 0}
    r = train(sonnets[:20_000], tmp_path, small, cfg, callbacks=[watch])
    moved = max(np.abs(a - b).max() for a, b in zip(watch.raw, watch.start, strict=True))
    assert moved > 0.05
    for which in ("best", "last"):
        saved = keras.saving.load_model(tmp_path / f"{which}.keras", safe_mode=True).get_weights()
        drift = max(np.abs(a - b).max() for a, b in zip(saved, watch.start, strict=True))
        assert drift < moved / 10, (which, drift, moved)
    # and what was scored is the average: the loss of a barely trained network
    assert r.history[-1]["val_loss"] > 0.9 * np.log(r.vocab.__len__())


# --- DropConnect on the recurrent weights ---------------------------------------------
def _small(cell="lstm", units=16):
    return build_model(ModelConfig(vocab_size=len(VOCAB), embed_dim=8, units=units, layers=2,
                                   cell=cell, dropout=0.0))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dropped_connections_masks_for_one_call_only(cell):
    m = _small(cell, units=32)
    layer = m.get_layer("rnn_0")
    raw = layer.cell.recurrent_kernel
    w = convert_to_numpy(raw)
    seeds = keras.random.SeedGenerator(3)
    masks = []
    for _ in range(2):
        with dropped_connections(layer, 0.3, seeds) as masked:
            assert layer.cell.recurrent_kernel is masked
            got = convert_to_numpy(masked)
        kept = got != 0
        assert 0.25 < 1 - kept.mean() < 0.35                      # about 30% dropped
        np.testing.assert_allclose(got[kept], w[kept] / 0.7, rtol=1e-6)
        masks.append(kept)
        assert layer.cell.recurrent_kernel is raw                 # the variable is back
    assert (masks[0] != masks[1]).any()                           # a new mask each call
    assert len(m.trainable_weights) == len(_small(cell, 32).trainable_weights)


@pytest.mark.skipif(keras.backend.backend() == "jax",
                    reason="JAX traces fit even when run eagerly: the spy cannot read a mask")
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dropconnect_changes_the_mask_per_batch_and_never_at_inference(monkeypatch, cell):
    """Fit three batches eagerly, recording every mask drawn: one per layer per batch,
    each different; the update of a dropped weight is zero; evaluating and predicting
    draw none and give exactly what the plain network gives."""
    import helpers.model as hm

    drawn = []
    real = hm.dropped_connections

    @__import__("contextlib").contextmanager
    def spy(layer, rate, seed_generator):
        with real(layer, rate, seed_generator) as masked:
            drawn.append((layer.name, convert_to_numpy(masked) != 0))
            yield masked

    monkeypatch.setattr(hm, "dropped_connections", spy)
    m = _small(cell)
    fit = RegularisedModel(m, weight_drop=0.5, seed=0)
    fit.compile(optimizer=keras.optimizers.SGD(1.0),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                run_eagerly=True)
    x = np.random.default_rng(2).integers(0, len(VOCAB), (4, 13)).astype("int32")
    before = convert_to_numpy(m.get_layer("rnn_1").cell.recurrent_kernel)
    fit.fit(x[:, :-1], x[:, 1:], batch_size=4, epochs=1, verbose=0)      # one batch
    after = convert_to_numpy(m.get_layer("rnn_1").cell.recurrent_kernel)
    assert [name for name, _ in drawn] == ["rnn_0", "rnn_1"]
    kept = drawn[1][1]
    assert (after[~kept] == before[~kept]).all()       # no gradient through a dropped weight
    assert (after[kept] != before[kept]).mean() > 0.9
    fit.fit(x[:, :-1], x[:, 1:], batch_size=2, epochs=1, verbose=0)      # two more batches
    assert len(drawn) == 6
    layer1 = [k for name, k in drawn if name == "rnn_1"]
    assert all((a != b).any() for a, b in zip(layer1, layer1[1:], strict=False))
    drawn.clear()
    fit.evaluate(x[:, :-1], x[:, 1:], verbose=0)
    out = convert_to_numpy(fit.predict(x, verbose=0))
    assert drawn == []
    np.testing.assert_allclose(out, convert_to_numpy(m(x)), atol=1e-6)
    assert "weight_drop=0.5" in repr(fit)


@pytest.mark.parametrize("carry", [False, True])
def test_training_with_weight_drop_saves_a_plain_network(tmp_path, sonnets, carry):
    cfg = {"seq_len": 32, "batch_size": 8, "steps_per_epoch": 5, "epochs": 1,
           "weight_drop": 0.3, "carry_state": carry, "samples_per_epoch": 0, "verbose": 0}
    r = train(sonnets[:20_000], tmp_path, {"units": 16, "embed_dim": 8, "layers": 2}, cfg)
    assert np.isfinite(r.best_val_loss)
    saved = keras.saving.load_model(tmp_path / "best.keras", safe_mode=True)
    assert saved.__class__.__name__ == "Functional"
    a = Generator(saved, r.vocab).generate("Th", length=30, seed=1)
    b = Generator(load_engine(tmp_path / "best.keras"), r.vocab).generate("Th", length=30, seed=1)
    assert a[0].full == b[0].full
    with pytest.raises(ValueError):
        TrainConfig(weight_drop=1.0)


class _Record(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.loss = float(logs["loss"])


@pytest.mark.parametrize("which", ["ar", "tar"])
def test_activation_regularisers_add_their_penalty_while_training_only(which):
    """With the learning rate at zero, the loss fit reports is the cross-entropy plus
    exactly the penalty computed by hand from the last layer's output; evaluation
    reports the cross-entropy alone."""
    m = build_model(ModelConfig(vocab_size=len(VOCAB), embed_dim=8, units=16, layers=2,
                                dropout=0.0))
    rng = np.random.default_rng(4)
    emb = m.get_layer("embedding")
    emb.set_weights([rng.normal(size=emb.get_weights()[0].shape)])  # states well away from 0
    x = rng.integers(0, len(VOCAB), (4, 11)).astype("int32")
    fit = RegularisedModel(m, **{which: 50.0})
    fit.compile(optimizer=keras.optimizers.SGD(0.0),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rec = _Record()
    fit.fit(x[:, :-1], x[:, 1:], batch_size=4, epochs=1, verbose=0, callbacks=[rec])
    ce = fit.evaluate(x[:, :-1], x[:, 1:], verbose=0)
    by_hand = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(x[:, 1:], m(x[:, :-1]))
    np.testing.assert_allclose(ce, float(convert_to_numpy(by_hand)), rtol=1e-5)
    h = _layer_out(m, "rnn_1", x[:, :-1], training=False)
    penalty = (h ** 2).mean() if which == "ar" else ((h[:, 1:] - h[:, :-1]) ** 2).mean()
    assert penalty > 1e-4
    np.testing.assert_allclose(rec.loss - ce, 50.0 * penalty, rtol=1e-3)
