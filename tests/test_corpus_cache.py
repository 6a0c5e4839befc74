"""Corpora encoded in chunks into a memory-mapped, cached .npy (helpers.corpus_cache):
the ids equal encoding the whole text, the cache is reused, refreshed and repaired, and
training reads the map without loading the corpus."""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers.corpus_cache import EncodedCorpus, count_tokens, encode_corpus, load_corpus
from helpers.textio import CorpusError, read_texts, text_files
from helpers.train import train
from helpers.vocab import CharVocab, WordVocab
from helpers.windows import SequentialWindows, StreamDataset, WindowDataset, split_ids

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# several scripts and widths: 2-, 3- and 4-byte UTF-8, a surrogate pair in UTF-16
MIXED = ("Caf\u00e9 \u2014 na\u00efve \U0001F600 \u4e2d\u6587 \u03a3\u039f\u03a6\u0399\u0391\r\n"
         "line two\rthree \u201cquoted\u201d\r\n\r\n")
TINY_CHUNKS = (1, 2, 3, 5, 7, 64)


def _encode(path, cache, **kw):
    kw.setdefault("progress", False)
    return encode_corpus(path, cache_dir=cache, **kw)


def _same_as_whole(path, cache, chunks=TINY_CHUNKS):
    """encode_corpus's ids and vocabulary, at every chunk size, equal those of the text
    read whole."""
    text = read_texts(path)
    expected = CharVocab.build(text)
    for i, chunk in enumerate(chunks):
        c = _encode(path, Path(cache) / str(i), chunk_bytes=chunk)
        assert c.vocab == expected, chunk
        assert c.vocab.counts == expected.counts, chunk
        assert list(c.vocab.counts) == list(expected.counts), chunk  # first-seen order
        assert c.ids.dtype == expected.dtype
        np.testing.assert_array_equal(np.asarray(c.ids), expected.encode(text), err_msg=str(chunk))
    return text


pytestmark = pytest.mark.core


@pytest.mark.parametrize("name,data", [
    ("utf8", (MIXED * 30).encode("utf-8")),
    ("utf8-bom", b"\xef\xbb\xbf" + (MIXED * 30).encode("utf-8")),
    ("utf16-le", (MIXED * 30).encode("utf-16")),  # BOM + native order
    ("utf16-be", b"\xfe\xff" + (MIXED * 30).encode("utf-16-be")),
    # cp1252 discovered only after many chunks of valid UTF-8 (the file is read again)
    ("cp1252", ("plain ascii " * 300 + "caf\u00e9 \u201cq\u201d \u20ac\r\n" * 20).encode("cp1252")),
    ("latin1", b"abc " * 500 + b"\x81\xe9\xff\r\n" * 10),  # 0x81 is not cp1252
    ("crlf", b"a\r\nbb\r\nccc\r\n\r\r\n" * 80 + b"end\r"),
    ("cr-only", b"old mac\rlines\r" * 60),
])
def test_chunked_ids_equal_whole_text(tmp_path, name, data):
    f = tmp_path / f"{name}.txt"
    f.write_bytes(data)
    text = _same_as_whole(f, tmp_path / "cache")
    assert "\r" not in text


def test_crlf_split_at_every_position(tmp_path):
    f = tmp_path / "c.txt"
    for prefix in range(4):  # the "\r\n" lands on every side of a chunk edge
        f.write_bytes(b"x" * prefix + b"ab\r\ncd\r\n" * 40)
        _same_as_whole(f, tmp_path / f"cache{prefix}", chunks=(2, 3, 4))


def test_folder_same_files_and_order_as_read_texts(tmp_path):
    d = tmp_path / "corpus"
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / "b.txt").write_text("second file \u00e9\n", encoding="utf-8")
    (d / "a.md").write_bytes(("first \u201cfile\u201d\r\n" * 50).encode("cp1252"))
    (d / "sub" / "c.py").write_bytes(("print('\u00fc')\n" * 40).encode("utf-16"))
    (d / "sub" / "deeper" / "d").write_text("no suffix \U0001F600", encoding="utf-8")
    (d / "blank.txt").write_text("  \n\t\n  ", encoding="utf-8")  # skipped: empty
    (d / "zero.txt").write_bytes(b"")
    (d / "bin.txt").write_bytes(b"\x00\x01binary" * 20)  # skipped: binary
    (d / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (d / "notes.corpus.json").write_text("{}", encoding="utf-8")
    (d / "image.png").write_bytes(b"\x89PNG....")
    text = _same_as_whole(d, tmp_path / "cache", chunks=(3, 1 << 20))
    assert "hidden" not in text and "binary" not in text
    # sorted paths: the top folder's files, then sub/c.py, then sub/deeper/d
    assert [f.name for f in text_files(d)] == [
        "a.md", "b.txt", "bin.txt", "blank.txt", "c.py", "d", "zero.txt"]
    assert text.index("first") < text.index("second") < text.index("print") < text.index("no suffix")


def test_word_level_streams_whole_lines(tmp_path):
    text = ("The CAT sat; on the mat.\r\nIt's \u03a3\u039f\u03a3 time_ \x02doc\x03 <unk>\n"
            "ODYSSEUS \u2014 well, well!\n\n") * 40
    f = tmp_path / "w.txt"
    f.write_bytes(text.encode("utf-8"))
    whole = read_texts(f)
    expected = WordVocab.build(whole, max_words=12, min_count=2)
    for chunk in (1, 7, 1 << 20):
        c = _encode(f, tmp_path / f"w{chunk}", word_level=True, max_words=12, min_count=2,
                    chunk_bytes=chunk)
        assert c.vocab == expected and c.vocab.counts == expected.counts
        np.testing.assert_array_equal(np.asarray(c.ids), expected.encode(whole))


def test_given_vocab_maps_unknown_characters(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("abc xyz \u00e9\u00e9 " * 100, encoding="utf-8")
    vocab = CharVocab.build("abc ")
    c = _encode(f, tmp_path / "cache", vocab=vocab, chunk_bytes=5)
    assert c.vocab is vocab
    np.testing.assert_array_equal(np.asarray(c.ids), vocab.encode(read_texts(f)))
    assert (np.asarray(c.ids) == vocab.unk_id).sum() == 500


@pytest.mark.parametrize("setup", ["missing", "empty", "blank", "binary", "empty-folder"])
def test_refuses_what_read_texts_refuses(tmp_path, setup):
    p = tmp_path / "x.txt"
    if setup == "empty":
        p.write_bytes(b"")
    elif setup == "blank":
        p.write_text(" \n \n")
    elif setup == "binary":
        p.write_bytes(b"\x00\x00\x01\x02" * 100)
    elif setup == "empty-folder":
        p.mkdir()
        (p / "only.bin").write_bytes(b"\x00" * 10)
        (p / "blank.txt").write_text("\n")
    with pytest.raises((FileNotFoundError, CorpusError)) as whole:
        read_texts(p)
    with pytest.raises(type(whole.value)) as chunked:
        _encode(p, tmp_path / "cache")
    assert str(chunked.value).split(" ")[1:] == str(whole.value).split(" ")[1:]


def test_memmap_read_only_and_cache_reused(tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text(MIXED * 200, encoding="utf-8")
    cache = tmp_path / "cache"
    first = _encode(f, cache)
    assert not first.reused and isinstance(first.ids, np.memmap)
    assert not first.ids.flags.writeable
    assert first.cache.parent == cache and first.cache.suffix == ".npy"
    note = json.loads(first.cache.with_suffix(".json").read_text())
    assert note["tokens"] == len(first) and note["vocab_fingerprint"] == first.vocab.fingerprint()
    stamp = first.cache.stat().st_mtime_ns
    second = _encode(f, cache)
    assert second.reused and second.cache == first.cache
    assert second.cache.stat().st_mtime_ns == stamp  # not written again
    assert second.vocab == first.vocab  # read back from its JSON
    np.testing.assert_array_equal(np.asarray(second.ids), np.asarray(first.ids))
    assert "note:" not in capsys.readouterr().err
    # another vocabulary setting is another cache entry, not a clash
    other = _encode(f, cache, min_count=500)
    assert not other.reused and other.cache != first.cache and len(other.vocab) < len(first.vocab)


def test_default_folder_follows_paths(tmp_path):
    from .conftest import environ

    f = tmp_path / "t.txt"
    f.write_text("some text\n" * 20, encoding="utf-8")
    with environ(TEXTGEN_ENCODED=str(tmp_path / "enc")):
        c = encode_corpus(f, progress=False)
    assert c.cache.parent == tmp_path / "enc"


def test_changed_corpus_is_encoded_again(tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text("aaaa bbbb\n" * 300, encoding="utf-8")
    cache = tmp_path / "cache"
    first = _encode(f, cache)
    st = f.stat()
    f.write_text("cccc dddd\n" * 300, encoding="utf-8")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert f.stat().st_size == st.st_size
    second = _encode(f, cache)
    assert not second.reused and "changed" in capsys.readouterr().err
    assert second.vocab.decode(second.ids[:9]) == "cccc dddd"
    assert "a" not in second.vocab and "a" in first.vocab
    # an edit that keeps the size and the modification time is caught by the content hash
    st = f.stat()
    f.write_text("eeee ffff\n" * 300, encoding="utf-8")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    third = _encode(f, cache)
    assert not third.reused and third.vocab.decode(third.ids[:4]) == "eeee"


def test_truncated_cache_is_detected_and_rebuilt(tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text(MIXED * 100, encoding="utf-8")
    cache = tmp_path / "cache"
    first = _encode(f, cache)
    expected = np.array(first.ids)
    npy = first.cache
    del first
    with open(npy, "r+b") as fh:
        fh.truncate(npy.stat().st_size - 100)
    capsys.readouterr()
    again = _encode(f, cache)
    err = capsys.readouterr().err
    assert not again.reused
    assert len(err.strip().splitlines()) == 1 and "truncated" in err and "again" in err
    np.testing.assert_array_equal(np.asarray(again.ids), expected)
    assert _encode(f, cache).reused  # repaired for good


def test_memmap_splits_and_windows_are_views(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(MIXED * 400, encoding="utf-8")
    c = _encode(f, tmp_path / "cache")
    train_ids, val_ids = split_ids(c.ids, 0.1)
    assert np.shares_memory(train_ids, c.ids) and np.shares_memory(val_ids, c.ids)
    for ds in (WindowDataset(train_ids, 16, 4, 3), SequentialWindows(val_ids, 16, 4),
               StreamDataset(train_ids, 16, 4)):
        assert np.shares_memory(ds.ids, c.ids), type(ds).__name__
        x, y = ds[0]
        assert x.shape == (4, 16) and x.dtype == np.int32
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


SMALL = {"units": 32, "embed_dim": 8, "layers": 1, "dropout": 0.0}
FAST = {"seq_len": 32, "batch_size": 16, "steps_per_epoch": 8, "learning_rate": 1e-2,
        "warmup_steps": 2, "samples_per_epoch": 0, "verbose": 0}


def test_train_from_encoded_corpus_and_resume(tmp_path):
    f = tmp_path / "sonnets.txt"
    f.write_bytes((FIXTURES / "sonnets.txt").read_bytes())
    corpus = _encode(f, tmp_path / "cache")
    run = tmp_path / "run"
    r = train(corpus, run, SMALL, {**FAST, "epochs": 1})
    assert r.vocab == corpus.vocab and len(r.history) == 1
    assert json.loads((run / "config.json").read_text())["vocab_fingerprint"] == \
        corpus.vocab.fingerprint()
    again = _encode(f, tmp_path / "cache")
    assert again.reused
    r = train(again, run, SMALL, {**FAST, "epochs": 2})
    assert [h["epoch"] for h in r.history] == [1, 2]
    # the same losses as training on the text itself (same ids, same seed)
    r_text = train(read_texts(f), tmp_path / "run_text", SMALL, {**FAST, "epochs": 1})
    assert r_text.history[0]["val_loss"] == pytest.approx(r.history[0]["val_loss"], rel=1e-4)
    with pytest.raises(ValueError, match="another vocabulary"):
        train(corpus, tmp_path / "run2", SMALL, FAST, vocab=CharVocab.build("abc"))


def test_from_text_in_memory(sonnets):
    c = EncodedCorpus.from_text(sonnets)
    assert c.cache is None and not isinstance(c.ids, np.memmap)
    np.testing.assert_array_equal(c.ids, c.vocab.encode(sonnets))
    with pytest.raises(CorpusError):
        EncodedCorpus.from_text("  \n")


# Linux counts in a process's peak RSS the memory of the process it was forked from (the
# address space that exec replaced), and pytest is large after training in-process: a small
# Python in between starts the command and reports that child's own peak.
_MEASURE = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); "
            "_, status, usage = os.wait4(p.pid, 0); "
            "print(f'peak-rss-kb {usage.ru_maxrss}', flush=True); "
            "sys.exit(os.waitstatus_to_exitcode(status))")


def _peak_rss_mb(corpus: Path, tmp: Path, old: bool) -> tuple[float, str]:
    """Peak resident memory (MB) of ``python -m helpers train`` on ``corpus``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TEXTGEN_ENCODED": str(tmp / "enc")}
    env.pop("TEXTGEN_CORPUS_CACHE", None)
    if old:
        env["TEXTGEN_CORPUS_CACHE"] = "0"
    cmd = [sys.executable, "-m", "helpers", "train", str(corpus), "--run-dir", str(tmp / "run"),
           "--fresh", "--epochs", "1", "--steps-per-epoch", "2", "--units", "16",
           "--embed-dim", "8", "--seq-len", "32", "--batch-size", "8",
           "--samples-per-epoch", "0", "--val-max-tokens", "20000"]
    p = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, out[-2000:]
    peak = int(out.rsplit("peak-rss-kb ", 1)[1].split()[0])
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KB
    return peak * scale / 2**20, out


@pytest.mark.slow
def test_training_on_a_big_corpus_keeps_it_out_of_memory(tmp_path):
    """A 30 MB corpus adds little to the peak memory of a training process (measured
    against the same run on a tiny corpus), where reading it as a string costs its size
    and more (bytes, then the str, two bytes a character here, then the ids, which stay
    in memory while it trains)."""
    src = (FIXTURES / "sonnets.txt").read_bytes()  # curly quotes: not ASCII
    tiny, big = tmp_path / "tiny.txt", tmp_path / "big.txt"
    tiny.write_bytes(src * 4)
    big.write_bytes(src * ((30 << 20) // len(src)))
    size_mb = big.stat().st_size / 2**20
    base, _ = _peak_rss_mb(tiny, tmp_path, old=False)
    new, out = _peak_rss_mb(big, tmp_path, old=False)
    assert "corpus ready" in out and "encoded into" in out
    bound = 0.6 * size_mb
    assert new - base < bound, (base, new)
    # the bound means something: the in-memory path breaks it (by about 1.6 times since
    # load_corpus lets the text go before training, where the command kept it throughout)
    old, _ = _peak_rss_mb(big, tmp_path, old=True)
    assert old - base > bound, (base, new, old)


def test_cli_train_encodes_once_then_reuses(tmp_path, capsys):
    from helpers.cli import main

    from .conftest import environ

    f = tmp_path / "sonnets.txt"
    f.write_bytes((FIXTURES / "sonnets.txt").read_bytes())
    flags = ["--epochs", "1", "--steps-per-epoch", "3", "--units", "16", "--embed-dim", "8",
             "--seq-len", "32", "--batch-size", "8", "--samples-per-epoch", "0", "--fresh"]
    losses = {}
    with environ(TEXTGEN_ENCODED=str(tmp_path / "enc")):
        for label, env in (("first", "1"), ("rerun", "1"), ("in memory", "0")):
            with environ(TEXTGEN_CORPUS_CACHE=env):
                assert main(["train", str(f), "--run-dir", str(tmp_path / "run"), *flags]) == 0
            err = capsys.readouterr().err
            ready = [line for line in err.splitlines() if "corpus ready" in line]
            assert len(ready) == 1, err
            assert {"first": "encoded into", "rerun": "reused",
                    "in memory": "read into memory"}[label] in ready[0]
            losses[label] = json.loads((tmp_path / "run" / "history.json").read_text())[0]
        assert main(["train", str(f), "--word-level", "--max-words", "300", "--run-dir",
                     str(tmp_path / "words"), *flags]) == 0
    assert "reused" not in capsys.readouterr().err
    assert losses["first"]["val_loss"] == losses["rerun"]["val_loss"] == pytest.approx(
        losses["in memory"]["val_loss"], rel=1e-5)
    words = json.loads((tmp_path / "words" / "vocab.json").read_text())
    assert words["kind"] == "word" and len(words["tokens"]) == 300
    assert sorted(p.suffix for p in (tmp_path / "enc").iterdir()).count(".npy") == 2


def test_stale_temporary_files_removed_fresh_ones_kept(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("abc\n" * 100, encoding="utf-8")
    cache = tmp_path / "cache"
    npy = _encode(f, cache).cache
    old, fresh = cache / f".{npy.name}.killed.npy", cache / f".{npy.name}.writing.npy"
    for p in (old, fresh):
        p.write_bytes(b"partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    f.write_text("abd\n" * 100, encoding="utf-8")  # changed: encoded again
    assert not _encode(f, cache).reused
    assert not old.exists() and fresh.exists()  # another process may be writing that one


def test_load_corpus_tells_text_from_a_path_and_decides_how(tmp_path, sonnets):
    from .conftest import environ

    f = tmp_path / "sonnets.txt"
    f.write_text(sonnets, encoding="utf-8")
    name = load_corpus(str(f))  # a str is text, even one that names a file
    assert name.how == "read into memory" and name.vocab.decode(name.ids) == str(f)
    whole = load_corpus(read_texts(f))
    with environ(TEXTGEN_ENCODED=str(tmp_path / "enc"), TEXTGEN_CORPUS_CACHE=None):
        first = load_corpus(f, progress=False)
        again = load_corpus(f, progress=False)
        with environ(TEXTGEN_CORPUS_CACHE="0"):
            memory = load_corpus(f)
    assert first.how == f"encoded into {first.cache}" and again.how == f"reused {first.cache}"
    assert memory.how == "read into memory" and memory.cache is None and memory.source == f
    for c in (again, memory):
        assert c.vocab == whole.vocab
        np.testing.assert_array_equal(np.asarray(c.ids), whole.ids)
    words = load_corpus(f, word_level=True, max_words=50, min_count=2, cache=False)
    assert words.vocab == WordVocab.build(sonnets, max_words=50, min_count=2)
    with pytest.raises(TypeError, match="a str of text or a path"):
        load_corpus(b"bytes are neither")


@pytest.mark.parametrize("vocab", [CharVocab.build("ab"), WordVocab.build("a b", lower=False)],
                         ids=["char", "word-cased"])
def test_count_tokens_of_a_folder_equals_counting_its_text(tmp_path, vocab):
    d = tmp_path / "corpus"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_bytes((MIXED * 20).encode("utf-16"))
    legacy = "The The the \u201cCaf\u00e9\u201d.\r\n" * 30
    (d / "sub" / "b.md").write_bytes(legacy.encode("cp1252"))
    (d / "bin.txt").write_bytes(b"\x00\x01binary" * 20)  # skipped, as read_texts skips it
    text = read_texts(d)
    expected = Counter(vocab.tokenize(text))
    for chunk in (3, 1 << 20):
        got = count_tokens(d, vocab, progress=False, chunk_bytes=chunk)
        assert got == expected and list(got) == list(expected), chunk  # first-seen order
    assert count_tokens(text, vocab) == expected


# --- a cache entry that is not a regular file: encoded again, never read --------------

_REENCODE = """
import sys
from pathlib import Path
import numpy as np
from helpers.corpus_cache import encode_corpus
c = encode_corpus(Path(sys.argv[1]), cache_dir=sys.argv[2], progress=False)
print(c.reused, np.asarray(c.ids).tolist() == [int(i) for i in sys.argv[3].split(",")])
"""


def _child(code: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``code`` in a child with a timeout: a read that blocks (a FIFO) fails the test
    instead of hanging the suite."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s")


def _plant(p: Path, kind: str) -> None:
    p.unlink()
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "dev-zero":
        p.symlink_to("/dev/zero")
    elif kind == "dangling-link":
        p.symlink_to(p.parent / "nowhere")
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "dangling-link"])
@pytest.mark.parametrize("entry", [".npy", ".json", ".vocab.json"])
def test_a_cache_entry_that_is_no_regular_file_is_encoded_again(tmp_path, entry, kind):
    f = tmp_path / "t.txt"
    f.write_text(MIXED * 20, encoding="utf-8")
    cache = tmp_path / "cache"
    first = _encode(f, cache)
    expected = ",".join(str(int(i)) for i in first.ids)
    target = first.cache.with_name(first.cache.name.removesuffix(".npy") + entry)
    del first
    _plant(target, kind)
    p = _child(_REENCODE, str(f), str(cache), expected)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["False", "True"]  # encoded again, the same ids
    notes = p.stderr.strip().splitlines()
    assert len(notes) == 1 and notes[0].startswith("note: ") and target.name in notes[0]
    assert "again" in notes[0]
    assert target.is_file() and not target.is_symlink()  # replaced by a real entry
    assert _encode(f, cache).reused  # repaired for good


def test_a_folder_in_place_of_a_cache_entry_is_refused(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text(MIXED * 20, encoding="utf-8")
    cache = tmp_path / "cache"
    npy = _encode(f, cache).cache
    for entry in (npy, npy.with_suffix(".json")):
        entry.unlink()
        entry.mkdir()
        with pytest.raises(CorpusError, match=f"{entry.name} is a folder.*remove it"):
            _encode(f, cache)
        entry.rmdir()
    assert not _encode(f, cache).reused


@pytest.mark.parametrize("reader", ["_npy_problem", "_ids_problem", "_map"])
def test_each_reader_of_the_cached_array_refuses_a_fifo(tmp_path, reader):
    """The readers themselves, not only the check before them: a FIFO swapped in between
    is refused, not waited on."""
    fifo = tmp_path / "x.npy"
    os.mkfifo(fifo)
    args = {"_npy_problem": "(p, 10, np.dtype('uint8'))",
            "_ids_problem": "(p, 10, np.dtype('uint8'), 5)", "_map": "(p)"}[reader]
    p = _child("import sys\nfrom pathlib import Path\nimport numpy as np\n"
               "from helpers import corpus_cache\nfrom helpers.limits import InputRefused\n"
               f"p = Path(sys.argv[1])\ntry:\n    print(corpus_cache.{reader}{args})\n"
               "except InputRefused as e:\n    print('refused:', e)\n", str(fifo))
    assert p.returncode == 0, p.stderr
    out = p.stdout.strip()
    assert "FIFO" in out and ("cannot be read" in out or out.startswith("refused:")), out
