"""Documents: the special tokens, wrapping texts in them, and a corpus file's own note
that it is wrapped.

A corpus of many short texts (postings, tweets, reviews, books) is written as
``\\x02text\\x03`` per document, so a model learns where one ends and sampling can stop
there. Whether a corpus file is wrapped travels with it: :func:`write_corpus` writes
``<file>.corpus.json`` beside it (``{"documents": true, ...}``), and
:func:`corpus_info` reads it back, so ``python -m helpers train data/hn.txt`` knows
without a ``--documents`` flag.

The note's suffix, :data:`SIDECAR_SUFFIX`, is spelled in :mod:`helpers.textio`, the floor
below, whose walk of a corpus folder skips the notes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .limits import read_json
from .textio import SIDECAR_SUFFIX, atomic_write_json, atomic_write_text

__all__ = ["START", "END", "UNK", "SPECIALS", "WORD_START", "WORD_END", "WORD_UNK",
           "WORD_SPECIALS", "SIDECAR_SUFFIX", "clean", "wrap", "split", "write_corpus",
           "corpus_info", "sidecar_path"]

# The seed blog post's choice: control characters no real text uses. A character
# vocabulary's first three ids, in this order.
START, END, UNK = "\x02", "\x03", "\x04"
SPECIALS = (START, END, UNK)
# The same three as a word vocabulary spells them (its tokenizer turns START and END in a
# text into these words); its first three ids are unknown, start, end, in that order.
WORD_START, WORD_END, WORD_UNK = "<s>", "</s>", "<unk>"
WORD_SPECIALS = (WORD_UNK, WORD_START, WORD_END)


def clean(text: str) -> str:
    """``text`` without start/end tokens, so that wrapping it cannot be confused."""
    return text.replace(START, "").replace(END, "")


def wrap(texts: Iterable[str], sep: str = "\n") -> str:
    """Each non-empty text wrapped in start/end tokens (those tokens inside a text
    removed first), joined by ``sep``."""
    docs = (clean(t) for t in texts)
    return sep.join(f"{START}{d}{END}" for d in docs if d)


def split(text: str) -> list[str]:
    """The documents of a wrapped corpus (text outside start/end tokens is ignored)."""
    out = []
    for piece in text.split(START)[1:]:
        body, found, _ = piece.partition(END)
        if found:
            out.append(body)
    return out


def sidecar_path(corpus: str | os.PathLike) -> Path:
    """Where a corpus file's note lives: ``hn.txt`` -> ``hn.txt.corpus.json``."""
    p = Path(corpus)
    return p.with_name(p.name + SIDECAR_SUFFIX)


def write_corpus(path: str | os.PathLike, text: str, documents: bool,
                 force: bool | None = None, **info) -> Path:
    """Write a training text and its note (``documents`` plus whatever ``info`` says:
    source, statistics), both atomically. ``force=None`` (the Python API) replaces an
    earlier corpus; ``False``/``True`` follow the rule of a path a user named
    (:mod:`helpers.outputs`: a new file only, or the old one kept as ``.previous``)."""
    if force is None:
        atomic_write_text(path, text)
    else:
        from .outputs import check_target, write_file

        check_target(sidecar_path(path), force=True)  # the note: a file, not a link or FIFO
        write_file(path, text, force=force)
    # a source file whose name is not UTF-8 is kept with JSON's \u escapes (textio)
    atomic_write_json(sidecar_path(path), {"documents": bool(documents), **info})
    return Path(path)


def corpus_info(path: str | os.PathLike) -> dict:
    """The note beside a corpus file ({} when there is none, or the path is a folder)."""
    side = sidecar_path(path)
    if Path(path).is_dir() or not side.exists():
        return {}
    try:  # a regular file within the JSON budget: a FIFO here would hang `train`
        info = read_json(side)
    except (OSError, ValueError):  # InputRefused is a ValueError
        return {}  # a damaged note is ignored: the flag can still be given by hand
    return info if isinstance(info, dict) else {}
