"""The AWD-LSTM regularisers as options: locked (variational) dropout, whole-token
embedding dropout, and an averaged copy of the weights that is what gets scored and saved."""

import json

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy

from helpers.kerasfile import load_engine
from helpers.model import ModelConfig, build_model, config_of
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
