import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy

from helpers.engine import NumpyRNN
from helpers.model import ModelConfig, build_model, build_step_model, config_of, state_sizes

pytestmark = pytest.mark.core


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_step_model_and_engine_match_full_model(cell):
    cfg = ModelConfig(vocab_size=12, embed_dim=6, units=10, layers=2, cell=cell)
    m = build_model(cfg)
    x = np.random.default_rng(0).integers(0, 12, (3, 9)).astype("int32")
    full = convert_to_numpy(m(x, training=False))
    step = build_step_model(m)
    states = [np.zeros((3, n), "float32") for n in state_sizes(m)]
    outs = []
    for t in range(x.shape[1]):
        res = step([x[:, t], *states])
        outs.append(convert_to_numpy(res[0]))
        states = [convert_to_numpy(s) for s in res[1:]]
    np.testing.assert_allclose(np.stack(outs, 1), full, atol=1e-5)
    eng = NumpyRNN.from_model(m)
    logits, _, rec = eng.run(x, record=True)
    np.testing.assert_allclose(logits, full, atol=1e-5)
    assert rec["1/h"].shape == (3, 9, 10)


def test_step_model_shares_weights():
    m = build_model(ModelConfig(vocab_size=5, embed_dim=3, units=4, layers=1))
    step = build_step_model(m)
    emb = m.get_layer("embedding")
    emb.embeddings.assign(np.ones_like(convert_to_numpy(emb.embeddings)))
    assert any(w is emb.embeddings for w in step.weights)


def test_config_survives_save_and_load(tmp_path):
    cfg = ModelConfig(vocab_size=7, embed_dim=5, units=9, layers=3, cell="gru", dropout=0.2)
    m = build_model(cfg)
    m.save(tmp_path / "m.keras")
    m2 = keras.models.load_model(tmp_path / "m.keras")
    assert config_of(m2) == cfg


def test_bad_config():
    with pytest.raises(ValueError, match="cell"):
        ModelConfig(vocab_size=5, cell="rnn")
    with pytest.raises(ValueError):
        ModelConfig(vocab_size=5, dropout=1.5)
