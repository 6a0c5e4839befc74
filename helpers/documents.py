"""Documents: the special tokens, wrapping texts in them, and a corpus file's own note
that it is wrapped.

A corpus of many short texts (postings, tweets, reviews, books) is written as
``\\x02text\\x03`` per document, so a model learns where one ends and sampling can stop
there. Whether a corpus file is wrapped travels with it: :func:`write_corpus` writes
``<file>.corpus.json`` beside it (``{"documents": true, ...}``), :func:`corpus_info`
reads it back, and :func:`wrapped` decides, in one place, whether a corpus is wrapped: a
flag given by hand, else the note, so ``python -m helpers train data/hn.txt`` knows
without a ``--documents`` flag. A note that is there but cannot be trusted (damaged, not
a JSON object, not a regular file, too big, or whose ``"documents"`` is not ``true`` or
``false``) is refused with one :class:`~helpers.textio.CorpusError`: ignoring it would
train on wrapped texts as plain ones (or the reverse) without a word.

The note's suffix, :data:`SIDECAR_SUFFIX`, is spelled in :mod:`helpers.textio`, the floor
below, whose walk of a corpus folder skips the notes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from .limits import InputRefused, read_json, shown
from .textio import SIDECAR_SUFFIX, CorpusError, atomic_write_json, atomic_write_text

__all__ = ["START", "END", "UNK", "SPECIALS", "WORD_START", "WORD_END", "WORD_UNK",
           "WORD_SPECIALS", "SIDECAR_SUFFIX", "clean", "wrap", "split", "write_corpus",
           "corpus_info", "sidecar_path", "wrapped", "MAX_NOTE_BYTES"]

# The seed blog post's choice: control characters no real text uses. A character
# vocabulary's first three ids, in this order.
START, END, UNK = "\x02", "\x03", "\x04"
SPECIALS = (START, END, UNK)
# The same three as a word vocabulary spells them (its tokenizer turns START and END in a
# text into these words); its first three ids are unknown, start, end, in that order.
WORD_START, WORD_END, WORD_UNK = "<s>", "</s>", "<unk>"
WORD_SPECIALS = (WORD_UNK, WORD_START, WORD_END)
# a note holds the flag, the source and a few statistics: a few hundred bytes. Anything
# near this budget was not written by write_corpus, and is refused before it is parsed.
MAX_NOTE_BYTES = 1 << 20  # 1 MB


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
    if not isinstance(documents, bool):  # bool("no") is True: only a real answer
        raise TypeError(f"documents must be True or False, not {documents!r}")
    if force is None:
        atomic_write_text(path, text)
    else:
        from .outputs import check_target, write_file

        check_target(sidecar_path(path), force=True)  # the note: a file, not a link or FIFO
        write_file(path, text, force=force)
    # a source file whose name is not UTF-8 is kept with JSON's \u escapes (textio)
    atomic_write_json(sidecar_path(path), {"documents": documents, **info})
    return Path(path)


def _refused(corpus: str | os.PathLike, why: str) -> CorpusError:
    return CorpusError(f"{why} It is the note saying whether {shown(corpus)} is wrapped in "
                       "start/end tokens: fix or remove it, or pass --documents or "
                       "--no-documents (documents=True/False in Python).")


def corpus_info(path: str | os.PathLike) -> dict:
    """The note beside a corpus file: ``{}`` when there is none (or ``path`` is a folder,
    which has no note), else a JSON object whose ``"documents"`` is ``True`` or ``False``.

    Raises :class:`~helpers.textio.CorpusError` naming the note when it is there but
    cannot be trusted: not a regular file (a FIFO would hang, ``/dev/zero`` never ends),
    over :data:`MAX_NOTE_BYTES`, not valid JSON, not an object, or its ``"documents"``
    missing or not a JSON boolean (``"no"`` would be true to ``bool``)."""
    side = sidecar_path(path)
    if Path(path).is_dir() or not os.path.lexists(side):  # a dangling link is there
        return {}
    try:  # a regular file within the note's budget, opened without blocking
        info = read_json(side, MAX_NOTE_BYTES)
    except InputRefused as e:  # a FIFO, a folder, a device, too big, not JSON
        raise _refused(path, str(e)) from None
    except OSError as e:  # gone between the check and the read: refused, not guessed
        raise _refused(path, f"{shown(side)} cannot be read ({e.strerror or e}).") from None
    if not isinstance(info, dict):
        raise _refused(path, f"{shown(side)} holds a JSON {type(info).__name__}, not an "
                             'object like {"documents": true}.')
    flag = info.get("documents")
    if not isinstance(flag, bool):
        said = "no \"documents\"" if "documents" not in info else (
            f'"documents": {json.dumps(flag)[:40]}')
        raise _refused(path, f"{shown(side)} has {said}, where true or false belongs.")
    return info


def wrapped(corpus: str | os.PathLike, asked: bool | None = None) -> tuple[bool, str | None]:
    """Whether the texts of ``corpus`` are wrapped in start/end tokens, and where the
    answer came from: the one rule for the command line and anyone else.

    ``asked`` (``--documents``/``--no-documents``) decides when given, and the note is
    not read at all (so a damaged one can be overridden by hand). Otherwise the note
    decides (:func:`corpus_info`, which refuses one that cannot be trusted); no note
    means plain text. The second value is the note's path for a message when the note
    decided, else ``None``."""
    if asked is not None:
        if not isinstance(asked, bool):
            raise TypeError(f"asked must be True, False or None, not {asked!r}")
        return asked, None
    info = corpus_info(corpus)
    if not info:
        return False, None
    return info["documents"], shown(sidecar_path(corpus))
