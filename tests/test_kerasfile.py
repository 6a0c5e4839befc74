"""Sampling without a deep-learning backend: ``.keras`` files read by helpers.kerasfile
must give the NumPy engine exactly the weights Keras loads, hence exactly the same text;
anything that is not a network of this package is refused."""

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from helpers import zoo
from helpers.engine import NumpyRNN
from helpers.kerasfile import KerasFileError, load_engine
from helpers.model import ModelConfig, build_model
from helpers.paths import zoo_dir
from helpers.sample import Generator
from helpers.vocab import CharVocab

pytestmark = pytest.mark.core

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = {"keras", "tensorflow", "torch", "jax"}


def _arrays(net: NumpyRNN) -> list[np.ndarray]:
    out = [net.embedding, net.table0, net.dense_W, net.dense_b]
    for c in net.cells:
        out += [c.W, c.U, c.b]
    return out


def _assert_same_net(a: NumpyRNN, b: NumpyRNN) -> None:
    assert [(c.kind, c.units) for c in a.cells] == [(c.kind, c.units) for c in b.cells]
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        assert x.dtype == y.dtype == np.float32
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", zoo.available())
def test_zoo_model_samples_the_same_without_keras(name):
    with_keras = zoo.load(name)
    without = zoo.load(name, backend=False)
    assert without.model is None and isinstance(without.engine, NumpyRNN)
    _assert_same_net(without.engine, NumpyRNN.from_model(with_keras.model))
    assert repr(without) == repr(with_keras)
    for seed, temperature in ((0, 0.8), (3, 1.0)):
        a = with_keras.generate(length=300, n=2, temperature=temperature, seed=seed)
        b = without.generate(length=300, n=2, temperature=temperature, seed=seed)
        assert [s.token_ids for s in a] == [s.token_ids for s in b]
        assert [s.full for s in a] == [s.full for s in b]
        assert len(a[0].token_ids) > 0


@pytest.mark.parametrize("cell,layers,dropout", [("gru", 3, 0.0), ("lstm", 3, 0.2),
                                                 ("gru", 1, 0.1)])
def test_saved_network_reads_back_exactly(tmp_path, cell, layers, dropout):
    vocab = CharVocab.build("abcdefghij klmnop\nqrstuvwxyz.,!?ABC")
    model = build_model(ModelConfig(vocab_size=len(vocab), embed_dim=8, units=16,
                                    layers=layers, cell=cell, dropout=dropout))
    rng = np.random.default_rng(0)  # every weight distinct, so a swapped array shows
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.3
                       for w in model.get_weights()])
    path = tmp_path / "m.keras"
    model.save(path)
    net = load_engine(path)
    _assert_same_net(net, NumpyRNN.from_model(model))
    assert net.count_params() == model.count_params()
    a = Generator(model, vocab).generate("abc", length=50, n=2, seed=1)
    b = Generator(net, vocab).generate("abc", length=50, n=2, seed=1)
    assert [s.full for s in a] == [s.full for s in b]


def test_cli_sample_imports_no_backend_and_prints_the_same_text():
    code = ("import sys; from helpers.cli import main; "
            "rc = main(['sample', '--zoo', 'shakespeare_char', '--length', '50', '--seed', "
            "'0']); print(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{sorted(BACKENDS)!r})); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().splitlines()[-1] == "[]"
    expected = zoo.load("shakespeare_char").generate(length=50, temperature=0.8, seed=0)[0]
    assert expected.full.startswith("ROMEO:") and len(expected.token_ids) == 50
    assert f"---\n{expected.full}\n" in r.stdout


def test_modules_import_without_keras():
    code = ("import sys, helpers.zoo, helpers.sample, helpers.engine, helpers.kerasfile, "
            "helpers.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            f"{sorted(BACKENDS)!r}))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# --- refusals ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def archive() -> bytes:
    return (zoo_dir() / "shakespeare_char" / "model.keras").read_bytes()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    return path


def _edit_weights(members: dict[str, bytes], edit) -> dict[str, bytes]:
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as h5:
        edit(h5)
    return {**members, "model.weights.h5": buf.getvalue()}


def test_truncated_archive_is_refused(tmp_path, archive):
    p = tmp_path / "model.keras"
    p.write_bytes(archive[: len(archive) // 2])
    with pytest.raises(KerasFileError, match="truncated or corrupt"):
        load_engine(p)
    with pytest.raises(KerasFileError, match="missing"):
        load_engine(tmp_path / "nothing.keras")


def test_missing_weights_are_refused(tmp_path, archive):
    m = _members(archive)
    with pytest.raises(KerasFileError, match="no model.weights.h5"):
        load_engine(_write(tmp_path / "a.keras", {k: v for k, v in m.items()
                                                  if k != "model.weights.h5"}))

    def drop(h5):
        del h5["layers/lstm_1/cell/vars/1"]

    with pytest.raises(KerasFileError, match="no array layers/lstm_1/cell/vars/1"):
        load_engine(_write(tmp_path / "b.keras", _edit_weights(m, drop)))


def test_weights_that_point_elsewhere_are_refused(tmp_path, archive):
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["x"] = np.zeros((68, 64), np.float32)

    def link(h5):
        del h5["layers/embedding/vars/0"]
        h5["layers/embedding/vars/0"] = h5py.ExternalLink(str(outside), "/x")

    with pytest.raises(KerasFileError, match="layers/embedding/vars/0 is a link"):
        load_engine(_write(tmp_path / "a.keras", _edit_weights(_members(archive), link)))


def _with_config(archive: bytes, edit) -> dict[str, bytes]:
    m = _members(archive)
    cfg = json.loads(m["config.json"])
    edit(cfg)
    return {**m, "config.json": json.dumps(cfg).encode()}


def test_foreign_configs_are_refused(tmp_path, archive):
    def lambda_layer(cfg):  # code in a file must never run, nor be mistaken for ours
        cfg["config"]["layers"][3] = {"module": "keras.layers", "class_name": "Lambda",
                                      "config": {"name": "dropout_0", "function": "..."}}

    def relu(cfg):
        cfg["config"]["layers"][2]["config"]["activation"] = "relu"

    def wider(cfg):
        cfg["config"]["layers"][2]["config"]["units"] = 256

    def sequential(cfg):
        cfg["class_name"] = "Sequential"

    for i, (edit, match) in enumerate([(lambda_layer, "not a model built by"),
                                       (relu, "activations"), (sequential, "Sequential"),
                                       (wider, "shape")]):
        with pytest.raises(KerasFileError, match=match):
            load_engine(_write(tmp_path / f"{i}.keras", _with_config(archive, edit)))
    # a network of another shape altogether, saved by Keras itself
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="logits")])
    other.save(tmp_path / "other.keras")
    with pytest.raises(KerasFileError, match="not a model built by"):
        load_engine(tmp_path / "other.keras")


def test_zoo_load_without_keras_refuses_like_with(tmp_path, archive):
    import shutil

    d = tmp_path / "shakespeare_char"
    shutil.copytree(zoo_dir() / "shakespeare_char", d)
    (d / "model.keras").write_bytes(archive[: len(archive) // 2])
    for backend in (True, False):
        with pytest.raises(zoo.ZooError, match="truncated or corrupt"):
            zoo.load("shakespeare_char", zoo_dir=tmp_path, verify=False, backend=backend)
    _write(d / "model.keras", _with_config(archive, lambda c: c.update(class_name="Sequential")))
    with pytest.raises(zoo.ZooError, match="shakespeare_char: could not load model.keras"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path, verify=False, backend=False)


def test_one_guarded_loader_for_keras_and_numpy(tmp_path):
    """kerasfile.load, the way in for zoo and RunDir: the same network both ways, and the
    same refusals (one KerasFileError, prefixed with where it was loaded for)."""
    from helpers import kerasfile

    vocab = CharVocab.build("abcdefgh ijk\n")
    model = build_model(ModelConfig(vocab_size=len(vocab), embed_dim=4, units=8, layers=2))
    path = tmp_path / "m.keras"
    model.save(path)
    net = kerasfile.load(path, backend=False)
    _assert_same_net(net, load_engine(path))
    back = kerasfile.load(path, backend=True, compile=False)
    _assert_same_net(net, NumpyRNN.from_model(back))
    with pytest.raises(KerasFileError, match=r"^here: model file gone\.keras is missing\.$"):
        kerasfile.load(tmp_path / "gone.keras", where="here")
    cut = tmp_path / "cut.keras"
    cut.write_bytes(path.read_bytes()[:1000])
    for backend in (True, False):
        with pytest.raises(KerasFileError,
                           match=r"^here: could not load cut\.keras: .*truncated or corrupt"):
            kerasfile.load(cut, backend=backend, where="here")


def test_keras_path_refuses_code_in_the_file(tmp_path):
    """A Lambda layer is code: Keras' safe mode refuses it, and so does the NumPy reader."""
    from helpers import kerasfile

    inp = keras.Input((3,))
    out = keras.layers.Lambda(lambda x: x * 2, name="code")(inp)
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(path)
    for backend in (True, False):
        with pytest.raises(KerasFileError, match=r"^run: could not load lambda\.keras: "):
            kerasfile.load(path, backend=backend, where="run")


# --- declared_weights: what Keras allocates, never less -----------------------------------
def _keras_config(model) -> dict:
    """config.json of ``model`` as Keras writes it into a .keras file."""
    return json.loads(json.dumps(keras.saving.serialize_keras_object(model)))


def _allocated(config: dict, monkeypatch) -> int:
    """Weights Keras creates while it builds ``config`` (counted as each is added, so
    that a build Keras abandons half-way counts too)."""
    made = []
    add_weight = keras.layers.Layer.add_weight

    def counting(self, *args, **kwargs):
        w = add_weight(self, *args, **kwargs)
        made.append(int(np.prod(w.shape)))
        return w

    with monkeypatch.context() as m:
        m.setattr(keras.layers.Layer, "add_weight", counting)
        try:
            keras.saving.deserialize_keras_object(json.loads(json.dumps(config)),
                                                  safe_mode=True)  # it edits its input
        except Exception:  # an inconsistent forgery: Keras gives up, after allocating
            pass
    return sum(made)


@pytest.mark.parametrize("seed", range(24))
def test_declared_weights_never_undercount_what_keras_builds(seed, monkeypatch):
    """A build_model network's config.json forged at random: build_configs dropped or
    naming other widths, units and sizes changed. Keras builds each layer from its
    build_config, or from the layer before when there is none; the count is never less
    (it took a missing build_config's width as 0: Dense(10 M) counted 10 M weights)."""
    from helpers.kerasfile import declared_weights

    rng = np.random.default_rng(seed)
    cell = ("lstm", "gru")[seed % 2]
    config = _keras_config(build_model(ModelConfig(vocab_size=11, embed_dim=4, units=6,
                                                   layers=2, cell=cell, dropout=0.1)))
    honest = declared_weights(config)
    assert honest >= _allocated(config, monkeypatch) > 0
    for layer in config["config"]["layers"][1:]:
        cfg = layer["config"]
        if rng.random() < 0.5:
            layer.pop("build_config", None)
        elif rng.random() < 0.5 and "build_config" in layer:
            layer["build_config"]["input_shape"][-1] = int(rng.integers(1, 40))
        for key in ("units", "output_dim", "input_dim"):
            if key in cfg and rng.random() < 0.4:
                cfg[key] = int(rng.integers(1, 40))
    assert declared_weights(config) >= _allocated(config, monkeypatch)


def test_declared_weights_refuses_what_it_cannot_count(archive):
    """Any layer kind but the ones build_model uses could allocate anything from its
    settings; so could a build_config of another form, or a layer fed by no layer."""
    from helpers.kerasfile import declared_weights

    def forged(edit) -> dict:
        cfg = json.loads(_members(archive)["config.json"])
        edit(cfg["config"]["layers"])
        return cfg

    def conv(layers):
        layers[2].update(class_name="Conv1D")

    def nested(layers):
        layers[2] = {"class_name": "Functional", "config": {"name": "inner", "layers": []},
                     "inbound_nodes": layers[2]["inbound_nodes"]}

    def shapes_dict(layers):
        layers[-1]["build_config"] = {"shapes_dict": {"input_shape": [None, 10**9]}}

    def orphan(layers):
        layers[-1]["inbound_nodes"] = []

    for edit, match in [(conv, "kind 'Conv1D'"), (nested, "kind 'Functional'"),
                        (shapes_dict, "build_config"), (orphan, "exactly one layer")]:
        with pytest.raises(KerasFileError, match=match):
            declared_weights(forged(edit))
    with pytest.raises(KerasFileError, match="functional or sequential"):
        declared_weights({"class_name": "Custom>Model", "config": {"layers": []}})


def test_declared_weights_of_a_sequential_model_counts_each_input_width():
    from helpers.kerasfile import declared_weights

    model = keras.Sequential([keras.Input((None, 7)), keras.layers.LSTM(5),
                              keras.layers.Dense(1000)])
    config = _keras_config(model)
    assert declared_weights(config) >= model.count_params()
    for layer in config["config"]["layers"]:
        layer.pop("build_config", None)
    assert declared_weights(config) >= 1000 * (5 + 1)
