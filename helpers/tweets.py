"""Tweets from files a user can download: no API keys, no credentials anywhere.

Supported inputs (format detected from the content):

* a Twitter/X "Download your data" archive file ``data/tweets.js``
  (``window.YTD.tweets.part0 = [{"tweet": {...}}, ...]``), or the archive folder;
* a JSON list of tweets (the Trump Twitter Archive "condensed" format, or any list
  of objects with ``text`` / ``full_text``);
* CSV with a ``text`` or ``full_text`` column.

Unlike the seed notebook, tweets with ``&gt;``/``&amp;`` are unescaped, not dropped.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .textio import CorpusError, decode_text
from .vocab import END, START, wrap_documents

__all__ = ["Tweet", "load_tweets", "filter_tweets", "as_training_text"]

_LINK_RE = re.compile(r"https?://\S+")
_MENTION_RE = re.compile(r"(?<![\w@])@\w{1,15}")
_LEADING_MENTIONS_RE = re.compile(r"^(?:@\w{1,15}(?:\s+|$))+")


@dataclass
class Tweet:
    id: str
    text: str  # as in the file (HTML entities still escaped)
    created_at: datetime | None = None
    is_retweet: bool = False
    is_reply: bool = False
    lang: str = ""

    def __repr__(self) -> str:
        when = self.created_at.date().isoformat() if self.created_at else "?"
        return f"Tweet({self.id}, {when}, {self.text[:40]!r}{'...' if len(self.text) > 40 else ''})"


def _date(s) -> datetime | None:
    if not s:
        return None
    for fmt in ("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%z",
                "%Y-%m-%d %H:%M:%S", "%m-%d-%Y %H:%M:%S"):
        try:
            return datetime.strptime(str(s).replace("Z", "+0000"), fmt)
        except ValueError:
            continue
    return None


def _truthy(v) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes")


def _from_obj(o: dict) -> Tweet | None:
    if "tweet" in o and isinstance(o["tweet"], dict):  # archive element
        o = o["tweet"]
    text = o.get("full_text", o.get("text"))
    if not isinstance(text, str):
        return None
    reply = bool(o.get("in_reply_to_status_id_str") or o.get("in_reply_to_user_id_str")
                 or o.get("in_reply_to_status_id"))
    rt = _truthy(o.get("is_retweet", False)) or text.startswith("RT @")
    return Tweet(str(o.get("id_str", o.get("id", ""))), text, _date(o.get("created_at")), rt,
                 reply, str(o.get("lang", "")))


def load_tweets(path: str | os.PathLike) -> list[Tweet]:
    """Load tweets from an archive ``tweets.js`` (or its folder), JSON or CSV, oldest first."""
    path = Path(path)
    if path.is_dir():
        cands = sorted(path.rglob("tweets.js")) + sorted(path.rglob("tweets-part*.js"))
        if not cands:
            raise CorpusError(f"No data/tweets.js found in {path}; is it a Twitter/X archive?")
        out = [t for c in cands for t in load_tweets(c)]
        return sorted(out, key=lambda t: (t.created_at is None, t.created_at or 0))
    text = decode_text(path.read_bytes(), name=str(path)).strip()
    if not text:
        raise CorpusError(f"{path} is empty.")
    tweets: list[Tweet | None]
    if text.startswith("window.YTD") or (text[0] not in "[{" and "= [" in text[:200]):
        data = json.loads(text[text.index("["):])
        tweets = [_from_obj(o) for o in data]
    elif text[0] in "[{":
        data = json.loads(text)
        if isinstance(data, dict):
            data = data.get("tweets") or data.get("data") or []
        tweets = [_from_obj(o) for o in data if isinstance(o, dict)]
    else:
        rows = csv.DictReader(io.StringIO(text))
        if not rows.fieldnames or not ({"text", "full_text"} & set(rows.fieldnames)):
            raise CorpusError(f"{path}: CSV needs a 'text' or 'full_text' column "
                              f"(found {rows.fieldnames}).")
        tweets = [_from_obj(r) for r in rows]
    out = [t for t in tweets if t is not None]
    if not out:
        raise CorpusError(f"No tweets found in {path}.")
    return sorted(out, key=lambda t: (t.created_at is None, t.created_at or 0))


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
        s = s.replace(START, "").replace(END, "").replace("\r\n", "\n").strip()
        s = re.sub(r"[ \t]{2,}", " ", s)
        if len(s) >= min_chars:
            out.append(s)
    return out


def as_training_text(texts: Iterable[str]) -> str:
    """Each tweet wrapped in start/end tokens, one after another."""
    return wrap_documents(texts)
