"""Reading a corpus in chunks: the text that :func:`helpers.textio.read_texts` returns,
fed piece by piece to a :class:`Sink` that counts its tokens (:class:`CharCounter`,
:class:`WordCounter`) or writes their ids (:class:`IdWriter`), so that memory stays
small whatever the corpus size. :mod:`helpers.corpus_cache` runs these passes; the rules
they follow (which files, which codecs, binary and blank files) are textio's.
"""

from __future__ import annotations

import codecs
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .limits import open_regular, shown
from .textio import (
    SNIFF_BYTES,
    CorpusError,
    binary_message,
    looks_binary,
    text_codecs,
    utf16_message,
)
from .vocab import CharVocab, Vocab, WordVocab

__all__ = ["CHUNK_BYTES", "MAX_LINE_CHARS", "NO_SIZE_BUDGET", "Sink", "CharCounter", "WordCounter",
           "IdWriter", "ByteProgress", "counter_for", "pieces", "stream", "streamable"]

CHUNK_BYTES = 4 << 20  # bytes read at a time: small next to the corpus, big enough to be fast
_COUNT_CHARS = 1 << 20  # characters counted at a time (their UTF-32 copy is 4 bytes each)
# The size budget (helpers.limits.open_regular) of a file read in chunks: none, since memory
# stays small whatever its size. A budget, not a mode: open_regular still refuses what is
# not a regular file.
NO_SIZE_BUDGET = 1 << 62
# the longest line a word-level encoding holds while it waits for the line's end
MAX_LINE_CHARS = 64 << 20


def pieces(f: Path, encoding: str, chunk_bytes: int, on_bytes: Callable[[int], None]
           ) -> Iterator[str]:
    """Decoded text of ``f`` in pieces with ``\\n`` line ends; raises UnicodeDecodeError."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    held = ""  # a final "\r" waits for the next chunk, which may start with its "\n"
    with open_regular(f, NO_SIZE_BUDGET) as fh:
        while True:
            data = fh.read(chunk_bytes)
            on_bytes(len(data))
            final = not data
            text = held + decoder.decode(data, final=final)
            held = ""
            if not final and text.endswith("\r"):
                text, held = text[:-1], "\r"
            if text:
                yield text.replace("\r\n", "\n").replace("\r", "\n")
            if final:
                return


class Sink:
    """Receives the corpus text piece by piece. With ``lines`` it hands on whole lines
    only (the rest waits for the next piece), for tokenizers that never join tokens across
    a newline. ``mark``/``rewind`` undo a file whose decoding failed half-way."""

    lines = False

    def __init__(self):
        self._rest = ""

    def write(self, text: str) -> None:
        if self.lines:
            text = self._rest + text
            cut = text.rfind("\n") + 1
            text, self._rest = text[:cut], text[cut:]
            if len(self._rest) > MAX_LINE_CHARS:  # memory must not grow with the file
                raise CorpusError(
                    f"the corpus has a line of more than {MAX_LINE_CHARS >> 20} M characters; "
                    "word-level reading goes line by line. Break the text into lines, or "
                    "train at the character level.")
        if text:
            self._take(text)

    def finish(self) -> None:
        if self._rest:
            self._take(self._rest)
            self._rest = ""

    def _take(self, text: str) -> None:
        raise NotImplementedError

    def mark(self):
        raise NotImplementedError

    def rewind(self, token) -> None:
        raise NotImplementedError


class CharCounter(Sink):
    """Counts characters, in order of first appearance (as ``collections.Counter`` does)."""

    def __init__(self):
        super().__init__()
        self.counts: dict[str, int] = {}
        self._stage: dict[str, int] = {}  # the file being read, merged once it decoded

    def _take(self, text: str) -> None:
        stage = self._stage
        for i in range(0, len(text), _COUNT_CHARS):
            piece = text[i:i + _COUNT_CHARS]
            # a histogram of code points counts a MB of text in about a millisecond
            hist = np.bincount(np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32))
            present = np.flatnonzero(hist)
            new = [c for c in map(chr, present.tolist()) if c not in stage]
            new.sort(key=piece.find)  # first appearance; a handful of characters
            for c in new:
                stage[c] = 0
            for cp, n in zip(present.tolist(), hist[present].tolist(), strict=True):
                stage[chr(cp)] += n

    def mark(self):
        self._commit()
        return self._rest

    def rewind(self, token) -> None:
        self._stage, self._rest = {}, token

    def _commit(self) -> None:
        for c, n in self._stage.items():
            self.counts[c] = self.counts.get(c, 0) + n
        self._stage = {}

    def total(self) -> dict[str, int]:
        """The counts of everything written (``Counter(text)`` of the same text)."""
        self.finish()
        self._commit()
        return self.counts


class WordCounter(Sink):
    """Counts the tokens of a :class:`WordVocab` (of ``vocab``'s tokenizer, else the
    default one), whole lines at a time."""

    lines = True

    def __init__(self, vocab: Vocab | None = None):
        super().__init__()
        self._tokenize = (vocab or WordVocab.probe()).tokenize
        self.counts: Counter = Counter()
        self._stage: Counter = Counter()

    def _take(self, text: str) -> None:
        self._stage.update(self._tokenize(text))

    def mark(self):
        self.counts.update(self._stage)
        self._stage = Counter()
        return self._rest

    def rewind(self, token) -> None:
        self._stage, self._rest = Counter(), token

    def total(self) -> dict[str, int]:
        """The counts of everything written (``Counter(tokenize(text))``)."""
        self.finish()
        self.mark()
        return dict(self.counts)


def counter_for(vocab: Vocab | None, word_level: bool) -> CharCounter | WordCounter:
    """The sink that counts the tokens of ``vocab``'s tokenizer (without one: characters,
    or with ``word_level`` the default words)."""
    if vocab is None:
        return WordCounter() if word_level else CharCounter()
    return CharCounter() if type(vocab).tokenize is CharVocab.tokenize else WordCounter(vocab)


class IdWriter(Sink):
    """Appends the ids of the text to an open ``.npy`` file after its header."""

    def __init__(self, fh, vocab: Vocab, header_bytes: int):
        super().__init__()
        self.fh, self.vocab, self.header = fh, vocab, header_bytes
        self.lines = type(vocab).tokenize is not CharVocab.tokenize
        self.itemsize = vocab.dtype.itemsize
        self.n = 0

    def _take(self, text: str) -> None:
        ids = self.vocab.encode(text, errors="unk")
        self.fh.write(memoryview(ids))
        self.n += len(ids)

    def mark(self):
        return self.n, self._rest

    def rewind(self, token) -> None:
        self.n, self._rest = token
        self.fh.seek(self.header + self.n * self.itemsize)
        self.fh.truncate()


class ByteProgress:
    """Progress in bytes read (a tqdm bar, or nothing); ``with`` closes it."""

    def __init__(self, total: int, desc: str, show: bool):
        self.bar = None
        if show:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True,
                            unit_divisor=1024, file=sys.stderr)

    def __call__(self, n: int) -> None:
        if self.bar is not None and n:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> ByteProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stream(src: Path, files: list[Path], sink: Sink, chunk_bytes: int, separator: str,
            progress: ByteProgress, plan: dict[Path, str] | None = None) -> dict[Path, str]:
    """Feed ``sink`` the text ``read_texts`` would return, file by file; returns the codec
    of every file that made it in (a second pass then needs no guessing)."""
    single = src.is_file()
    used: dict[Path, str] = {}
    skipped: list[str] = []
    for f in files:
        with open_regular(f, NO_SIZE_BUDGET) as fh:
            head = fh.read(SNIFF_BYTES)
        if looks_binary(head):
            if single:
                raise CorpusError(binary_message(shown(f)))
            skipped.append(shown(f.name))
            continue
        codecs_to_try = (plan[f],) if plan is not None else text_codecs(head)
        for k, encoding in enumerate(codecs_to_try):
            token, consumed = sink.mark(), [0]

            def on_bytes(n: int, consumed=consumed) -> None:
                consumed[0] += n
                progress(n)

            content, pending = False, []
            try:
                for piece in pieces(f, encoding, chunk_bytes, on_bytes):
                    if not content:
                        # a blank file is skipped, so its leading whitespace waits until
                        # something else shows up (and with it the separator)
                        if not piece.strip():
                            pending.append(piece)
                            continue
                        content = True
                        if used:
                            sink.write(separator)
                        for p in pending:
                            sink.write(p)
                        pending = []
                    sink.write(piece)
                break
            except UnicodeDecodeError:
                # not this codec after all (as decode_text: UTF-8, then cp1252, then Latin-1)
                sink.rewind(token)
                progress(-consumed[0])
                if k == len(codecs_to_try) - 1:
                    # only a BOM's UTF-16 can fail last (Latin-1 decodes any byte); as
                    # decode_text, it is refused, or skipped inside a folder
                    if single:
                        raise CorpusError(utf16_message(shown(f))) from None
                    content = None
        if content is None:
            skipped.append(shown(f.name))
            continue
        if not content:
            if single:
                raise CorpusError(f"{shown(f)} is empty: a corpus needs some text to learn "
                                  "from.")
            skipped.append(shown(f.name))
            continue
        used[f] = encoding
    if not used:
        extra = f" (skipped as binary or empty: {', '.join(skipped[:5])})" if skipped else ""
        raise CorpusError(f"No text files found under {shown(src)}{extra}.")
    sink.finish()
    return used


def streamable(vocab: Vocab) -> bool:
    """Tokenizers known to cut nothing across a newline can read the corpus in chunks."""
    return type(vocab).tokenize in (CharVocab.tokenize, WordVocab.tokenize)
