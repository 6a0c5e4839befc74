"""Project Gutenberg: download books, cache them, strip the licence text, search the catalog.

We depend on nothing beyond the standard library here. The ``gutenberg`` package of
the original design does not install on Python 3.11 (its ``bsddb3`` dependency
needs Berkeley DB headers), and ``gutenbergpy`` hard-codes gutenberg.org (no
mirror, no offline tests) and leaves the licence in place on the wrapped and
indented END markers that real files have. See :func:`strip_headers`.

Every request goes to ``mirror`` (the argument, else ``$TEXTGEN_MIRROR/gutenberg``, the
project's one mirror variable, else https://www.gutenberg.org), so a mirror or a local
folder served over HTTP works. The books and the catalog that the notebooks use are
entries of :mod:`helpers.datasets` (pinned editions with checksums); without a
``mirror`` argument the client takes those through the registry.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from . import datasets, paths
from .documents import wrap
from .errors import TextgenError
from .limits import MAX_DOWNLOAD_BYTES
from .net import DownloadError, http_get
from .textio import (
    CorpusError,
    atomic_write_bytes,
    atomic_write_json,
    decode_text,
    display_path,
)

__all__ = ["GutenbergError", "GutenbergUnavailable", "Gutenberg", "CatalogEntry", "strip_headers", "corpus_stats",
           "DEFAULT_MIRROR", "USER_AGENT", "unwrap_paragraphs"]

DEFAULT_MIRROR = "https://www.gutenberg.org"
USER_AGENT = "textgen-workshop/0.1 (educational; +https://github.com/) python-urllib"


class GutenbergError(TextgenError, RuntimeError):
    """A book or the catalog could not be fetched (unknown id, network, bad content)."""


class GutenbergUnavailable(GutenbergError, datasets.DataUnavailable):
    """The mirror could not be reached (network down, no mirror set)."""


# --- header / footer stripping -----------------------------------------------------
# Where the header ends. Since late 2002 a START marker line, sometimes wrapped over two
# lines and, in 2005-2020 files, sometimes written without a space ("***START OF").
_START_RE = re.compile(r"^\s*\*{0,3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
# The 1991-2002 files have no START marker: their header ends with the licence, whose last
# line is "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver...*END*" (2000s spelling:
# "*END THE SMALL PRINT!"). In 2002-2004 files the same licence follows the book instead,
# so this line counts only before the footer.
_SMALL_PRINT_END_RE = re.compile(r"^\s*\*{0,3}\s*END\s*\*?\s*THE SMALL PRINT", re.IGNORECASE)
# Where the footer starts: "*** END OF THE/THIS PROJECT GUTENBERG EBOOK" (late 2002 on),
# the "End of [the] Project Gutenberg['s] Etext/EBook ..." line that precedes it or, before
# 2002, stands alone (also "End of the Wiretap/Project Gutenberg Etext", "End of version
# 0.1 of Project Gutenberg's eBook"), its translations in books of other languages ("Ende
# dieses Projekt Gutenberg Etextes"), and the full licence of post-2020 files.
_END_RE = re.compile(
    r"^\s*\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG"
    r"|^\s*(?:end|ende|einde|fin|fine|final|slut|loppu)\b.{0,40}?"
    r"\b(?:project|projekt|projet|progetto|proyecto|projecto|projeto)\s+gutenberg"
    r"|^\s*\*{3}\s*START: FULL LICENSE",
    re.IGNORECASE,
)
# A separator of asterisks only ("***") around the markers; the spaced "*   *   *" thought
# break is the book's own and stays.
_STARS_RE = re.compile(r"^\s*\*+\s*$")
# Right after the START marker (or the small print) come paragraphs about the e-text, not
# the book: a repeated "The Project Gutenberg Etext of ..." title banner, "Produced by",
# "This etext was prepared by", "Etext reformatted by", "Transcribed from the 1910 edition
# by", "contributed by the Gutenberg Projekt-DE", "This Etext is in Portuguese", thanks
# to the library that lent the scans (with its web address, in any language), pointers to
# the HTML version. A paragraph is one of these when it names Project Gutenberg (or its
# German sister project and proofreading site), the e-text, a web or e-mail address, or
# says who produced it.
_EDITION_NOTE_RE = re.compile(
    r"\b(?:project\s+gutenberg|projekt\s+gutenberg|gutenberg\s+projekt|gutenberg-de|pgdp|"
    r"distributed\s+proofread\w*)\b"
    r"|\b(?:e-?texts?|e-?books?)\b"
    r"|https?://|\bwww[.:]|\S@\w[\w-]*\.\w"
    r"|\b(?:produced|prepared|transcribed|reformatted|contributed|digiti[sz]ed|scanned|"
    r"proofread)\b(?:\s+\S+){0,6}?\s+by\b",
    re.IGNORECASE,
)
_TITLE_RE = re.compile(r"^\s*Title:", re.IGNORECASE)
_MAX_EDITION_NOTES = 8  # paragraphs; a runaway guard, real files have at most five
_NOTE_START_RE = re.compile(r"^\s*\*\s*CONTENT NOTE \(added in \d{4}\)\s*\*\s*$", re.I)
_NOTE_END_RE = re.compile(r"^\s*\*\s*END CONTENT NOTE\s*\*\s*$", re.I)


def _header_end(lines: list[str]) -> int:
    """Index of the first line after the header (0 when there is no header)."""
    n = len(lines)
    window = min(n, max(800, n // 3))  # the header is in the first part of the file
    # a footer line bounds the search: in short files (and 2002-2004 ones) the small print
    # after the book must not be taken for the header's end
    first_footer = next((i for i in range(window) if _END_RE.match(lines[i])), window)
    start = 0
    for i in range(first_footer):
        # the header ends at its last marker, should there be more than one
        if _START_RE.match(lines[i]) or _SMALL_PRINT_END_RE.match(lines[i]):
            start = i + 1
            # a START marker wrapped over two lines: skip the continuation
            if "***" in lines[i] and lines[i].count("*") < 6 and start < n and \
                    lines[start].strip().endswith("***"):
                start += 1
    return start


def _skip_edition_notes(lines: list[str], start: int) -> int:
    """Index of the book's first line: past the paragraphs about the e-text after the header."""
    i, n = start, len(lines)
    for _ in range(_MAX_EDITION_NOTES):
        while i < n and (not lines[i].strip() or _STARS_RE.match(lines[i])):
            i += 1
        j = i
        while j < n and lines[j].strip():
            j += 1
        # a "Title: ..." block is the book's title page (#32941 repeats title and author in
        # the original script there, with the producers' credit below them)
        if i == n or _TITLE_RE.match(lines[i]) or \
                not _EDITION_NOTE_RE.search(" ".join(lines[i:j])):
            break
        i = j
    return i


def strip_headers(text: str) -> str:
    """The body of a Gutenberg book, without its header, footer and licence.

    Every era's layout: the 1990s "SMALL PRINT" licence before the book (no START marker),
    the 2002-2004 files with the small print after it, ``*** START OF THE/THIS PROJECT
    GUTENBERG EBOOK ... ***`` markers (also wrapped over two lines or without a space), the
    ``End of [the] Project Gutenberg['s] ...`` line before the END marker, also in other
    languages (``Ende dieses Projekt Gutenberg Etextes``), and the post-2020 short header.
    The notes about the e-text right after the header go too (``Produced by ...``, a
    repeated "Project Gutenberg Etext of" title banner, thanks to the library that lent
    the scans), as does Gutenberg's 2017 "CONTENT NOTE" on copyright status. Text with no
    marker at all is returned unchanged (minus surrounding blank lines).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    n = len(lines)
    start = _header_end(lines)
    end = n
    # the footer is in the last part of the file (a book may quote an "End of ..." line)
    for i in range(max(start, n - max(800, n // 3)), n):
        if _END_RE.match(lines[i]):
            end = i
            break
    if start:
        start = _skip_edition_notes(lines[:end], start)
    body = lines[start:end]
    # Gutenberg's own notes inside the body (the 2017 "CONTENT NOTE" on copyright status)
    for i, line in enumerate(body):
        if _NOTE_START_RE.match(line):
            for j in range(i + 1, min(len(body), i + 200)):
                if _NOTE_END_RE.match(body[j]):
                    del body[i:j + 1]
                    break
            break
    while body and not body[0].strip():
        body.pop(0)
    # separators of asterisks before the footer belong to it ("***" then "End of ...")
    while body and (not body[-1].strip() or (end < n and _STARS_RE.match(body[-1]))):
        body.pop()
    return "\n".join(body)


# --- download + cache ---------------------------------------------------------------
@dataclass
class CatalogEntry:
    id: int
    title: str
    authors: str
    language: str
    subjects: str
    type: str = "Text"

    def __repr__(self) -> str:
        return f"<#{self.id} {self.title!r} by {self.authors or 'unknown'} [{self.language}]>"


def _looks_like_html(data: bytes) -> bool:
    """An HTML page (whatever its Content-Type says): a tag near the start of the file."""
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<!--", b"<body")) or (
        b"<html" in head and b"</" in head)


# where a book's licence header ends and its footer begins, in the eras' spellings
_BOOK_START = re.compile(rb"\*\*\*\s*START OF|\*END\*\s*THE SMALL PRINT|"
                         rb"START OF (?:THE|THIS) PROJECT GUTENBERG", re.I)
_BOOK_END = re.compile(rb"\*\*\*\s*END OF|END OF (?:THE |THIS )?PROJECT GUTENBERG", re.I)
MIN_BOOK_BYTES = 1024  # the shortest texts on Gutenberg (a poem) still carry a licence
# the longest plain-text books on Gutenberg (dictionaries, complete works) are ~30 MB; a
# mirror that sends more is wrong, and is stopped there rather than held in memory
MAX_BOOK_BYTES = 64 << 20


def _check_book(data: bytes, book_id: int, shown: str) -> None:
    """Refuse, before it is cached, a download that is not a whole book: empty, an
    HTML page, implausibly small, or cut short (the header's start marker without the
    footer's end marker). A text with neither marker is kept, with a note: some early
    files truly have none, and then :func:`strip_headers` leaves the text as it is."""
    where = f"Book #{book_id} from {shown}"
    if not data.strip():
        raise GutenbergError(f"{where} is empty. Nothing was cached; try again later or "
                             "another mirror (TEXTGEN_MIRROR).")
    if _looks_like_html(data):
        raise GutenbergError(f"{where} is an HTML page, not a plain-text book. Nothing was "
                             "cached; try again later or another mirror (TEXTGEN_MIRROR).")
    if len(data) < MIN_BOOK_BYTES:
        raise GutenbergError(f"{where} has only {len(data)} bytes, too few for a book with "
                             "its licence. Nothing was cached; try again.")
    has_start, has_end = _BOOK_START.search(data[:100_000]), _BOOK_END.search(data[-200_000:])
    if has_start and not has_end:
        raise GutenbergError(f"{where} looks cut short: it has the licence header's start "
                             "marker but not the end-of-book marker. Nothing was cached; "
                             "try again.")
    if not has_start and not has_end:
        print(f"note: {where} has no Project Gutenberg start/end markers; it is used as it "
              "is, without stripping a licence.")


class Gutenberg:
    """Client for a Gutenberg mirror with a local cache.

    Args:
        mirror: base URL (default ``$TEXTGEN_MIRROR/gutenberg``, else
            https://www.gutenberg.org). Without it, the books and the catalog registered
            in :mod:`helpers.datasets` come through the registry (pinned, checksummed).
        cache_dir: where books and the catalog are kept (default ``data/gutenberg``).
        delay: seconds to wait between requests (politeness; default 1 s for
            gutenberg.org, 0 for other mirrors).
        retries, timeout: for transient network errors (exponential backoff).
    """

    def __init__(self, mirror: str | None = None, cache_dir: str | os.PathLike | None = None,
                 delay: float | None = None, retries: int = 3, timeout: float = 30.0):
        self.use_registry = mirror is None
        env = paths.mirror()
        self.mirror = (mirror or (f"{env}/gutenberg" if env else DEFAULT_MIRROR)).rstrip("/")
        # how the mirror is shown: a URL from the environment may hold a password, and is
        # a machine's detail besides
        self._shown_mirror = "$TEXTGEN_MIRROR/gutenberg" if (mirror is None and env) else \
            datasets.redact_url(self.mirror)
        self.cache_dir = Path(cache_dir or paths.data_dir() / "gutenberg")
        self.delay = delay if delay is not None else (1.0 if "gutenberg.org" in self.mirror else 0.0)
        self.retries, self.timeout = retries, timeout
        self._last_request = 0.0
        self.requests: list[str] = []  # every URL this client asked for (handy in notebooks)
        self._catalog: list[CatalogEntry] | None = None

    def __repr__(self) -> str:
        return (f"Gutenberg(mirror={self._shown_mirror!r}, "
                f"cache_dir={display_path(self.cache_dir)!r})")

    def _get(self, path: str, max_bytes: int = MAX_BOOK_BYTES) -> bytes:
        """GET mirror/path with retries; raises ``urllib.error.HTTPError`` for 4xx, and
        :class:`GutenbergError` for a body over ``max_bytes`` (nothing is cached)."""
        url = f"{self.mirror}/{path.lstrip('/')}"

        def polite():
            wait = self._last_request + self.delay - time.time()
            if wait > 0:
                time.sleep(wait)
            self._last_request = time.time()
            self.requests.append(url)

        shown = f"{self._shown_mirror}/{path.lstrip('/')}"
        try:
            data, ctype = http_get(url, USER_AGENT, timeout=self.timeout, retries=self.retries,
                                   before_each=polite, shown_url=shown, max_bytes=max_bytes)
        except urllib.error.HTTPError as e:
            if 400 <= e.code < 500:
                raise
            last_err: Exception = e
        except DownloadError as e:  # cut short or rate-limited: the message says what to do
            raise GutenbergError(str(e)) from None
        except OSError as e:
            last_err = e
        else:
            if "text/html" in ctype or _looks_like_html(data):
                raise GutenbergError(
                    f"{shown} returned an HTML page, not a plain-text book (a captcha, a "
                    "rate-limit or error page, or a wrong mirror?). Nothing was cached. Try "
                    "again later, or another mirror via TEXTGEN_MIRROR.")
            return data
        raise GutenbergUnavailable(
            f"Could not reach {self._shown_mirror} ({last_err}). Check your connection, set "
            "TEXTGEN_MIRROR to a mirror (its gutenberg/ folder is used; a local folder served "
            "with `python -m http.server` works), or copy the books into the cache folder "
            f"{display_path(self.cache_dir)}."
        )

    def _cache_paths(self, book_id: int) -> tuple[Path, Path]:
        return self.cache_dir / f"{book_id}.txt", self.cache_dir / f"{book_id}.json"

    def _cached(self, book_id: int) -> bytes | None:
        data_p, meta_p = self._cache_paths(book_id)
        if not (data_p.exists() and meta_p.exists()):
            return None
        try:
            meta = json.loads(meta_p.read_text())
            data = data_p.read_bytes()
        except (OSError, json.JSONDecodeError):
            return None
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return None  # corrupt entry: re-download
        return data

    def raw(self, book_id: int) -> bytes:
        """The book's file as published (header and all), from the cache or the mirror."""
        book_id = int(book_id)
        if self.use_registry and f"gutenberg-{book_id}" in datasets.REGISTRY:
            return datasets.fetch(f"gutenberg-{book_id}").read_bytes()
        data = self._cached(book_id)
        if data is not None:
            return data
        candidates = [f"cache/epub/{book_id}/pg{book_id}.txt", f"files/{book_id}/{book_id}-0.txt",
                      f"files/{book_id}/{book_id}-8.txt", f"files/{book_id}/{book_id}.txt"]
        for path in candidates:
            try:
                data = self._get(path)
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    continue
                raise GutenbergError(f"{self.mirror}/{path}: HTTP {e.code}") from e
            _check_book(data, book_id, f"{self._shown_mirror}/{path}")  # before caching
            data_p, meta_p = self._cache_paths(book_id)
            atomic_write_bytes(data_p, data)
            atomic_write_json(meta_p, {"id": book_id, "url": f"{self.mirror}/{path}",
                                       "sha256": hashlib.sha256(data).hexdigest(),
                                       "bytes": len(data), "fetched": time.time()})
            return data
        raise GutenbergError(
            f"Book #{book_id} was not found on {self.mirror} (tried {', '.join(candidates)}). "
            "Check the id with Gutenberg.search()."
        )

    def text(self, book_id: int, strip: bool = True) -> str:
        """The book as text (``\\n`` line endings), with the licence stripped by default."""
        text = decode_text(self.raw(book_id), name=f"Gutenberg #{book_id}")
        return strip_headers(text) if strip else text

    # --- catalog ------------------------------------------------------------------
    def catalog(self, refresh: bool = False) -> list[CatalogEntry]:
        """All catalog rows (``pg_catalog.csv``, downloaded once and cached)."""
        if self._catalog is not None and not refresh:
            return self._catalog
        path = self.cache_dir / "pg_catalog.csv"
        if self.use_registry:
            if refresh:
                datasets.get("gutenberg-catalog").files[0].local().unlink(missing_ok=True)
            path = datasets.fetch("gutenberg-catalog")
        elif refresh or not path.exists():
            try:
                data = self._get("cache/epub/feeds/pg_catalog.csv", MAX_DOWNLOAD_BYTES)
            except urllib.error.HTTPError as e:
                raise GutenbergError(f"The catalog is not on {self.mirror} (HTTP {e.code}).") from e
            atomic_write_bytes(path, data)
        rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
        self._catalog = [
            CatalogEntry(int(r["Text#"]), " ".join(r.get("Title", "").split()),
                         r.get("Authors", ""), r.get("Language", ""), r.get("Subjects", ""),
                         r.get("Type", "Text"))
            for r in rows if r.get("Text#", "").isdigit()
        ]
        return self._catalog

    def search(self, title: str | None = None, author: str | None = None,
               language: str | None = None, subject: str | None = None,
               type: str | None = "Text", limit: int | None = None) -> list[CatalogEntry]:
        """Catalog rows matching every given field (case-insensitive substrings;
        ``language`` is an exact code such as ``"en"``)."""
        t, a, s = (x.lower() if x else None for x in (title, author, subject))
        out = []
        for e in self.catalog():
            if type and e.type != type:
                continue
            if language and language.lower() not in [x.strip().lower() for x in e.language.split(";")]:
                continue
            if t and t not in e.title.lower():
                continue
            if a and a not in e.authors.lower():
                continue
            if s and s not in e.subjects.lower():
                continue
            out.append(e)
            if limit and len(out) >= limit:
                break
        return out

    def corpus(self, ids: list[int], documents: bool = True) -> tuple[str, dict]:
        """Several books as one training text (each wrapped in start/end tokens when
        ``documents``), with :func:`corpus_stats`."""
        if not ids:
            raise CorpusError("No book ids given.")
        bodies = [self.text(i) for i in ids]
        if documents:
            text = wrap((b + "\n" for b in bodies), sep="")
        else:
            text = "\n\n".join(bodies)
        stats = corpus_stats(text)
        stats["books"] = {int(i): len(b) for i, b in zip(ids, bodies, strict=True)}
        return text, stats


def unwrap_paragraphs(text: str) -> str:
    """Join hard-wrapped lines into one line per paragraph (blank lines separate
    paragraphs). Gutenberg texts wrap at ~70 columns; a word-level model should
    not have to predict those line breaks."""
    paras = re.split(r"\n\s*\n", text)
    out = [" ".join(line.strip() for line in p.split("\n") if line.strip()) for p in paras]
    return "\n\n".join(p for p in out if p)


def corpus_stats(text: str, rare_below: int = 10) -> dict:
    """Characters, distinct characters and the rare ones (seen fewer than ``rare_below``)."""
    from collections import Counter

    counts = Counter(text)
    rare = {c: n for c, n in counts.items() if n < rare_below}
    return {"chars": len(text), "distinct_chars": len(counts), "rare_chars": len(rare),
            "rare_examples": "".join(sorted(rare)[:40]), "lines": text.count("\n") + 1}
