"""Hacker News "Who is hiring?" postings: fetch, clean, index in and scan from Elasticsearch.

The seed blog post read postings from an Elasticsearch index with the official
client's ``helpers.scan``. This module does the whole path with the official
client (``elasticsearch.helpers.bulk`` to index, ``helpers.scan`` to stream back):

>>> posts = load_dump("raw.json")                      # doctest: +SKIP
>>> es = connect()                                     # ES_URL, ES_API_KEY / ES_USER+ES_PASSWORD
>>> index_postings(es, posts)                          # doctest: +SKIP
>>> for p in scan_postings(es, query="python remote"): ...   # doctest: +SKIP

No server? :func:`connect` raises :class:`SearchUnavailable` with the one command
that starts one (``make es-up``), and the notebook carries on from the JSON dump.
"""

from __future__ import annotations

import html
import json
import os
import re
import urllib.error
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path

from . import paths
from .errors import TextgenError
from .net import http_get
from .textio import atomic_write_json
from .vocab import wrap_documents

__all__ = ["Posting", "SearchUnavailable", "clean_html", "load_dump", "as_training_text",
           "fetch_thread", "connect", "ensure_index", "index_postings", "scan_postings",
           "MAPPING", "DEFAULT_INDEX"]

DEFAULT_INDEX = "hn_jobs"
HN_API = "https://hacker-news.firebaseio.com/v0"

MAPPING = {
    "properties": {
        "text": {"type": "text"},
        "html": {"type": "text", "index": False},
        "author": {"type": "keyword"},
        "time": {"type": "date", "format": "epoch_second"},
        "thread": {"type": "keyword"},
        "source": {"type": "keyword"},
    }
}


class SearchUnavailable(TextgenError, RuntimeError):
    """No Elasticsearch answers at the configured URL (or it refused our credentials)."""


@dataclass
class Posting:
    id: int
    author: str
    time: int
    html: str
    thread: str = ""
    source: str = "who_is_hiring"

    @property
    def text(self) -> str:
        return clean_html(self.html)

    def to_doc(self) -> dict:
        d = asdict(self)
        d.pop("id")
        d["text"] = self.text
        return d


class _HNText(HTMLParser):
    """HN comment HTML -> plain text: paragraphs, links as URLs, code blocks kept."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.href: str | None = None
        self.link_text: list[str] = []
        self.in_pre = False

    def handle_starttag(self, tag, attrs):
        if tag == "p":
            self.out.append("\n\n")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "pre":
            self.in_pre = True
            self.out.append("\n\n")
        elif tag == "a":
            self.href = dict(attrs).get("href") or ""
            self.link_text = []

    def handle_endtag(self, tag):
        if tag == "a" and self.href is not None:
            text = "".join(self.link_text)
            # HN shortens long link texts with "..."; the href is the whole URL
            self.out.append(self.href if (text.endswith("...") or not text) else text)
            self.href = None
        elif tag == "pre":
            self.in_pre = False
            self.out.append("\n\n")

    def handle_data(self, data):
        if self.href is not None:
            self.link_text.append(data)
        else:
            self.out.append(data)


def clean_html(text: str) -> str:
    """Plain text of HN comment HTML (entities decoded, ``<p>`` as blank lines)."""
    if not text:
        return ""
    p = _HNText()
    p.feed(text)
    p.close()
    out = "".join(p.out)
    out = html.unescape(out).replace("\r", "")
    out = re.sub(r"[ \t]+\n", "\n", out)
    out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip()


def _to_posting(item: dict, thread: str = "") -> Posting | None:
    """An HN item (API or dump) as a Posting, or None when it is not a usable posting."""
    if not isinstance(item, dict):
        return None
    if item.get("deleted") or item.get("dead") or not item.get("text") or "id" not in item:
        return None
    try:
        return Posting(int(item["id"]), str(item.get("by", "")), int(item.get("time", 0)),
                       str(item["text"]), str(thread or item.get("parent", "")),
                       str(item.get("source", "who_is_hiring")))
    except (TypeError, ValueError):
        return None


def load_dump(paths: str | os.PathLike | Iterable[str | os.PathLike],
              stats: dict | None = None) -> list[Posting]:
    """Postings from JSON dumps: the hn-jobs-data ``raw.json`` format
    (``{"sources": ..., "jobs": [...]}``) or a plain list of HN items. A folder is
    searched for ``*.json``. Unusable items are skipped and counted in ``stats``."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(p.rglob("*.json")) if p.is_dir() else [p]
    stats = stats if stats is not None else {}
    stats.update({"files": len(files), "items": 0, "skipped": 0, "duplicates": 0})
    seen: set[int] = set()
    out: list[Posting] = []
    for f in files:
        data = json.loads(Path(f).read_text(encoding="utf-8"))
        if isinstance(data, dict) and "jobs" in data:
            thread = str(data.get("sources", {}).get("who_is_hiring_thread_id", ""))
            items = data["jobs"]
        elif isinstance(data, list):
            thread, items = "", data
        else:
            raise ValueError(f"{f}: expected a list of HN items or a dump with a 'jobs' list")
        for item in items:
            stats["items"] += 1
            direct = isinstance(item, dict) and item.get("source") == "direct"
            post = _to_posting(item, "" if direct else thread)
            if post is None:
                stats["skipped"] += 1
            elif post.id in seen:
                stats["duplicates"] += 1
            else:
                seen.add(post.id)
                out.append(post)
    return out


def as_training_text(postings: Iterable[Posting | str]) -> str:
    """Each posting's clean text wrapped in start/end tokens, so the model learns
    where a posting begins and ends."""
    return wrap_documents(p.text if isinstance(p, Posting) else clean_html(p) for p in postings)


# --- HN API ------------------------------------------------------------------------
def _get_json(url: str, retries: int = 3, backoff: float = 0.5):
    data, _ = http_get(url, "textgen-workshop/0.1", timeout=20.0, retries=retries,
                       backoff=backoff)
    return json.loads(data.decode("utf-8"))


def fetch_thread(thread_id: int, base_url: str | None = None,
                 cache_dir: str | os.PathLike | None = None, workers: int = 8,
                 retries: int = 3, backoff: float = 0.5) -> list[Posting]:
    """Top-level comments of a "Who is hiring?" thread from HN's public API
    (``$HN_API_URL`` or https://hacker-news.firebaseio.com/v0), each item cached.
    Transient failures are retried ``retries`` times with exponential backoff."""
    base = (base_url or os.environ.get("HN_API_URL") or HN_API).rstrip("/")
    cache = Path(cache_dir or paths.data_dir() / "hn_items")

    def item(i: int):
        p = cache / f"{i}.json"
        if p.exists():
            try:
                return json.loads(p.read_text())
            except json.JSONDecodeError:
                pass  # corrupt cache entry: fetch again
        try:
            data = _get_json(f"{base}/item/{i}.json", retries=retries, backoff=backoff)
        except urllib.error.URLError as e:
            raise ConnectionError(f"Could not fetch HN item {i} from {base}: {e}. Set "
                                  "HN_API_URL or load a JSON dump with load_dump().") from e
        if data is not None:
            atomic_write_json(p, data)
        return data

    thread = item(int(thread_id))
    if not thread:
        raise ValueError(f"HN item {thread_id} does not exist.")
    kids = thread.get("kids", [])
    with ThreadPoolExecutor(workers) as ex:
        items = list(ex.map(item, kids))
    posts = [_to_posting(it, str(thread_id)) for it in items]
    return [p for p in posts if p is not None]


# --- Elasticsearch -----------------------------------------------------------------
def connect(url: str | None = None, api_key: str | None = None, user: str | None = None,
            password: str | None = None, timeout: float = 10.0, check: bool = True):
    """An ``Elasticsearch`` client from arguments or the environment:
    ``ES_URL`` (default http://localhost:9200), ``ES_API_KEY`` or ``ES_USER`` and
    ``ES_PASSWORD``. With ``check``, ping it and raise :class:`SearchUnavailable`
    with instructions when nothing answers or the credentials are refused."""
    from elasticsearch import AuthenticationException, Elasticsearch
    from elasticsearch import ConnectionError as ESConnectionError

    url = url or os.environ.get("ES_URL", "http://localhost:9200")
    api_key = api_key or os.environ.get("ES_API_KEY") or None
    user = user or os.environ.get("ES_USER") or None
    password = password or os.environ.get("ES_PASSWORD") or None
    kwargs: dict = {"request_timeout": timeout, "retry_on_timeout": False, "max_retries": 0}
    if api_key:
        kwargs["api_key"] = api_key
    elif user:
        kwargs["basic_auth"] = (user, password or "")
    es = Elasticsearch(url, **kwargs)
    if check:
        try:
            es.info()
        except AuthenticationException as e:
            raise SearchUnavailable(
                f"Elasticsearch at {url} refused the credentials (HTTP 401). Set ES_API_KEY, "
                "or ES_USER and ES_PASSWORD, to valid values.") from e
        except ESConnectionError as e:
            raise SearchUnavailable(
                f"No Elasticsearch answers at {url}. Start one with `make es-up` (Docker, "
                "see compose.yaml), or point ES_URL at yours. The notebook can continue from "
                "the JSON dump instead.") from e
    return es


def ensure_index(es, index: str = DEFAULT_INDEX) -> bool:
    """Create ``index`` with :data:`MAPPING` unless it exists; True if created."""
    if es.indices.exists(index=index):
        return False
    es.indices.create(index=index, mappings=MAPPING)
    return True


def index_postings(es, postings: Iterable[Posting | dict], index: str = DEFAULT_INDEX,
                   refresh: bool = True, chunk_size: int = 500) -> dict:
    """Bulk-index postings with ``elasticsearch.helpers.bulk``. The HN id is the
    document id, so indexing again updates instead of duplicating. Malformed
    items are skipped and counted; server-side rejections are counted too."""
    from elasticsearch import helpers

    ensure_index(es, index)
    stats = {"indexed": 0, "skipped": 0, "errors": 0, "error_examples": []}

    def actions():
        for p in postings:
            post = p if isinstance(p, Posting) else _to_posting(p)
            if post is None:
                stats["skipped"] += 1
                continue
            yield {"_op_type": "index", "_index": index, "_id": str(post.id),
                   "_source": post.to_doc()}

    ok, errors = helpers.bulk(es, actions(), chunk_size=chunk_size, raise_on_error=False,
                              stats_only=False)
    stats["indexed"] = ok
    stats["errors"] = len(errors)
    stats["error_examples"] = errors[:3]
    if refresh:
        es.indices.refresh(index=index)
    return stats


def scan_postings(es, index: str = DEFAULT_INDEX, query: str | dict | None = None,
                  size: int = 500) -> Iterator[dict]:
    """Stream documents with ``elasticsearch.helpers.scan`` (scroll API): nothing is
    loaded all at once. ``query``: None (match_all, as in the seed), a string
    (matched against the text, all words required), or an Elasticsearch query dict."""
    from elasticsearch import NotFoundError, helpers

    if query is None:
        q = {"query": {"match_all": {}}}
    elif isinstance(query, str):
        q = {"query": {"match": {"text": {"query": query, "operator": "and"}}}}
    else:
        q = query if "query" in query else {"query": query}
    try:
        for hit in helpers.scan(es, query=q, index=index, size=size, scroll="2m"):
            doc = dict(hit["_source"])
            doc["id"] = int(hit["_id"]) if str(hit["_id"]).isdigit() else hit["_id"]
            yield doc
    except NotFoundError as e:
        raise LookupError(f"Index {index!r} does not exist; index postings first "
                          "(index_postings).") from e
