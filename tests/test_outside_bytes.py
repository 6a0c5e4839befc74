"""Nothing a file holds can crash, hang or exhaust memory (helpers/limits.py and its users).

Each test builds the hostile input for real (a FIFO, ``/dev/zero``, a zip whose member
inflates to a GB, a ``.keras`` that declares a 6 GB embedding in 13 KB, a server that
streams without a length) and runs the reader in a subprocess with a timeout and a cap
on its address space, so that a regression fails (rc, hang, MemoryError) instead of
hanging the suite or the machine; where memory is the point, the child reports its own
peak resident set (``VmHWM``) and the test bounds it.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import limits
from helpers.activations import neuron_html
from helpers.corpus_cache import encode_corpus
from helpers.limits import InputRefused
from helpers.textio import CorpusError, read_texts

from .conftest import ROOT, environ
from .httpserve import running

pytestmark = pytest.mark.core

# the child prints its peak resident set on its last stderr line. VmHWM, not getrusage's
# ru_maxrss: Linux keeps ru_maxrss across exec, so a child forked from a large test process
# (the whole suite, Keras loaded) would report the parent's size
_RUNNER = (
    "import sys\n"
    "from helpers.cli import main\n"
    "def peak_kb():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1])\n"
    "    return 0\n"
    "try:\n"
    "    rc = main(sys.argv[1:])\n"
    "finally:\n"
    "    print('maxrss_kb', peak_kb(), file=sys.stderr)\n"
    "sys.exit(rc)\n"
)
_GB = 1 << 30


def _limit_memory(gb: float):
    def apply():
        size = int(gb * _GB)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    return apply


def _obey_permissions() -> None:
    """In a child run as root: drop the capabilities that let root read what its mode
    forbids (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from the bounding set, so that the
    program exec'd next meets file permissions as any user would."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def cli(*argv: str, timeout: float = 60, memory_gb: float = 3, env: dict | None = None,
        permissions: bool = False) -> tuple[int, str, int]:
    """``python -m helpers argv`` in a child with a timeout and an address-space cap;
    returns (exit status, stderr without the rss line, peak RSS in MB). A hang is a
    failure (the FIFO case), as is a MemoryError (a traceback, exit 1). ``permissions``:
    file modes apply even where the tests run as root."""
    def pre():
        _limit_memory(memory_gb)()
        if permissions and os.geteuid() == 0:
            _obey_permissions()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "torch",
                **(env or {})}
    try:
        p = subprocess.run([sys.executable, "-c", _RUNNER, *argv], capture_output=True,
                           text=True, timeout=timeout, env=full_env, preexec_fn=pre,
                           cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(argv)}` hung for {timeout} s")
    lines = p.stderr.strip().splitlines()
    rss = 0
    if lines and lines[-1].startswith("maxrss_kb"):
        rss = int(lines.pop().split()[1]) // 1024
    return p.returncode, "\n".join(lines), rss


def assert_error(rc: int, err: str, *words: str) -> None:
    """One ``error:`` line, exit 2, no traceback, naming what it must."""
    assert rc == 2, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: "), err
    for w in words:
        assert w in last, (w, last)


# --- FIFOs, devices: refused, never read --------------------------------------------


@pytest.fixture
def fifo(tmp_path):
    def make(name: str) -> Path:
        p = tmp_path / name
        os.mkfifo(p)
        return p
    return make


@pytest.mark.parametrize("source,name", [("tweets", "tweets.js"), ("hn", "raw.json"),
                                         ("yelp", "reviews.txt"), ("text", "corpus.txt")])
def test_corpus_refuses_a_fifo(source, name, fifo, tmp_path):
    f = fifo(name)
    rc, err, _ = cli("corpus", source, str(f), "--out", str(tmp_path / "out.txt"), timeout=30)
    assert_error(rc, err, name, "FIFO")
    assert not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("source", ["tweets", "hn", "yelp"])
def test_corpus_refuses_dev_zero(source, tmp_path):
    rc, err, rss = cli("corpus", source, "/dev/zero", "--out", str(tmp_path / "o.txt"),
                       timeout=30, memory_gb=2)
    assert_error(rc, err, "/dev/zero", "device")
    assert rss < 400, rss


def test_evaluate_refuses_a_fifo(fifo):
    f = fifo("held_out.txt")
    rc, err, _ = cli("evaluate", "--zoo", "tweets_char", str(f), timeout=120, memory_gb=8)
    assert_error(rc, err, "held_out.txt", "FIFO")


def test_read_texts_refuses_a_fifo_in_a_folder(tmp_path, fifo):
    (tmp_path / "a.txt").write_text("some text\n")
    fifo("b.txt")
    with pytest.raises(InputRefused, match=r"b\.txt.*FIFO"):
        read_texts(tmp_path)


def test_open_regular_does_not_block_on_a_fifo(fifo):
    with pytest.raises(InputRefused, match="FIFO"):
        limits.open_regular(fifo("x"), 100)


# --- zip bombs -----------------------------------------------------------------------


def _bomb_zip(path: Path, member: str, head: bytes, zeros: int) -> None:
    """A zip whose ``member`` is ``head`` then ``zeros`` zero bytes, its header honest
    (sizes and CRC), built in well under a second: the deflate stream of one 8 MB run of
    zeros, fully flushed, is the same bytes every time, so it is repeated, not redone."""
    import struct
    import zlib

    run = 8 << 20
    assert zeros % run == 0
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(run)) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    zero = bytes(run)
    for _ in range(zeros // run):
        crc = zlib.crc32(zero, crc)
    size = len(head) + zeros
    csize = len(first) + len(block) * (zeros // run) + len(tail)
    name = member.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, csize, size,
                        len(name), 0) + name
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, csize,
                          size, len(name), 0, 0, 0, 0, 0, 0) + name
    with open(path, "wb") as fh:
        fh.write(local)
        fh.write(first)
        for _ in range(zeros // run):
            fh.write(block)
        fh.write(tail)
        offset = fh.tell()
        fh.write(central)
        fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), offset, 0))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A ~1 MB zip whose data/tweets.js inflates to 1 GB (its header says so honestly)."""
    p = tmp_path_factory.mktemp("bomb") / "twitter-archive.zip"
    _bomb_zip(p, "data/tweets.js", b"window.YTD.tweets.part0 = [", 1 << 30)
    assert p.stat().st_size < 8 << 20
    with zipfile.ZipFile(p) as zf:  # a valid zip: the first bytes inflate as declared
        assert zf.getinfo("data/tweets.js").file_size == (1 << 30) + 27
        with zf.open("data/tweets.js") as fh:
            assert fh.read(40) == b"window.YTD.tweets.part0 = [" + bytes(13)
    return p


def test_tweets_zip_bomb_refused_before_inflating(bomb, tmp_path):
    rc, err, rss = cli("corpus", "tweets", str(bomb), "--out", str(tmp_path / "o.txt"),
                       timeout=60, memory_gb=2)
    assert_error(rc, err, "twitter-archive.zip", "data/tweets.js", "MB")
    assert rss < 300, rss


def test_read_capped_stops_past_the_budget():
    with pytest.raises(InputRefused, match="larger than"):
        limits.read_capped(io.BytesIO(bytes(1000)), 999, "x")
    assert limits.read_capped(io.BytesIO(bytes(999)), 999, "x") == bytes(999)


# --- a forged .keras file --------------------------------------------------------------


def _tweets_bundle_start(dest: Path) -> tuple[dict, bytes, bytes, dict]:
    """A new bundle folder ``dest`` with tweets_char's vocabulary, the three members of
    tweets_char's model.keras (config.json parsed) and its meta.json, for a forgery."""
    src = ROOT / "zoo" / "tweets_char"
    dest.mkdir()
    (dest / "vocab.json").write_bytes((src / "vocab.json").read_bytes())
    with zipfile.ZipFile(src / "model.keras") as zf:
        return (json.loads(zf.read("config.json")), zf.read("metadata.json"),
                zf.read("model.weights.h5"), json.loads((src / "meta.json").read_text()))


def _forged_bundle(dest: Path, vocab_size: int = 25_000_000, h5_huge: bool = False) -> Path:
    """The tweets_char bundle with a model.keras of a few KB whose config.json declares a
    ``vocab_size`` x width embedding (6.4 GB at the default), meta.json's checksum
    updated to match (meta.json is outside input too)."""
    import h5py

    config, metadata, weights, meta = _tweets_bundle_start(dest)
    width = None
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Embedding":
            width = layer["config"]["output_dim"]
            if not h5_huge:
                layer["config"]["input_dim"] = vocab_size
        if layer["class_name"] == "Dense" and not h5_huge:
            layer["config"]["units"] = vocab_size
    buf = io.BytesIO(weights if h5_huge else b"")
    with h5py.File(buf, "r+" if h5_huge else "w") as h5:
        # declared, never written: HDF5 stores nothing and would read back fill values
        if h5_huge:  # the real weights, but the embedding replaced by such an array
            del h5["layers/embedding/vars/0"]
        h5.create_dataset("layers/embedding/vars/0", shape=(vocab_size, width), dtype="f4")
    blob = buf.getvalue()
    model = dest / "model.keras"
    with zipfile.ZipFile(model, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", metadata)
        zf.writestr("model.weights.h5", blob)
    from helpers.textio import sha256_file

    meta["sha256"] = {"model.keras": sha256_file(model),
                      "vocab.json": sha256_file(dest / "vocab.json")}
    (dest / "meta.json").write_text(json.dumps(meta))
    return dest


def test_sample_refuses_a_forged_keras_before_allocating(tmp_path):
    bundle = _forged_bundle(tmp_path / "forged")
    assert (bundle / "model.keras").stat().st_size < 20_000
    rc, err, rss = cli("sample", "--zoo", str(bundle), "--length", "5", timeout=60,
                       memory_gb=3)
    assert_error(rc, err, "model.keras", "declares")
    assert rss < 400, rss


def test_keras_loaders_refuse_a_forged_keras_before_keras_builds_it(tmp_path):
    """The Keras path (zoo.load(backend=True), as `evaluate` and notebooks load): Keras
    would build the 6.4 GB embedding from config.json before reading any weight."""
    bundle = _forged_bundle(tmp_path / "forged")
    code = ("import resource, sys\n"
            "from helpers import zoo\n"
            "try:\n"
            f"    zoo.load({str(bundle)!r}, backend=True)\n"
            "except zoo.ZooError as e:\n"
            "    print('refused', e)\n"
            "print('maxrss_kb', [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')][0])\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT),
                                         "KERAS_BACKEND": "torch"},
                       preexec_fn=_limit_memory(4))
    assert p.returncode == 0, p.stderr[-2000:]
    assert "refused" in p.stdout and "declares" in p.stdout, p.stdout
    assert int(p.stdout.split("maxrss_kb")[1]) // 1024 < 400


def test_h5_array_declared_past_the_bytes_present_is_refused(tmp_path):
    """A consistent config, but an HDF5 array that declares 6.4 GB it does not store:
    refused by the h5py check before the NumPy reader allocates it."""
    from helpers.kerasfile import KerasFileError, check_budget, load_engine

    bundle = _forged_bundle(tmp_path / "forged", vocab_size=25_000_000, h5_huge=True)
    for fn in (check_budget, load_engine):
        with pytest.raises(KerasFileError, match="declares .* bytes but the file stores"):
            fn(bundle / "model.keras")


# --- a .keras file whose members inflate on trust ----------------------------------------

_LOADER = (  # kerasfile.load in a child that reports its peak resident set, as _RUNNER
    "import sys\n"
    "from helpers import kerasfile\n"
    "try:\n"
    "    kerasfile.load(sys.argv[1], backend=sys.argv[2] == 'keras')\n"
    "    print('loaded')\n"
    "except kerasfile.KerasFileError as e:\n"
    "    print('refused', e)\n"
    "print('maxrss_kb', [int(x.split()[1]) for x in open('/proc/self/status') "
    "if x.startswith('VmHWM:')][0])\n")


def load_in_child(path: Path, backend: str, memory_gb: float = 4) -> tuple[str, int]:
    """``kerasfile.load(path)`` (``backend``: "keras" or "numpy") in a child with an
    address-space cap: (what it printed, peak RSS in MB)."""
    p = subprocess.run([sys.executable, "-c", _LOADER, str(path), backend],
                       capture_output=True, text=True, timeout=180, cwd=str(ROOT),
                       env={**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "torch"},
                       preexec_fn=_limit_memory(memory_gb))
    assert p.returncode == 0 and "maxrss_kb" in p.stdout, p.stderr[-2000:]
    out, _, rss = p.stdout.rpartition("maxrss_kb")
    return out.strip(), int(rss) // 1024


def _bundle_with(dest: Path, weights, config_edit=None, level: int | None = None) -> Path:
    """The tweets_char bundle with a model.keras whose model.weights.h5 is written by
    ``weights(fh, real)`` (``real``: the true member's bytes), config.json edited by
    ``config_edit``, deflated at ``level`` (None: stored, as Keras writes), and
    meta.json's checksums updated to match."""
    from helpers.textio import sha256_file

    config, metadata, real, meta = _tweets_bundle_start(dest)
    if config_edit:
        config_edit(config)
    model = dest / "model.keras"
    how = dict(compression=zipfile.ZIP_STORED) if level is None else dict(
        compression=zipfile.ZIP_DEFLATED, compresslevel=level)
    with zipfile.ZipFile(model, "w", **how) as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", metadata)
        with zf.open("model.weights.h5", "w", force_zip64=True) as fh:
            weights(fh, real)
    meta["sha256"] = {"model.keras": sha256_file(model),
                      "vocab.json": sha256_file(dest / "vocab.json")}
    (dest / "meta.json").write_text(json.dumps(meta))
    return dest


def _zeros_after(head: bool, total: int):
    def write(fh, real):
        if head:
            fh.write(real)
        for _ in range(total // (8 << 20)):
            fh.write(bytes(8 << 20))
    return write


@pytest.mark.parametrize("head", [False, True], ids=["zeros", "hdf5-then-zeros"])
def test_weights_zip_bomb_refused_before_inflating(tmp_path, head):
    """model.weights.h5 of 1 GB of zeros in a 1 MB file (first the real weights, so that
    its first bytes are HDF5's, or not): it used to be inflated whole into memory before
    HDF5 refused it (3.2 GB resident for 1.5 GB); refused from the central directory."""
    bundle = _bundle_with(tmp_path / "bomb", _zeros_after(head, 1 << 30), level=1)
    assert (bundle / "model.keras").stat().st_size < 8 << 20
    rc, err, rss = cli("sample", "--zoo", str(bundle), "--length", "5", timeout=120)
    assert rss < 300, rss
    assert_error(rc, err, "model.keras", "model.weights.h5", "inflates")
    for backend in ("keras", "numpy"):
        out, rss = load_in_child(bundle / "model.keras", backend)
        assert rss < 300, (backend, rss)
        assert out.startswith("refused") and "inflates" in out, out


def test_big_weights_member_is_inflated_to_disk_not_memory(tmp_path):
    """An honest 256 MB model.weights.h5 (the real weights, then random bytes no HDF5
    object points at): it loads, and reading it costs no memory of its size (it used to
    be read into memory whole, twice over while joined)."""
    def write(fh, real):
        fh.write(real)
        rng = np.random.default_rng(0)
        for _ in range(16):
            fh.write(rng.bytes(16 << 20))

    bundle = _bundle_with(tmp_path / "big", write)
    rc, err, rss = cli("sample", "--zoo", str(bundle), "--length", "5", "--seed", "0",
                       timeout=120)
    assert rss < 200, rss
    assert rc == 0, err


def _dense_forgery(units: int):
    """config.json: the output layer ``units`` wide, its build_config dropped (Keras
    then takes its input width, 256, from the LSTM before it)."""
    def edit(config):
        dense = config["config"]["layers"][-1]
        dense["config"]["units"] = units
        del dense["build_config"]
    return edit


def _pad_weights(extra: int):
    """The real weights plus an array of ``extra`` random bytes: room enough in the
    file for a count that forgets the Dense input width, and incompressible."""
    def write(fh, real):
        import h5py

        buf = io.BytesIO(real)
        with h5py.File(buf, "r+") as h5:
            h5.create_dataset("pad", data=np.random.default_rng(0).integers(
                0, 256, extra, dtype=np.uint8))
        fh.write(buf.getvalue())
    return write


def test_dense_without_build_config_is_counted_from_the_layer_before(tmp_path):
    """Dense(10_000_000) with no build_config and 21 MB of padding: the count took its
    input width as 0 (10 M weights, room enough), while Keras builds 256 x 10 M
    (10 GB); refused now, by one count for both loaders, before Keras builds it."""
    from helpers.kerasfile import KerasFileError, check_budget, load_engine

    bundle = _bundle_with(tmp_path / "dense", _pad_weights(21_000_000),
                          _dense_forgery(10_000_000))
    counts = []
    for fn in (check_budget, load_engine):
        with pytest.raises(KerasFileError, match="declares") as e:
            fn(bundle / "model.keras")
        counts.append(str(e.value).split("declares ")[1].split()[0])
    assert counts[0] == counts[1], counts
    assert int(counts[0].replace(",", "")) >= 256 * 10_000_000
    out, rss = load_in_child(bundle / "model.keras", "keras")
    assert rss < 400, rss
    assert out.startswith("refused") and "declares" in out, out


# --- downloads without a length --------------------------------------------------------


class _Endless(http.server.BaseHTTPRequestHandler):
    """Streams zeros without a Content-Length (HTTP/1.0: the body ends when the
    connection closes), up to ``server.total`` bytes."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        chunk = b"a" * (1 << 20)
        with contextlib.suppress(OSError):
            for _ in range(self.server.total >> 20):
                self.wfile.write(chunk)


@contextlib.contextmanager
def endless(total: int):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    server.total = total
    server.daemon_threads = True
    with running(server) as url:
        yield url


def test_http_get_stops_past_its_budget():
    from helpers.net import DownloadTooLarge, http_get

    with endless(64 << 20) as url, pytest.raises(DownloadTooLarge, match="larger than"):
        http_get(url + "/book.txt", "test", retries=0, max_bytes=2 << 20)


def test_gutenberg_mirror_streaming_without_length_is_stopped_and_not_cached(tmp_path):
    """The probe: a mirror streaming 384 MB with no Content-Length (main held 2.3 GB and
    cached it); the book budget stops it at 64 MB and nothing is cached."""
    with endless(384 << 20) as url:
        code = ("import resource, sys\n"
                "from helpers.gutenberg import Gutenberg, GutenbergError\n"
                f"g = Gutenberg(mirror={url!r}, cache_dir={str(tmp_path / 'c')!r}, "
                "delay=0, retries=0)\n"
                "try:\n    g.raw(99999)\nexcept GutenbergError as e:\n    print('refused', e)\n"
                "print('maxrss_kb', [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')][0])\n")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
                           preexec_fn=_limit_memory(3))
    assert p.returncode == 0, p.stderr
    assert "refused" in p.stdout and "larger than" in p.stdout, p.stdout
    rss = int(p.stdout.split("maxrss_kb")[1]) // 1024
    assert rss < 400, rss
    assert not any((tmp_path / "c").glob("99999*"))


def test_registry_download_stops_at_its_registered_size(tmp_path):
    from helpers import datasets

    with endless(64 << 20) as url, environ(TEXTGEN_MIRROR=url,
                                           TEXTGEN_DATA=str(tmp_path / "d")):
        with pytest.raises(datasets.DataUnavailable, match="more than the 1,115,394 bytes"):
            datasets.fetch("tinyshakespeare", progress=False, retries=0)
        assert not datasets.get("tinyshakespeare").local().exists()
    assert not [p for p in (tmp_path / "d").rglob("*") if p.is_file()]


# --- the corpus cache proves a hit -----------------------------------------------------


def test_cache_notices_an_edit_that_keeps_size_and_mtime(tmp_path):
    rng = np.random.default_rng(0)
    text = np.frombuffer(b"abcdefgh \n", np.uint8)[rng.integers(0, 10, 3 << 20)
                                                   ].tobytes().decode()
    f = tmp_path / "corpus.txt"
    f.write_text(text)
    cache = tmp_path / "cache"
    first = encode_corpus(f, cache_dir=cache, progress=False)
    st = f.stat()
    with open(f, "r+b") as fh:  # 8 bytes in the middle, not in the first or last MB
        fh.seek(len(text) // 2)
        fh.write(b"zzzzzzzz")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    again = encode_corpus(f, cache_dir=cache, progress=False)
    assert not again.reused
    mid = len(text) // 2
    assert again.vocab.decode(np.asarray(again.ids[mid:mid + 8])) == "zzzzzzzz"
    assert first.vocab != again.vocab  # 'z' is new


def test_cache_with_ids_past_the_vocabulary_is_rebuilt(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text("hello world\n" * 1000)
    cache = tmp_path / "cache"
    enc = encode_corpus(f, cache_dir=cache, progress=False)
    size = len(enc.vocab)
    npy = enc.cache
    del enc
    ids = np.load(npy, mmap_mode="r+")
    ids[100] = 200  # uint8 still, same size: only the value is wrong
    ids.flush()
    del ids
    again = encode_corpus(f, cache_dir=cache, progress=False)
    assert not again.reused
    assert int(np.max(again.ids)) < size


# --- names that are not UTF-8, unreadable parts of a corpus ----------------------------


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file names are always UTF-8")
def test_non_utf8_file_names_train_and_leave_no_orphans(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("plain text\n")
    bad = os.path.join(os.fsencode(folder), b"caf\xe9.txt")
    with open(bad, "wb") as fh:
        fh.write(b"more text\n")
    cache = tmp_path / "cache"
    enc = encode_corpus(folder, cache_dir=cache, progress=False)
    assert enc.vocab.decode(np.asarray(enc.ids)) == "plain text\n\n\nmore text\n"
    again = encode_corpus(folder, cache_dir=cache, progress=False)
    assert again.reused
    names = sorted(p.name for p in cache.iterdir())
    assert len(names) == 3 and all(n.endswith((".npy", ".json")) for n in names), names
    # and the whole file, named in bytes that are not UTF-8
    enc1 = encode_corpus(os.fsdecode(bad), cache_dir=tmp_path / "c1", progress=False)
    assert enc1.vocab.decode(np.asarray(enc1.ids)) == "more text\n"
    assert len(list((tmp_path / "c1").iterdir())) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl: Linux only")
@pytest.mark.parametrize("what", ["file", "folder"])
def test_unreadable_parts_of_a_corpus_folder_are_errors(tmp_path, what):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_text("readable text\n")
    (corpus / "sub" / "b.txt").write_text("hidden text\n")
    locked = corpus / "sub" / "b.txt" if what == "file" else corpus / "sub"
    locked.chmod(0)
    out = tmp_path / "out.txt"
    try:
        rc, err, _ = cli("corpus", "text", str(corpus), "--out", str(out), timeout=60,
                         permissions=True)
    finally:
        locked.chmod(0o755)
    # main: the file's error hinted at writable folders; the folder was skipped silently
    assert_error(rc, err, "b.txt" if what == "file" else "sub", "ermission denied")
    assert "write" not in err.splitlines()[-1]
    assert not out.exists()


# --- rendering ---------------------------------------------------------------------------


def test_neuron_html_with_nan_and_inf():
    out = neuron_html("abcd", np.array([np.nan, np.inf, -np.inf, 0.5]))
    assert out.count("<span style=\"background:") == 4
    assert limits.shown  # (the module is importable without Keras)


def test_read_text_budget_is_checked_before_reading(tmp_path, monkeypatch):
    f = tmp_path / "big.txt"
    with open(f, "wb") as fh:  # sparse: no disk used
        fh.truncate(limits.MAX_TEXT_BYTES + 1)
    from helpers.textio import read_text

    with pytest.raises(InputRefused, match="over the 512.0 MB"):
        read_text(f)
    with pytest.raises(CorpusError):
        read_text(tmp_path)  # a folder: still its own message


def test_word_level_line_without_end_is_refused_not_held(tmp_path, monkeypatch):
    """Word-level encoding holds a line until its end: a file without newlines would be
    held whole. Past the stated maximum it is refused (the maximum made small here)."""
    from helpers import corpus_stream

    monkeypatch.setattr(corpus_stream, "MAX_LINE_CHARS", 10_000)
    f = tmp_path / "one_line.txt"
    f.write_text("word " * 20_000)
    with pytest.raises(CorpusError, match="line of more than"):
        encode_corpus(f, word_level=True, cache_dir=tmp_path / "c", progress=False,
                      chunk_bytes=4096)
    assert not list((tmp_path / "c").glob("*"))


def test_zip_listing_too_many_entries_is_refused_before_listing(tmp_path):
    """ZipFile turns every central-directory entry into an object: the count in the end
    record is checked first (a .keras file has three)."""
    from helpers.kerasfile import KerasFileError, load_engine

    p = tmp_path / "model.keras"
    with zipfile.ZipFile(p, "w") as zf:
        for i in range(1001):
            zf.writestr(f"m{i}", b"")
    with pytest.raises(KerasFileError, match="number of entries"):
        load_engine(p)
