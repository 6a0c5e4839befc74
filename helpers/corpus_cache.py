"""From a corpus to token ids, in one place: :func:`load_corpus`. Corpora larger than
memory are encoded once, in chunks, into a memory-mapped ``.npy`` array of token ids that
later runs reuse.

>>> corpus = load_corpus(Path("big.txt"))        # doctest: +SKIP
>>> corpus.ids[:10], corpus.vocab, corpus.how    # a read-only np.memmap  # doctest: +SKIP

:func:`load_corpus` takes the text itself (a ``str``) or a file or folder (a path), and a
vocabulary or none (one is counted), and decides how: a text is encoded in memory, a path
through the cache of :func:`encode_corpus` (or read into memory with
``TEXTGEN_CORPUS_CACHE=0``, the way before the cache, kept to compare). The training
command, :func:`helpers.train.train` and fine-tuning (:func:`count_tokens` counts the
corpus that a pretrained vocabulary grows from) all go through it.

:func:`encode_corpus` reads the corpus a few MB at a time (:mod:`helpers.corpus_stream`)
and decodes each file incrementally by the rules of :func:`helpers.textio.read_texts`
(the codecs of :func:`helpers.textio.text_codecs`; ``\\r\\n`` and ``\\r`` become
``\\n``; binary and blank files are refused, or skipped inside a folder; a folder's
files are joined by a blank line; the files of :func:`helpers.textio.text_files`).
Without a vocabulary it counts one in a first pass (``CharVocab.from_counts`` /
``WordVocab.from_counts``, the rule of ``build``); a second pass writes the ids to a
``.npy`` file (temporary file + rename, so a killed run leaves nothing half-written).
The result's ``ids`` is a read-only memory map: training cuts its windows straight from
the file and the operating system keeps only the pages it reads.

The file is kept in :func:`helpers.paths.encoded` with a JSON note beside it (every
file's absolute path, size, modification time, inode and SHA-256 of its whole content,
the vocabulary's fingerprint and the format version) and the vocabulary as JSON. A cache
hit is proved, not presumed: the next run hashes every corpus file in full (a change of
a few bytes that kept the size and the time is caught) and checks that the cached ids are
all below the vocabulary's size, then maps the array. Measured on a shared 2-core machine,
files in the page cache: SHA-256 at 1.7 s per GB, the ids check 0.5 s per GB of ids, a
rerun on 256 MB 0.8 s where encoding it took 8.7 s. A corpus that changed is encoded again; so is a
cached array that is truncated, damaged or holds ids the vocabulary does not have, with a
one-line note.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mmap
import os
import re
import stat
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import paths
from .corpus_stream import (
    CHUNK_BYTES,
    NO_SIZE_BUDGET,
    ByteProgress,
    IdWriter,
    counter_for,
    stream,
    streamable,
)
from .limits import InputRefused, open_regular, read_json, require_regular, shown
from .textio import (
    TEXT_SUFFIXES,
    CorpusError,
    atomic_path,
    atomic_write_json,
    display_path,
    read_texts,
    remove_stale_temps,
    text_files,
)
from .vocab import CharVocab, Vocab, WordVocab, load_vocab

__all__ = ["EncodedCorpus", "load_corpus", "encode_corpus", "count_tokens", "CACHE_ENV",
           "FORMAT_VERSION"]

CACHE_ENV = "TEXTGEN_CORPUS_CACHE"  # "0": a corpus path is read into memory, not cached

FORMAT_VERSION = 2  # 2: whole-file SHA-256 and inode in the note (1: first and last MB)
_HASH_BYTES = 1 << 22  # read at a time to hash a corpus file
_STALE_S = 3600  # a temporary file this old in the cache is a killed encoding's


@dataclass(eq=False)
class EncodedCorpus:
    """A corpus as token ids and the vocabulary that encoded them.

    ``ids`` is a read-only ``np.memmap`` of ``cache`` when it came from
    :func:`encode_corpus`, or an ordinary array (``cache`` is None) from :meth:`from_text`.
    :func:`helpers.train.train` accepts it in place of the text; :attr:`how` says how it
    was made.
    """

    ids: np.ndarray
    vocab: Vocab
    source: Path | None = None
    cache: Path | None = None
    reused: bool = False  # mapped from an earlier run's file, nothing encoded
    seconds: float = 0.0  # spent reading, encoding or mapping

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        where = f", cache={display_path(self.cache)!r}" if self.cache is not None else ""
        return (f"EncodedCorpus(tokens={len(self.ids):,}, vocab={type(self.vocab).__name__}"
                f"(size={len(self.vocab)}){where}, reused={self.reused})")

    @property
    def how(self) -> str:
        """How it was made, for a progress line: reused from or encoded into its cache
        file, or read into memory."""
        if self.cache is None:
            return "read into memory"
        return f"{'reused' if self.reused else 'encoded into'} {display_path(self.cache)}"

    @classmethod
    def from_text(cls, text: str, vocab: Vocab | None = None, *, word_level: bool = False,
                  max_words: int = 10000, min_count: int = 1, source: Path | None = None
                  ) -> EncodedCorpus:
        """Encode ``text`` in memory; without a vocabulary, one is counted from it as
        :func:`encode_corpus` counts one (characters, or with ``word_level`` words)."""
        t0 = time.perf_counter()
        if not text or not text.strip():
            raise CorpusError("The corpus is empty: nothing to train on.")
        if vocab is None:
            vocab = (WordVocab.build(text, max_words, min_count) if word_level
                     else CharVocab.build(text, min_count))
        return cls(vocab.encode(text, errors="unk"), vocab, source,
                   seconds=time.perf_counter() - t0)


def load_corpus(source: str | os.PathLike, vocab: Vocab | None = None, *,
                word_level: bool = False, max_words: int = 10000, min_count: int = 1,
                cache: bool | None = None, suffixes: tuple[str, ...] = TEXT_SUFFIXES,
                separator: str = "\n\n", **cache_options) -> EncodedCorpus:
    """A corpus as token ids and their vocabulary: the one way there.

    Args:
        source: the corpus. A ``str`` is the text itself; a path (:class:`pathlib.Path`,
            or any ``os.PathLike``) is a text file or a folder of them. A file name as a
            ``str`` is text, never guessed at: wrap it in ``Path``.
        vocab: the vocabulary to encode with; without one, one is counted from the
            corpus (``CharVocab.build(text, min_count)``, or with ``word_level``
            ``WordVocab.build(text, max_words, min_count)``).
        cache: how a path is read: encoded in chunks into a memory-mapped array that the
            next run reuses (:func:`encode_corpus`; ``cache_options`` go to it), or read
            whole into memory and encoded there. ``None`` (the default) asks the
            environment: ``TEXTGEN_CORPUS_CACHE=0`` reads into memory, anything else
            caches. A text is always encoded in memory.

    The ids are the same either way; :attr:`EncodedCorpus.how` says which way it went.
    """
    if isinstance(source, str):
        return EncodedCorpus.from_text(source, vocab, word_level=word_level,
                                       max_words=max_words, min_count=min_count)
    if not isinstance(source, os.PathLike):
        raise TypeError(f"a corpus is a str of text or a path, not {type(source).__name__}")
    if cache is None:
        cache = os.environ.get(CACHE_ENV, "1") != "0"
    if cache:
        return encode_corpus(source, vocab, word_level=word_level, max_words=max_words,
                             min_count=min_count, suffixes=suffixes, separator=separator,
                             **cache_options)
    return EncodedCorpus.from_text(read_texts(source, suffixes, separator), vocab,
                                   word_level=word_level, max_words=max_words,
                                   min_count=min_count, source=Path(source))


def count_tokens(source: str | os.PathLike, vocab: Vocab, *, progress: bool = True,
                 suffixes: tuple[str, ...] = TEXT_SUFFIXES, separator: str = "\n\n",
                 chunk_bytes: int = CHUNK_BYTES) -> dict[str, int]:
    """How often each token of ``source`` occurs, cut by ``vocab``'s tokenizer (known to
    ``vocab`` or not), in order of first appearance: what a pretrained vocabulary grows
    from (:func:`helpers.finetune.grow_vocab`). ``source`` is a text or a path, as for
    :func:`load_corpus`; a path is read in chunks, as :func:`encode_corpus` reads it, so
    memory stays small whatever the corpus size."""
    if isinstance(source, str):
        return dict(Counter(vocab.tokenize(source)))
    src = Path(source)
    if not streamable(vocab):
        return dict(Counter(vocab.tokenize(read_texts(src, suffixes, separator))))
    files = text_files(src, suffixes)
    counter = counter_for(vocab, word_level=False)
    total = sum(f.stat().st_size for f in files)
    with ByteProgress(total, f"counting {src.name}", progress) as bar:
        stream(src, files, counter, chunk_bytes, separator, bar)
    return counter.total()


# --- the cache -------------------------------------------------------------------------


def _name(f: Path) -> str:
    """A path as JSON can hold it: a name that is not UTF-8 keeps its bytes as ``\\xNN``
    (the note is only compared, never opened as a path)."""
    return os.fsencode(f).decode("utf-8", "backslashreplace")


def _stat_key(files: list[Path]) -> list[list]:
    """What ``stat`` says of each file: a change here is a miss without hashing."""
    out = []
    for f in files:
        st = f.stat()
        out.append([_name(f.resolve()), st.st_size, st.st_mtime_ns, st.st_ino])
    return out


def _full_hash(f: Path) -> str:
    """SHA-256 of the whole file (the only proof that it is the file that was encoded:
    an edit can keep the size and the modification time). SHA-256 hashes 1 GB in memory
    in 0.7 s where the CPU has SHA instructions, blake2b in 1.3 s; read from the page
    cache, 1.7 s per GB (measured on a shared 2-core machine)."""
    h = hashlib.sha256()
    with open_regular(f, NO_SIZE_BUDGET) as fh:
        buf = bytearray(_HASH_BYTES)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def _signature(files: list[Path], stat_key: list[list] | None = None) -> list[list]:
    """Per file: resolved path, size, mtime_ns, inode and SHA-256 of the content."""
    stat_key = stat_key if stat_key is not None else _stat_key(files)
    return [[*row, _full_hash(f)] for f, row in zip(files, stat_key, strict=True)]


def _header(dtype: np.dtype, n: int) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (n,)})
    return buf.getvalue()


def _read_header(fh) -> tuple[tuple, bool, np.dtype]:
    """Shape, Fortran order and dtype of the ``.npy`` open in ``fh``, which is left at the
    first byte of data (raises ValueError for what is not one)."""
    version = np.lib.format.read_magic(fh)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    return read(fh)


def _npy_problem(npy: Path, tokens: int, dtype: np.dtype) -> str | None:
    """Why the cached array cannot be used as is (None when it can)."""
    try:  # a regular file only: a FIFO planted here would block a plain open() for ever
        with open_regular(npy, NO_SIZE_BUDGET) as fh:
            shape, fortran, dt = _read_header(fh)
            offset, size = fh.tell(), os.fstat(fh.fileno()).st_size
    except (OSError, ValueError) as e:  # InputRefused is a ValueError
        return f"cannot be read ({e})"
    if shape != (tokens,) or fortran or dt != dtype:
        return "does not match its note"
    need = offset + tokens * dt.itemsize
    if size != need:
        return f"is truncated ({size:,} of {need:,} bytes)" if size < need else "is damaged"
    return None


def _ids_problem(npy: Path, tokens: int, dtype: np.dtype, vocab_size: int) -> str | None:
    """Why the ids of ``npy`` do not fit a vocabulary of ``vocab_size`` (None when they
    do): an id at or past the size would index past the embedding, a backend error deep
    in training. Read in chunks, not through a memory map, so that checking a GB of ids
    does not put a GB of pages in this process."""
    if tokens == 0:
        return None
    try:  # the file may have been replaced since _npy_problem looked at it
        with open_regular(npy, NO_SIZE_BUDGET) as fh:
            _read_header(fh)
            buf = np.empty(_HASH_BYTES // dtype.itemsize, dtype)
            top, left = 0, tokens
            while left:
                got = fh.readinto(memoryview(buf)[:min(left, len(buf))].cast("B"))
                n = (got or 0) // dtype.itemsize
                if not n:
                    return "is truncated"
                top = max(top, int(buf[:n].max()))
                left -= n
    except (OSError, ValueError) as e:
        return f"cannot be read ({e})"
    if top >= vocab_size:
        return f"holds id {top}, but its vocabulary has {vocab_size} tokens"
    return None


def _map(npy: Path) -> np.ndarray:
    """The ids of ``npy`` as a read-only memory map, set up for reading at random places.

    Training reads short windows at random offsets. By default the kernel reads ahead
    around every page fault and maps whole large page-cache folios (up to 2 MB) into the
    process, so a few hundred windows would put hundreds of MB of the file into the
    resident set. Dropping the file's cached pages first (they are clean once written)
    and advising random access keeps that to about a page per window; the pages read stay
    cached for the next batches.

    The file is opened once through :func:`helpers.limits.open_regular` and mapped from
    that descriptor (``np.load(mmap_mode=...)`` would open the path again, blocking on a
    FIFO swapped in after the checks); the map outlives the descriptor.
    """
    with open_regular(npy, NO_SIZE_BUDGET) as fh:
        shape, fortran, dtype = _read_header(fh)
        offset = fh.tell()
        if hasattr(os, "posix_fadvise"):
            try:
                os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            except OSError:
                pass  # only advice: some file systems ignore it
        ids = np.memmap(fh, dtype=dtype, mode="r", offset=offset, shape=shape,
                        order="F" if fortran else "C")
    mapping = getattr(ids, "_mmap", None)  # np.memmap's mmap object
    if mapping is not None and hasattr(mmap, "MADV_RANDOM"):
        try:
            mapping.madvise(mmap.MADV_RANDOM)
        except OSError:
            pass
    return ids


def _entry_problem(entries: tuple[Path, ...]) -> str | None:
    """Why the cache entry made of ``entries`` (the array, its note, its vocabulary)
    cannot be read, when one of them is there but is no regular file (a FIFO, a device,
    a link to one or to nothing): then it is encoded again, and the renames that write
    the new entry replace those paths. A folder cannot be replaced by a rename: refused.
    None when each is a regular file or absent."""
    for p in entries:
        try:
            lst = os.lstat(p)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(lst.st_mode):
            raise CorpusError(f"{shown(p)} is a folder where the corpus cache keeps a file; "
                              "remove it (or set TEXTGEN_CORPUS_CACHE=0 to read the corpus "
                              "into memory) and run again.")
        try:
            require_regular(os.stat(p), p)
        except OSError:
            return f"{display_path(p)} is a link to nothing"
        except InputRefused:
            return f"{display_path(p)} is not a regular file"
    return None


def _note(msg: str) -> None:
    print(f"note: {msg}", file=sys.stderr, flush=True)


def _vocab_spec(vocab: Vocab | None, word_level: bool, max_words: int, min_count: int
                ) -> dict:
    """What decides the vocabulary: the given one, or how the counted one is made."""
    if vocab is not None:
        return {"given": vocab.fingerprint(), "kind": vocab.kind}
    if word_level:
        return {"kind": "word", "max_words": max_words, "min_count": min_count}
    return {"kind": "char", "min_count": min_count}


def _cached(npy: Path, meta_p: Path, vocab_p: Path, key: dict, vocab: Vocab | None
            ) -> tuple[np.ndarray, Vocab] | None:
    problem = _entry_problem((npy, meta_p, vocab_p))
    if problem:
        _note(f"the cached encoding {problem}; encoding the corpus again.")
        return None
    if not (npy.exists() and meta_p.exists()):
        return None
    try:
        meta = read_json(meta_p)
        cached_vocab = vocab if vocab is not None else load_vocab(vocab_p)
    except (OSError, ValueError) as e:
        _note(f"the cached encoding {display_path(meta_p)} cannot be read ({e}); "
              "encoding the corpus again.")
        return None
    if not isinstance(meta, dict) or {k: meta.get(k) for k in key} != key:
        if isinstance(meta, dict) and meta.get("format") == FORMAT_VERSION:
            _note("the corpus changed since it was encoded; encoding it again.")
        return None
    if cached_vocab.fingerprint() != meta.get("vocab_fingerprint"):
        _note(f"{display_path(vocab_p)} does not match its note; encoding the corpus again.")
        return None
    tokens = meta.get("tokens")
    tokens = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else -1
    problem = (_npy_problem(npy, tokens, cached_vocab.dtype)
               or _ids_problem(npy, tokens, cached_vocab.dtype, len(cached_vocab)))
    if problem:
        _note(f"the cached encoding {display_path(npy)} {problem}; encoding the corpus again.")
        return None
    return _map(npy), cached_vocab


def encode_corpus(
    path: str | os.PathLike,
    vocab: Vocab | None = None,
    *,
    word_level: bool = False,
    max_words: int = 10000,
    min_count: int = 1,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
    suffixes: tuple[str, ...] = TEXT_SUFFIXES,
    separator: str = "\n\n",
) -> EncodedCorpus:
    """Encode a text file or folder into a memory-mapped array of ids, cached on disk.

    The ids equal ``vocab.encode(read_texts(path, suffixes, separator))`` (unknown tokens
    become the unknown token), computed ``chunk_bytes`` at a time so that memory stays
    small whatever the corpus size.

    Args:
        path: a text file, or a folder of text files (read as :func:`read_texts` does).
        vocab: the vocabulary to encode with. Without one, a first pass counts
            ``CharVocab.build(text, min_count)`` (or with ``word_level``,
            ``WordVocab.build(text, max_words, min_count)``), and a rerun reuses it.
        cache_dir: where the ``.npy``, its note and the vocabulary go (default
            :func:`helpers.paths.encoded`).
        progress: show progress bars (bytes read).

    Word-level corpora are streamed too: :class:`WordVocab` never joins tokens across a
    newline, so its tokenizer gets whole lines (a file with no newline is then held in
    memory as a whole). A vocabulary with another tokenizer reads the whole corpus at
    once, as ``read_texts`` does, and only the result is cached.
    """
    t0 = time.perf_counter()
    src = Path(path)
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be at least 1")
    files = text_files(src, suffixes)
    if not files:
        raise CorpusError(f"No text files found under {shown(src)}.")
    spec = _vocab_spec(vocab, word_level, max_words, min_count)
    key = {"format": FORMAT_VERSION, "spec": spec, "separator": separator,
           "suffixes": list(suffixes), "files": _signature(files)}
    npy, meta_p, vocab_p = _cache_files(src, spec, separator, suffixes, cache_dir)
    hit = _cached(npy, meta_p, vocab_p, key, vocab)
    if hit is not None:
        return EncodedCorpus(hit[0], hit[1], src, npy, reused=True,
                             seconds=time.perf_counter() - t0)

    npy.parent.mkdir(parents=True, exist_ok=True)
    # only old ones: a training started beside this one may be writing its own right now
    remove_stale_temps(npy.parent, (npy.name, meta_p.name, vocab_p.name), min_age_s=_STALE_S)
    total = sum(s[1] for s in key["files"])  # bytes, for the progress bars
    plan = None
    if vocab is None:  # first pass: count the vocabulary
        vocab, plan = _count_vocab(src, files, word_level, max_words, min_count, chunk_bytes,
                                   separator, total, progress)
    try:
        n = _write(src, files, plan, vocab, npy, chunk_bytes, separator, suffixes, total,
                   progress)
        # the note goes last: it vouches for the array and the vocabulary written before it
        vocab.save(vocab_p)
        atomic_write_json(meta_p, {**key, "vocab_fingerprint": vocab.fingerprint(),
                                   "tokens": n, "dtype": vocab.dtype.name,
                                   "source": _name(src.resolve())})
    except BaseException:
        # an array without its note is never used: leave no orphans behind
        for p in (meta_p, vocab_p, npy):
            with contextlib.suppress(OSError):
                p.unlink()
        raise
    return EncodedCorpus(_map(npy), vocab, src, npy, reused=False,
                         seconds=time.perf_counter() - t0)


def _cache_files(src: Path, spec: dict, separator: str, suffixes: tuple[str, ...],
                 cache_dir: str | os.PathLike | None) -> tuple[Path, Path, Path]:
    """The cached array, its note and its vocabulary: named by the corpus's path and what
    decides its vocabulary, so two vocabularies of one corpus are two entries."""
    name = hashlib.sha256(json.dumps(
        [_name(src.resolve()), spec, separator, list(suffixes)]).encode()).hexdigest()[:16]
    folder = Path(cache_dir) if cache_dir is not None else paths.encoded()
    stem = f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', src.name)[:40]}-{name}"
    return folder / f"{stem}.npy", folder / f"{stem}.json", folder / f"{stem}.vocab.json"


def _count_vocab(src: Path, files: list[Path], word_level: bool, max_words: int,
                 min_count: int, chunk_bytes: int, separator: str, total: int,
                 progress: bool) -> tuple[Vocab, dict[Path, str]]:
    """The first pass: the vocabulary counted from the corpus (the rule from counts to a
    vocabulary is the vocabulary's own), and the codec each file decoded with."""
    counter = counter_for(None, word_level)
    with ByteProgress(total, f"counting {src.name}", progress) as bar:
        plan = stream(src, files, counter, chunk_bytes, separator, bar)
    counts = counter.total()
    vocab = (WordVocab.from_counts(counts, max_words, min_count) if word_level
             else CharVocab.from_counts(counts, min_count))
    return vocab, plan


def _write(src: Path, files: list[Path], plan: dict[Path, str] | None, vocab: Vocab,
           npy: Path, chunk_bytes: int, separator: str, suffixes: tuple[str, ...],
           total: int, progress: bool) -> int:
    """Encode the corpus into ``npy`` (temporary file + rename); returns the token count."""
    header = _header(vocab.dtype, 0)
    with atomic_path(npy) as tmp, open(tmp, "wb") as fh:
        fh.write(header)  # a placeholder: the length is known at the end
        if streamable(vocab):
            writer = IdWriter(fh, vocab, len(header))
            with ByteProgress(total, f"encoding {src.name}", progress) as bar:
                # the second pass reads only the files the first one kept, with their codec
                stream(src, files if plan is None else list(plan), writer, chunk_bytes,
                       separator, bar, plan)
                writer.finish()
            n = writer.n
        else:
            ids = vocab.encode(read_texts(src, suffixes, separator), errors="unk")
            fh.write(memoryview(np.ascontiguousarray(ids, dtype=vocab.dtype)))
            n = len(ids)
        final = _header(vocab.dtype, n)
        # numpy pads the header for any length of a 1-D shape, so it fits the placeholder
        if len(final) != len(header):
            raise RuntimeError("the .npy header changed size")
        fh.seek(0)
        fh.write(final)
    return n
