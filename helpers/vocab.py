"""Character and word vocabularies: build from a corpus, encode, decode, save as JSON.

>>> v = CharVocab.build("hello world", min_count=1)
>>> v.decode(v.encode("hello"))
'hello'

Special tokens follow the seed blog post: ``\\x02`` starts a document, ``\\x03``
ends it, ``\\x04`` stands for any character that is not in the vocabulary
(characters rarer than ``min_count`` are mapped to it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .documents import (
    END,
    SPECIALS,
    START,
    UNK,
    WORD_END,
    WORD_SPECIALS,
    WORD_START,
    WORD_UNK,
    wrap,
)
from .errors import TextgenError
from .textio import CorpusError, atomic_write_json

__all__ = ["START", "END", "UNK", "VocabMismatch", "Vocab", "CharVocab", "WordVocab", "load_vocab",
           "wrap_documents"]

# the special tokens and document wrapping belong to helpers.documents; these names
# stay here because vocabularies are where most code meets them
wrap_documents = wrap


class VocabMismatch(TextgenError, ValueError):
    """A vocabulary file is not the one its model was trained with."""


class Vocab:
    """Shared logic of :class:`CharVocab` and :class:`WordVocab` (token <-> id)."""

    kind = "base"
    _extra_keys: tuple[str, ...] = ()  # the settings a subclass keeps in "extra"

    def __init__(
        self,
        tokens: Sequence[str],
        unk: str | None = UNK,
        start: str | None = START,
        end: str | None = END,
        counts: dict[str, int] | None = None,
    ):
        tokens = list(tokens)
        if len(set(tokens)) != len(tokens):
            raise ValueError("Vocabulary tokens must be unique.")
        for special in (unk, start, end):
            if special is not None and special not in tokens:
                raise ValueError(f"Special token {special!r} is not among the tokens.")
        self.tokens: list[str] = tokens
        self.index: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.unk, self.start, self.end = unk, start, end
        self.counts = dict(counts or {})

    # --- token streams (overridden by subclasses) ---------------------------------
    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def detokenize(self, tokens: Iterable[str]) -> str:
        raise NotImplementedError

    def piece(self, prev: str | None, token: str) -> str:
        """The text ``token`` adds after ``prev`` (``None`` at the start), so that text
        can be built one token at a time: ``detokenize`` is the join of the pieces."""
        return token

    # --- public API -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        shown = ", ".join(repr(t) for t in self.tokens[:8])
        more = ", ..." if len(self) > 8 else ""
        return f"{type(self).__name__}(size={len(self)}, tokens=[{shown}{more}])"

    @property
    def size(self) -> int:
        return len(self.tokens)

    @property
    def unk_id(self) -> int | None:
        return None if self.unk is None else self.index[self.unk]

    @property
    def start_id(self) -> int | None:
        return None if self.start is None else self.index[self.start]

    @property
    def end_id(self) -> int | None:
        return None if self.end is None else self.index[self.end]

    @property
    def dtype(self) -> np.dtype:
        """Smallest unsigned integer type that holds every id (compact corpora)."""
        return np.dtype(np.uint8 if len(self) <= 256 else np.uint16 if len(self) <= 65536 else np.uint32)

    def unknown(self, text: str) -> list[str]:
        """Tokens of ``text`` that the vocabulary does not know, in order of appearance."""
        seen: dict[str, None] = {}
        for t in self.tokenize(text):
            if t not in self.index:
                seen.setdefault(t)
        return list(seen)

    def encode(self, text: str, errors: str = "unk") -> np.ndarray:
        """Encode ``text`` to an array of ids.

        ``errors="unk"`` maps unknown tokens to the unknown token (an error if the
        vocabulary has none); ``errors="strict"`` raises ``KeyError`` naming them.
        """
        if errors not in ("unk", "strict"):
            raise ValueError("errors must be 'unk' or 'strict'")
        toks = self.tokenize(text)
        get = self.index.get
        if errors == "strict" or self.unk is None:
            missing = [t for t in dict.fromkeys(toks) if t not in self.index]
            if missing:
                shown = ", ".join(repr(m) for m in missing[:10])
                raise KeyError(
                    f"{len(missing)} token(s) not in the vocabulary: {shown}. "
                    "Use errors='unk' to map them to the unknown token."
                )
        unk = self.unk_id if self.unk_id is not None else -1
        return np.fromiter((get(t, unk) for t in toks), dtype=self.dtype, count=len(toks))

    def decode(self, ids: Iterable[int], specials: bool = True) -> str:
        """Turn ids back into text. ``specials=False`` drops start/end/unk tokens."""
        drop = set() if specials else {self.start, self.end, self.unk}
        toks = [self.tokens[int(i)] for i in ids]
        return self.detokenize(t for t in toks if t not in drop)

    def fingerprint(self) -> str:
        """Short hash of the token list: two vocabularies match iff these match."""
        blob = json.dumps([self.kind, self.tokens], ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def check_fingerprint(self, expected: str | None, vocab_file: str | os.PathLike,
                          record: str, where: str = "") -> None:
        """Refuse a vocabulary that is not the one a model was trained with: a
        ``vocab.json`` with tokens reordered keeps its size and samples without complaint,
        mapping ids to the wrong tokens. ``record`` names the file that holds
        ``expected`` (a run's config.json, a bundle's meta.json)."""
        if expected and self.fingerprint() != expected:
            vocab_file = Path(vocab_file)
            raise VocabMismatch(
                f"{where + ': ' if where else ''}{vocab_file.name} does not match the "
                f"vocabulary the model was trained with (fingerprint {self.fingerprint()}, "
                f"{record} says {expected}); restore {vocab_file}, or re-export the model.")

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "tokens": self.tokens,
            "unk": self.unk,
            "start": self.start,
            "end": self.end,
            "extra": self._extra(),
        }

    def _extra(self) -> dict:
        return {}

    def save(self, path: str | os.PathLike) -> Path:
        """Save as JSON (atomically)."""
        d = self.to_dict()
        d["counts"] = {t: self.counts[t] for t in self.tokens if t in self.counts}
        return atomic_write_json(path, d, indent=None)

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        """The vocabulary :meth:`to_dict` wrote; ``ValueError`` for anything else (a file
        is outside input: its tokens, counts and settings are checked, not trusted)."""
        tokens, counts, extra = d.get("tokens"), d.get("counts"), d.get("extra", {})
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
            raise ValueError("'tokens' is not a list of non-empty strings")
        if cls.kind == "char" and any(len(t) != 1 for t in tokens):
            raise ValueError("a character vocabulary has a token that is not one character")
        if counts is not None and not (isinstance(counts, dict) and all(
                isinstance(n, int) and not isinstance(n, bool) for n in counts.values())):
            raise ValueError("'counts' is not a mapping of tokens to whole numbers")
        specials = [d.get(k) for k in ("unk", "start", "end")]
        if not all(x is None or isinstance(x, str) for x in specials):
            raise ValueError("a special token is not a string")
        if not isinstance(extra, dict) or not set(extra) <= set(cls._extra_keys):
            raise ValueError(f"unknown settings {extra!r}")
        return cls(tokens, unk=specials[0], start=specials[1], end=specials[2],
                   counts=counts, **extra)


class CharVocab(Vocab):
    """One token per character."""

    kind = "char"

    def tokenize(self, text: str) -> list[str]:
        return list(text)

    def detokenize(self, tokens: Iterable[str]) -> str:
        return "".join(tokens)

    def encode(self, text: str, errors: str = "unk", chunk: int = 1 << 22) -> np.ndarray:
        # Fast path: a lookup table over code points instead of a Python loop, in
        # chunks so that a 100 MB corpus needs a few tens of MB of temporaries.
        if not text:
            return np.zeros(0, dtype=self.dtype)
        top = max(ord(t) for t in self.tokens)
        if top > 5_000_000:
            return super().encode(text, errors)
        table = self.__dict__.get("_table")
        if table is None:  # every code point -> id or -1, built once
            table = np.full(0x110000, -1, np.int32)
            for t, i in self.index.items():
                table[ord(t)] = i
            self._table = table
        out = np.empty(len(text), dtype=self.dtype)
        for start in range(0, len(text), chunk):
            piece = text[start:start + chunk]
            cps = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
            ids = table[cps]
            bad = ids < 0
            if bad.any():
                if errors == "strict" or self.unk is None:
                    return super().encode(text, "strict")  # raises, naming the tokens
                ids[bad] = self.unk_id
            out[start:start + len(piece)] = ids
        return out

    @classmethod
    def build(
        cls,
        text: str,
        min_count: int = 1,
        max_size: int | None = None,
        specials: bool = True,
    ) -> CharVocab:
        """Build from a corpus. Characters seen fewer than ``min_count`` times (or
        beyond the ``max_size`` most frequent) become the unknown token."""
        return cls.from_counts(Counter(text), min_count, max_size, specials)  # refuses ""

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        min_count: int = 1,
        max_size: int | None = None,
        specials: bool = True,
    ) -> CharVocab:
        """The vocabulary :meth:`build` makes of a text whose characters were counted as
        ``counts`` (in order of first appearance, which decides ties of ``max_size``);
        the one rule, for a text in memory and a corpus counted in chunks alike."""
        if not counts:
            raise CorpusError("Cannot build a vocabulary from an empty corpus.")
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: ties keep order
        kept = [c for c, n in ranked if n >= min_count and c not in SPECIALS]
        if max_size is not None:
            kept = kept[: max(1, max_size - (len(SPECIALS) if specials else 0))]
        kept.sort()
        if specials:
            return cls([*SPECIALS, *kept], counts=dict(counts))
        return cls(kept, unk=None, start=None, end=None, counts=dict(counts))

    def rare(self) -> dict[str, int]:
        """Characters of the corpus that did not make it into the vocabulary, with counts."""
        return {c: n for c, n in sorted(self.counts.items(), key=lambda kv: -kv[1]) if c not in self.index}


# the special words first (whole), then newlines, words (with inner apostrophes),
# punctuation marks one by one, runs of underscores
_WORD_RE = re.compile("|".join(map(re.escape, WORD_SPECIALS))
                      + r"|\n|[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_+", re.UNICODE)
_NO_SPACE_BEFORE = set(".,;:!?)]}'\"%")
_NO_SPACE_AFTER = set("([{\"'")


class WordVocab(Vocab):
    """Words, punctuation marks and newlines as tokens (top-N words, the rest unknown)."""

    kind = "word"
    _extra_keys = ("lower",)

    def __init__(self, tokens, unk=WORD_UNK, start=WORD_START, end=WORD_END,
                 counts=None, lower=True):
        super().__init__(tokens, unk=unk, start=start, end=end, counts=counts)
        self.lower = lower

    def _extra(self) -> dict:
        return {"lower": self.lower}

    def tokenize(self, text: str) -> list[str]:
        if self.lower:
            text = text.lower()
        text = text.replace(START, f" {WORD_START} ").replace(END, f" {WORD_END} ")
        return _WORD_RE.findall(text)

    def piece(self, prev: str | None, token: str) -> str:
        if (prev is None or token == "\n" or prev == "\n" or token in _NO_SPACE_BEFORE
                or prev in _NO_SPACE_AFTER):
            return token
        return " " + token

    def detokenize(self, tokens: Iterable[str]) -> str:
        parts: list[str] = []
        prev = None
        for t in tokens:
            parts.append(self.piece(prev, t))
            prev = t
        return "".join(parts)

    @classmethod
    def build(cls, text: str, max_words: int = 10000, min_count: int = 1,
              lower: bool = True) -> WordVocab:
        """Keep the ``max_words`` most frequent tokens seen at least ``min_count`` times."""
        if not text.strip():
            raise CorpusError("Cannot build a vocabulary from an empty corpus.")
        return cls.from_counts(Counter(cls.probe(lower).tokenize(text)), max_words,
                               min_count, lower)

    @classmethod
    def probe(cls, lower: bool = True) -> WordVocab:
        """A vocabulary of the special words only: its :meth:`tokenize` counts a text."""
        return cls(list(WORD_SPECIALS), lower=lower)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], max_words: int = 10000,
                    min_count: int = 1, lower: bool = True) -> WordVocab:
        """The vocabulary :meth:`build` makes of a text whose tokens were counted as
        ``counts`` (``tokenize``'s tokens, in order of first appearance, which decides
        ties); the one rule, for a text in memory and a corpus counted in chunks alike."""
        counts = Counter({w: n for w, n in counts.items() if w not in WORD_SPECIALS})
        room = max(0, max_words - len(WORD_SPECIALS))
        kept = [w for w, n in counts.most_common(room) if n >= min_count]
        return cls([*WORD_SPECIALS, *kept], counts=dict(counts), lower=lower)


def load_vocab(path: str | os.PathLike) -> Vocab:
    """Load a vocabulary saved with :meth:`Vocab.save` (char or word)."""
    from .limits import InputRefused, read_json, shown

    path = Path(path)
    try:
        d = read_json(path, what=f"the vocabulary file {shown(path)}")
    except FileNotFoundError:
        raise FileNotFoundError(f"Vocabulary file not found: {path}") from None
    kinds = {"char": CharVocab, "word": WordVocab}
    if not isinstance(d, dict) or not isinstance(d.get("kind"), str) or d["kind"] not in kinds:
        raise InputRefused(f"{shown(path)} is not a vocabulary file (no 'kind' of char/word).")
    try:
        return kinds[d["kind"]].from_dict(d)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as e:
        # the JSON parsed but is not a vocabulary this package wrote
        raise InputRefused(f"{shown(path)} is not a valid vocabulary file "
                           f"({type(e).__name__}: {e}); is it damaged?") from None
