import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy

from helpers.engine import NumpyRNN
from helpers.model import (
    CarryStateModel,
    ModelConfig,
    build_model,
    build_step_model,
    config_of,
    state_sizes,
)

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


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_carried_state_reads_a_long_sequence_in_pieces(cell):
    """Three windows through CarryStateModel give what one pass over all of them gives."""
    m = build_model(ModelConfig(vocab_size=11, embed_dim=5, units=7, layers=2, cell=cell,
                                dropout=0.0))
    x = np.random.default_rng(1).integers(0, 11, (3, 24)).astype("int32")
    full = convert_to_numpy(m(x, training=False))
    carry = CarryStateModel(m, batch_size=3)
    pieces = [convert_to_numpy(carry(x[:, i:i + 8])) for i in (0, 8, 16)]
    np.testing.assert_allclose(np.concatenate(pieces, 1), full, atol=1e-5)
    assert not m.get_layer("rnn_0").return_state  # the plain model is left as it was
    carry.reset_state(rows=np.array([True, False, True]))  # zero some streams only
    for v in carry.carried:
        v = convert_to_numpy(v)
        assert not v[[0, 2]].any() and v[1].any()
    carry.reset_state()
    assert all(not convert_to_numpy(v).any() for v in carry.carried)
    np.testing.assert_allclose(convert_to_numpy(carry(x[:, :8])), full[:, :8], atol=1e-5)


def test_carry_model_trains_the_shared_weights():
    m = build_model(ModelConfig(vocab_size=9, embed_dim=4, units=6, layers=1, dropout=0.0))
    carry = CarryStateModel(m, batch_size=2)
    carry.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.tile(np.arange(9, dtype="int32"), (2, 2))[:, :12]
    before = convert_to_numpy(m.get_layer("logits").kernel).copy()
    carry.fit(x[:, :-1], x[:, 1:], batch_size=2, epochs=3, verbose=0, shuffle=False)
    assert not np.allclose(convert_to_numpy(m.get_layer("logits").kernel), before)
    assert [id(v) for v in carry.trainable_variables] == [id(v) for v in m.trainable_variables]


def test_fit_carries_the_state_from_batch_to_batch():
    """Through ``fit`` (compiled steps, the backend's own trainer), the state after three
    stream batches is the state after reading those three windows in one go."""
    from helpers.windows import StreamDataset

    ids = np.random.default_rng(0).integers(0, 20, 5000).astype(np.uint8)
    ds = StreamDataset(ids, seq_len=16, batch_size=4, seed=0)
    m = build_model(ModelConfig(vocab_size=20, embed_dim=6, units=8, layers=1, cell="gru",
                                dropout=0.0))
    carry = CarryStateModel(m, batch_size=4)
    carry.compile(optimizer=keras.optimizers.SGD(0.0),  # weights stay put
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    carry.fit(ds, steps_per_epoch=3, epochs=1, shuffle=False, verbose=0)
    x = np.concatenate([ds[i][0] for i in range(3)], axis=1)
    _, state, _ = NumpyRNN.from_model(m).run(x, record=True)
    np.testing.assert_allclose(convert_to_numpy(carry.carried[0]), state[0], atol=1e-5)


def _notebook_function(notebook: str, name: str) -> dict:
    """Exec the notebook cell that defines ``name`` (the code a reader sees) and return
    its namespace."""
    import json
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parent.parent / "notebooks" / notebook).read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    src = [c for c in cells if f"def {name}(" in c]
    assert len(src) == 1, f"{notebook} should define {name}() in exactly one code cell"
    ns: dict = {}
    exec(compile(src[0], f"{notebook}:{name}", "exec"), ns)
    return ns


@pytest.mark.parametrize("cell,layers_,dropout", [("lstm", 2, 0.1), ("gru", 1, 0.3), ("lstm", 3, 0.0)])
def test_model_written_out_in_notebook_04_is_build_model(cell, layers_, dropout):
    """The ~10-line model of notebook 04 and build_model are the same network: the same
    layers in the same order, weights of the same shapes, the same outputs."""
    char_lstm = _notebook_function("04_training.ipynb", "char_lstm")["char_lstm"]
    kind = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    mine = char_lstm(23, embed_dim=7, units=11, n_layers=layers_, dropout=dropout, cell=kind)
    ours = build_model(ModelConfig(vocab_size=23, embed_dim=7, units=11, layers=layers_,
                                   cell=cell, dropout=dropout))

    def kinds(m):
        return [type(x).__name__ for x in m.layers
                if not (isinstance(x, keras.layers.Dropout) and x.rate == 0)]

    assert kinds(mine) == kinds(ours)
    rates = [x.rate for x in mine.layers if isinstance(x, keras.layers.Dropout) and x.rate]
    assert rates == [dropout] * layers_ if dropout else rates == []
    assert [w.shape for w in mine.get_weights()] == [w.shape for w in ours.get_weights()]
    ours.set_weights(mine.get_weights())
    x = np.random.default_rng(1).integers(0, 23, (2, 9)).astype("int32")
    np.testing.assert_allclose(convert_to_numpy(mine(x)), convert_to_numpy(ours(x)), atol=1e-5)
