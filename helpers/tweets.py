"""Tweets from files a user can download: no API keys, no credentials anywhere.

:func:`load_tweets` takes a tweets file, the unzipped archive folder, or the ``.zip`` that
X/Twitter's "Download your data" sends, and reads whichever layout it finds (the format of
each file is detected from its content, the tweet files of a folder or zip from their names):

* 2022 and later: ``data/tweets.js`` (``window.YTD.tweets.part0 = [{"tweet": {...}}, ...]``),
  split in large archives into ``data/tweets-part1.js``, ``-part2.js`` (``...part1 = ``);
  ``data/deleted-tweets.js`` (``window.YTD.deleted_tweets.part0``) only with ``deleted=True``;
* 2018 to 2022: ``data/tweet.js`` (``window.YTD.tweet.part0 = [ {...} ]``), ``tweet.js`` at the
  top in the oldest of these, and ``tweet-part1.js``...; early files have the tweet objects
  bare, later ones wrap each in ``{"tweet": ...}``; the text is ``full_text`` or ``text``;
* 2012 to 2018 ("Grailbird"): ``data/js/tweets/YYYY_MM.js`` (first line
  ``Grailbird.data.tweets_YYYY_MM =``, then a JSON list of API tweet objects with ``text``,
  ``created_at`` like ``2013-01-31 20:01:02 +0000``, ``retweeted_status`` on retweets), and
  the same tweets in ``tweets.csv`` at the top (``tweet_id, in_reply_to_status_id,
  in_reply_to_user_id, timestamp, source, text, retweeted_status_id, ...``) or, in the first
  archives of 2012, in ``data/csv/YYYY_MM.csv``;
* the zip of any of these, read without extracting; the folder inside may be nested one
  level (``twitter-2023-01-01-abc/data/tweets.js``); macOS ``__MACOSX/`` entries are skipped;
* also a JSON list of tweets (the Trump Twitter Archive "condensed" format, or any list of
  objects with ``text`` / ``full_text``), or CSV with a ``text`` or ``full_text`` column.

The layouts were checked against public descriptions and readers of real archives: the
``tweet.js`` / ``tweets.js`` / ``tweets-part*.js`` names and the ``[ {`` on the first line in
timhutton/twitter-archive-parser; ``tweet-part1.js`` / ``window.YTD.tweet.part1`` and
``window.YTD.deleted_tweets.part0`` in several public importers; the Grailbird folder tree
(``data/js/tweets``, ``data/csv``) in the Archive Team file-format wiki and a 2012 inkdroid.org
post; the ``tweets.csv`` header in public notebooks that read it.

A tweet found in several files (the CSV and the JS of a Grailbird archive, or two parts) is
kept once, by id. Unlike the seed notebook, tweets with ``&gt;``/``&amp;`` are unescaped, not
dropped.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import os
import re
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from .documents import clean, wrap
from .limits import (
    MAX_MEMBER_BYTES,
    MAX_TEXT_BYTES,
    InputRefused,
    check_size,
    open_regular,
    open_zip,
    read_bytes,
    read_capped,
    shown,
)
from .textio import CorpusError, decode_text, text_files

__all__ = ["Tweet", "load_tweets", "filter_tweets", "as_training_text"]

_LINK_RE = re.compile(r"https?://\S+")
_MENTION_RE = re.compile(r"(?<![\w@])@\w{1,15}")
_LEADING_MENTIONS_RE = re.compile(r"^(?:@\w{1,15}(?:\s+|$))+")
# ``window.YTD.tweets.part0 =``, ``Grailbird.data.tweets_2013_01 =``: a JavaScript assignment
# in front of plain JSON (Grailbird puts the list on the next line, and its other files
# start with ``var``).
_ASSIGN_RE = re.compile(r"^\s*(?:var\s+)?[A-Za-z_$][\w$.]*\s*=\s*")
_YTD_TWEETS_RE = re.compile(r"^tweets?(?:-part\d+)?\.js$")
_YTD_DELETED_RE = re.compile(r"^deleted-tweets?(?:-part\d+)?\.js$")
_MONTH_RE = re.compile(r"^\d{4}_\d{2}\.(js|csv)$")
LAYOUTS = ("data/tweets.js or tweets-partN.js (2022+), data/tweet.js or tweet-partN.js "
           "(2018-2022), data/js/tweets/YYYY_MM.js or tweets.csv (2012-2018)")


@dataclass
class Tweet:
    id: str
    text: str  # as in the file (HTML entities still escaped)
    created_at: datetime | None = None
    is_retweet: bool = False
    is_reply: bool = False
    lang: str = ""
    is_deleted: bool = False  # from deleted-tweets.js, read only when asked for

    def __repr__(self) -> str:
        when = self.created_at.date().isoformat() if self.created_at else "?"
        return f"Tweet({self.id}, {when}, {self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


def _date(s) -> datetime | None:
    if not s:
        return None
    # The last-but-two is Grailbird's (JS and tweets.csv): "2013-01-31 20:01:02 +0000".
    for fmt in ("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%z",
                "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S", "%m-%d-%Y %H:%M:%S"):
        try:
            return datetime.strptime(str(s).replace("Z", "+0000"), fmt)
        except ValueError:
            continue
    return None


def _truthy(v) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def _from_obj(o: dict, deleted: bool = False) -> Tweet | None:
    if "tweet" in o and isinstance(o["tweet"], dict):  # archive element
        o = o["tweet"]
    text = o.get("full_text", o.get("text"))
    if not isinstance(text, str):
        return None
    # The ``_str`` fields are the archive's; the bare ones are Grailbird's and tweets.csv's.
    reply = bool(o.get("in_reply_to_status_id_str") or o.get("in_reply_to_user_id_str")
                 or o.get("in_reply_to_status_id") or o.get("in_reply_to_user_id"))
    # Grailbird marks a retweet with ``retweeted_status`` (JS) or ``retweeted_status_id`` (CSV);
    # the newer archives only by the "RT @" the text starts with.
    rt = (_truthy(o.get("is_retweet", False)) or bool(o.get("retweeted_status"))
          or bool(o.get("retweeted_status_id")) or text.startswith("RT @"))
    tid = o.get("id_str") or o.get("id") or o.get("tweet_id") or ""
    return Tweet(str(tid), text, _date(o.get("created_at") or o.get("timestamp")), rt, reply,
                 str(o.get("lang") or ""), deleted or bool(o.get("deleted_at")))


def _when(t: Tweet) -> tuple[bool, float]:
    """Sort key, oldest first, undated last; a date without a zone counts as UTC so that a
    CSV's naive dates and an archive's aware ones can be compared."""
    d = t.created_at
    if d is None:
        return (True, 0.0)
    return (False, (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp())


def _unique_sorted(tweets: Iterable[Tweet]) -> list[Tweet]:
    """Each id once (the first file read wins), oldest first."""
    seen: set[str] = set()
    out = []
    for t in tweets:
        if t.id:
            if t.id in seen:
                continue
            seen.add(t.id)
        out.append(t)
    return sorted(out, key=_when)


def _parse(text: str, name: str) -> list[Tweet]:
    """The tweets in one file's text (``name`` for messages); an empty list if it has none."""
    data: object
    m = _ASSIGN_RE.match(text)
    if m or text[0] in "[{":
        payload = text[m.end():] if m else text
        try:
            # raw_decode: a trailing ``;`` or newline after the list is not an error.
            data, _ = json.JSONDecoder().raw_decode(payload)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{name}: not valid JSON at line {e.lineno} ({e.msg}); "
                              "is the file complete? Download the archive again.") from None
        except RecursionError:
            raise CorpusError(f"{name}: JSON nested too deeply to be a list of tweets.") from None
        deleted = bool(m) and "deleted" in m.group(0)
        if isinstance(data, dict):
            data = data.get("tweets") or data.get("data") or []
        if not isinstance(data, list):
            return []
        tweets = [_from_obj(o, deleted) for o in data if isinstance(o, dict)]
    else:
        rows = csv.DictReader(io.StringIO(text))
        try:
            if not rows.fieldnames or not ({"text", "full_text"} & set(rows.fieldnames)):
                raise CorpusError(f"{name}: CSV needs a 'text' or 'full_text' column "
                                  f"(found {rows.fieldnames}).")
            tweets = [_from_obj(r) for r in rows]
        except csv.Error as e:  # a field over csv's limit, a NUL byte...
            raise CorpusError(f"{name}: not a CSV of tweets ({e}).") from None
    return [t for t in tweets if t is not None]


def _rank(name: str, deleted: bool) -> int | None:
    """Reading order of an archive member by its path, or None for a file without tweets.

    The newer layouts come first so that, where one tweet is in several files, the copy
    with the most fields is the one kept."""
    p = PurePosixPath(name)
    base = p.name.lower()
    if "__MACOSX" in p.parts or base.startswith("._"):  # macOS zip metadata, not the files
        return None
    if _YTD_TWEETS_RE.match(base):
        return 0
    if _YTD_DELETED_RE.match(base):
        return 1 if deleted else None
    month = _MONTH_RE.match(base)
    if month and p.parent.name.lower() == ("tweets" if month.group(1) == "js" else "csv"):
        return 2 if month.group(1) == "js" else 3
    if base == "tweets.csv":
        return 4
    return None


# an archive with its media has thousands of files; each listed one costs ZipFile memory
MAX_ARCHIVE_MEMBERS = 200_000
MAX_ARCHIVE_BYTES = 64 << 30  # photos and videos included; the tweet files have their own
_HINT = "A Twitter/X archive's tweet files are far smaller: is this the right file?"


def _load_archive(path: Path, deleted: bool) -> list[Tweet]:
    """Every tweet file of an archive folder or zip, in :func:`_rank` order.

    Each file is read within the budget of :mod:`helpers.limits`, and all of them
    together within :data:`~helpers.limits.MAX_TEXT_BYTES`; a zip member is measured by
    the size its header declares *and* by what it actually inflates to (a zip bomb
    declares little and inflates to gigabytes), before and while it is read."""
    budget = [MAX_TEXT_BYTES]  # what is left for all the tweet files together

    def take(n: int, what: str) -> None:
        check_size(n, min(MAX_MEMBER_BYTES, budget[0]), what, _HINT)
        budget[0] -= n

    with contextlib.ExitStack() as stack:
        if path.is_dir():
            # the walk of a corpus folder: an unreadable subfolder is an error, not skipped
            files = {f.relative_to(path).as_posix(): f
                     for f in text_files(path, suffixes=(".js", ".csv", ".json"))}
            names = list(files)

            def read(n: str) -> bytes:
                data = read_bytes(files[n], min(MAX_MEMBER_BYTES, budget[0]), shown(files[n]))
                take(len(data), shown(files[n]))
                return data
        else:
            try:
                zf = stack.enter_context(open_zip(path, MAX_ARCHIVE_BYTES,
                                                  MAX_ARCHIVE_MEMBERS))
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise CorpusError(f"{shown(path)}: cannot open the zip ({e}); download it "
                                  "again.") from None
            infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
            names = list(infos)

            def read(n: str) -> bytes:
                what = f"{shown(path)}:{n}"
                info = infos[n]
                take(info.file_size, what)  # the declared size, before inflating anything
                with zf.open(info) as fh:
                    # and what it inflates to, streamed with a cap: the header may lie
                    return read_capped(fh, info.file_size, what, _HINT)
        picked = sorted((r, n) for n in names if (r := _rank(n, deleted)) is not None)
        if not picked:
            hint = ""
            if not deleted and any(_rank(n, True) == 1 for n in names):
                hint = " (it has only deleted-tweets.js: pass deleted=True to read that)"
            raise CorpusError(f"No tweets file in {path}{hint}; give a Twitter/X archive folder, "
                              f"its .zip, or one of its files: {LAYOUTS}.")
        out: list[Tweet] = []
        for _, n in picked:
            try:
                data = read(n)
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError,
                    RuntimeError) as e:  # a truncated download fails here, not at open
                if isinstance(e, InputRefused):
                    raise
                raise CorpusError(f"{shown(path)}:{n}: damaged in the zip or encrypted "
                                  f"({e}); download it again.") from None
            text = decode_text(data, name=f"{shown(path)}:{n}").strip()
            if text:  # an account without tweets has an empty list, or an empty part
                out += _parse(text, f"{shown(path)}:{n}")
        return out


def load_tweets(path: str | os.PathLike, *, deleted: bool = False) -> list[Tweet]:
    """Tweets of a file, an archive folder or an archive ``.zip`` (see the module), oldest
    first, each id once. ``deleted``: also read an archive's ``deleted-tweets.js`` (its
    tweets have ``is_deleted``); a file named directly is always read."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{shown(path)} does not exist; give a Twitter/X archive folder, its "
                          ".zip, or a tweets file.")
    if path.is_dir():
        out = _load_archive(path, deleted)
    else:
        # a regular file first: is_zipfile on a FIFO would wait forever. An archive
        # with its media may be gigabytes: only its tweet files are read (each budgeted)
        with open_regular(path, MAX_ARCHIVE_BYTES, shown(path)) as fh:
            is_zip = zipfile.is_zipfile(fh)
        if is_zip:
            out = _load_archive(path, deleted)
        else:
            data = read_bytes(path, MAX_TEXT_BYTES, shown(path))
            text = decode_text(data, name=shown(path)).strip()
            if not text:
                raise CorpusError(f"{shown(path)} is empty; give a Twitter/X archive, JSON or "
                                  "CSV of tweets.")
            out = _parse(text, shown(path))
    if not out:
        raise CorpusError(f"No tweets found in {path}; give a Twitter/X archive folder, its "
                          f".zip, or one of its files: {LAYOUTS}.")
    return _unique_sorted(out)


def filter_tweets(
    tweets: Iterable[Tweet],
    retweets: bool = False,
    replies: bool = True,
    links: bool = True,
    mentions: bool = True,
    strip_links: bool = False,
    strip_mentions: bool = False,
    unescape: bool = True,
    min_chars: int = 1,
) -> list[str]:
    """Clean tweet texts for training.

    ``retweets``/``replies``/``links``/``mentions``: keep tweets of that kind
    (False drops them). ``strip_links``/``strip_mentions``: keep the tweet but
    remove its URLs / leading @mentions. ``unescape``: ``&amp;`` -> ``&`` etc.
    Tweets shorter than ``min_chars`` after cleaning are dropped.
    """
    out = []
    for t in tweets:
        s = t.text
        if (not retweets and t.is_retweet) or (not replies and t.is_reply):
            continue
        if not links and _LINK_RE.search(s):
            continue
        if not mentions and _MENTION_RE.search(s):
            continue
        if unescape:
            s = html.unescape(s)
        if strip_links:
            s = _LINK_RE.sub("", s)
        if strip_mentions:
            s = _LEADING_MENTIONS_RE.sub("", s.lstrip())
        s = clean(s).replace("\r\n", "\n").strip()
        s = re.sub(r"[ \t]{2,}", " ", s)
        if len(s) >= min_chars:
            out.append(s)
    return out


def as_training_text(texts: Iterable[str]) -> str:
    """Each tweet wrapped in start/end tokens, one after another."""
    return wrap(texts)
