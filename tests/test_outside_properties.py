"""Property tests of what reads outside input: whatever the bytes, a reader returns its
result or raises the package's own error (one ``error:`` line from the CLI), never
another exception, a hang or a crash of the renderer.

Bounded: 40 to 80 examples each, no deadline (the machine is shared); the whole file
runs in well under 30 s. A bug found here stays as an ``@example``.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers.activations import neuron_html
from helpers.corpus_cache import encode_corpus
from helpers.errors import TextgenError
from helpers.kerasfile import KerasFileError, declared_weights, load_engine, model_layers
from helpers.sample import Sample, probability_html
from helpers.textio import CorpusError, decode_text, read_texts
from helpers.tweets import _parse, load_tweets
from helpers.vocab import CharVocab, WordVocab, load_vocab

from .conftest import ROOT

pytestmark = pytest.mark.core

FEW = settings(max_examples=50, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SOME = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# any JSON value (small): what a damaged or forged file may hold
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70)
    | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)


def _mutate(value, data, depth: int = 0):
    """``value`` with one of its leaves (or containers) replaced by any JSON value."""
    if depth > 6 or not isinstance(value, (dict, list)) or not value or data.draw(
            st.integers(0, 4)) == 0:
        return data.draw(json_values)
    if isinstance(value, dict):
        key = data.draw(st.sampled_from(sorted(value)))
        return {**value, key: _mutate(value[key], data, depth + 1)}
    i = data.draw(st.integers(0, len(value) - 1))
    return value[:i] + [_mutate(value[i], data, depth + 1)] + value[i + 1:]


# --- text decoding ----------------------------------------------------------------------


@SOME
@given(st.binary(max_size=512))
@example(b"\xff\xfe\x00")  # UTF-16 with a BOM and an odd byte count
@example(b"\xfe\xff\xd8\x00")  # UTF-16-BE with a lone high surrogate
def test_decode_text_returns_text_or_refuses(data):
    try:
        text = decode_text(data)
    except CorpusError:
        return
    assert isinstance(text, str) and "\r" not in text


@FEW
@given(st.lists(st.binary(max_size=48) | st.text(max_size=24).map(str.encode),
                min_size=1, max_size=3), st.integers(1, 7))
@example([b"\xff\xfeab\x00", b"ok"], 1)  # main: UnicodeDecodeError where read_texts skips
def test_streamed_decoding_matches_read_texts(blobs, chunk):
    """The corpus cache decodes in chunks of ``chunk`` bytes what read_texts decodes
    whole: the same text (so the same ids), or the same refusal."""
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "c"
        folder.mkdir()
        for i, b in enumerate(blobs):
            (folder / f"{i}.txt").write_bytes(b)
        try:
            expected = read_texts(folder)
        except CorpusError:
            expected = None
        try:
            enc = encode_corpus(folder, cache_dir=Path(d) / "cache", progress=False,
                                chunk_bytes=chunk)
        except CorpusError:
            assert expected is None
            return
        assert expected is not None
        assert enc.vocab == CharVocab.build(expected)
        assert np.array_equal(np.asarray(enc.ids), enc.vocab.encode(expected))


# --- tweet archives ----------------------------------------------------------------------


tweet_files = st.sampled_from(["data/tweets.js", "data/tweet.js", "tweets.csv",
                               "data/js/tweets/2013_01.js", "data/csv/2012_12.csv",
                               "data/deleted-tweets.js", "data/tweets-part1.js", "x.txt"])
tweet_bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda v: ("window.YTD.tweets.part0 = " + json.dumps(v)).encode(), json_values),
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(lambda rows: ("id,text,created_at\n" + "\n".join(rows)).encode(),
              st.lists(st.text(max_size=20), max_size=4)),
)


@SOME
@given(st.text(min_size=1, max_size=300))
@example("[" * 100_000)  # RecursionError in the JSON parser
@example('text\n"' + "a" * 200_000)  # a CSV field over csv's limit
@example('{"tweets": [{"text": "x", "created_at": "0001-01-01 00:00:00 +0100"}]}')
def test_parse_returns_tweets_or_refuses(text):
    try:
        tweets = _parse(text, "t.js")
    except CorpusError:
        return
    assert all(isinstance(t.text, str) for t in tweets)


@FEW
@given(st.lists(st.tuples(tweet_files, tweet_bodies), min_size=1, max_size=4))
def test_archive_zip_yields_tweets_or_refuses(members):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "archive.zip"
        with zipfile.ZipFile(p, "w") as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a name twice: allowed, and worth reading
            for name, body in members:
                zf.writestr(name, body)
        try:
            tweets = load_tweets(p, deleted=True)
        except TextgenError:
            return
        assert tweets and all(isinstance(t.id, str) for t in tweets)


@FEW
@given(st.binary(min_size=1, max_size=300))
@example(b"\xff" * 44)  # the deflate stream starts with an invalid block: main's zlib.error
def test_damaged_zip_bytes_refused(tail):
    """A tweets zip cut short or with garbage after its first bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/tweets.js", 'window.YTD.tweets.part0 = [{"tweet": {"full_text": '
                                      '"hello there", "id_str": "1"}}]')
    data = buf.getvalue()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "a.zip"
        cut = len(tail) % len(data)
        p.write_bytes(data[:cut] + tail + data[cut + len(tail):])
        try:
            load_tweets(p)
        except TextgenError:
            pass


# --- vocabulary JSON --------------------------------------------------------------------


_GOOD = [CharVocab.build("hello world\n").to_dict(),
         WordVocab.build("hello world, said the world.\n").to_dict()]


@SOME
@given(st.data())
def test_vocab_json_loads_or_refuses(data):
    d = data.draw(st.one_of(json_values, st.sampled_from(_GOOD).map(
        lambda g: _mutate(g, data))))
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "vocab.json"
        p.write_text(json.dumps(d))
        try:
            v = load_vocab(p)
        except TextgenError:
            return
    # a vocabulary that loads works: its own tokens round-trip
    ids = v.encode(v.detokenize(v.tokens[:3]), errors="unk")
    assert all(0 <= int(i) < len(v) for i in ids)


# --- .keras: config.json and the file itself ------------------------------------------


def _tiny_keras(path: Path, vocab: int = 6, width: int = 2, units: int = 3) -> Path:
    """A build_model network of a few hundred weights, written without Keras in the
    layout Keras writes (the tweets_char bundle's config, shrunk)."""
    import h5py

    with zipfile.ZipFile(ROOT / "zoo" / "tweets_char" / "model.keras") as zf:
        config = json.loads(zf.read("config.json"))
        metadata = zf.read("metadata.json")
        weights = zf.read("model.weights.h5")
    for layer in config["config"]["layers"]:
        c = layer["config"]
        if layer["class_name"] == "Embedding":
            c["input_dim"], c["output_dim"] = vocab, width
        elif layer["class_name"] == "LSTM":
            c["units"] = units
        elif layer["class_name"] == "Dense":
            c["units"] = vocab
    rng = np.random.default_rng(0)
    src = h5py.File(io.BytesIO(weights), "r")
    buf = io.BytesIO()
    with src, h5py.File(buf, "w") as h5:
        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                g = h5.require_group(name)
                g.attrs.update(dict(obj.attrs))
                return
            shape = {"layers/embedding/vars/0": (vocab, width),
                     "layers/dense/vars/0": (units, vocab), "layers/dense/vars/1": (vocab,)
                     }.get(name)
            if shape is None:  # an LSTM's kernel, recurrent kernel, bias
                k = name.rsplit("/", 1)[1]
                first = width if name.startswith("layers/lstm/") else units
                shape = {"0": (first, 4 * units), "1": (units, 4 * units),
                         "2": (4 * units,)}[k]
            h5.create_dataset(name, data=rng.normal(size=shape).astype("f4"))
        src.visititems(copy)
        h5.attrs.update(dict(src.attrs))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", metadata)
        zf.writestr("model.weights.h5", buf.getvalue())
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    p = _tiny_keras(tmp_path_factory.mktemp("k") / "model.keras")
    assert "vocab=6" in repr(load_engine(p))  # the reader accepts the real layout
    return p


@FEW
@given(st.data())
def test_config_json_is_layers_or_refused(data):
    with zipfile.ZipFile(ROOT / "zoo" / "tweets_char" / "model.keras") as zf:
        config = json.loads(zf.read("config.json"))
    forged = _mutate(config, data)
    try:
        layers = model_layers(forged)
    except KerasFileError:
        layers = None
    try:
        n = declared_weights(forged)
    except KerasFileError:
        return
    assert isinstance(n, int) and n >= 0
    assert layers is None or isinstance(layers, list)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 10**9), st.binary(min_size=1, max_size=16), st.booleans())
def test_keras_file_bytes_load_or_refuse(tiny, where, junk, cut):
    """The tiny network's file with bytes overwritten somewhere, or cut short."""
    data = bytearray(tiny.read_bytes())
    i = where % len(data)
    data = data[:i] if cut else data[:i] + junk + data[i + len(junk):]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "model.keras"
        p.write_bytes(bytes(data))
        try:
            load_engine(p)
        except KerasFileError:
            pass


# --- HTML ------------------------------------------------------------------------------


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)


@SOME
@given(st.text(max_size=40), st.lists(floats, max_size=50),
       st.none() | st.floats(min_value=0, allow_infinity=False, allow_nan=False))
@example("ab", [float("nan"), 1.0], None)  # main: ValueError: cannot convert NaN to int
@example("ab", [float("inf"), float("-inf")], None)
def test_neuron_html_renders_any_values(text, values, scale):
    out = neuron_html(text, np.array(values, dtype=np.float64), title=text, scale=scale)
    assert out.count('<span style="background:') == min(len(text), len(values))
    assert "nan)" not in out and "#-" not in out


@SOME
@given(st.text(min_size=1, max_size=20), st.lists(floats, min_size=1, max_size=20))
@example("ab", [float("nan"), 2.0])  # main: ValueError (NaN), a negative rgb() (2.0)
def test_probability_html_renders_any_probabilities(text, probs):
    out = probability_html(Sample(text, "", probs=probs))
    assert out.count('<span style="background:#') == min(len(text), len(probs))
    assert re.findall(r'background:(#[^;"\']*)', out) == re.findall(
        r'background:(#[0-9a-f]{6})', out)  # every colour a well-formed #rrggbb


# --- a zoo bundle's meta.json --------------------------------------------------------------


@FEW
@given(st.data())
def test_bundle_meta_json_loads_or_refuses(tiny, data):
    from helpers import zoo
    from helpers.textio import sha256_file

    with tempfile.TemporaryDirectory() as d:
        bundle = Path(d) / "tiny"
        bundle.mkdir()
        (bundle / "model.keras").write_bytes(tiny.read_bytes())
        vocab = CharVocab.build("abc")
        vocab.save(bundle / "vocab.json")
        meta = {"name": "tiny", "vocab_fingerprint": vocab.fingerprint(),
                "sha256": {"model.keras": sha256_file(bundle / "model.keras"),
                           "vocab.json": sha256_file(bundle / "vocab.json")}}
        (bundle / "meta.json").write_text(json.dumps(meta))
        assert zoo.load(str(bundle), backend=False).vocab == vocab
        (bundle / "meta.json").write_text(json.dumps(_mutate(meta, data)))
        try:
            zoo.load(str(bundle), backend=False)
        except TextgenError:
            pass
