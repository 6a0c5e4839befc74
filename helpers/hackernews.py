"""Hacker News "Who is hiring?" postings: fetch, clean, index in and scan from Elasticsearch.

The seed blog post read postings from an Elasticsearch index with the official
client's ``helpers.scan``. This module does the whole path with the official
client (``elasticsearch.helpers.streaming_bulk``, the engine of ``helpers.bulk``, to
index; ``helpers.scan`` to stream back):

>>> posts = load_dump("raw.json")                      # doctest: +SKIP
>>> es = connect()                                     # ES_URL, ES_API_KEY / ES_USER+ES_PASSWORD
>>> index_postings(es, posts)                          # doctest: +SKIP
>>> for p in scan_postings(es, query="python remote"): ...   # doctest: +SKIP

No server? :func:`connect` raises :class:`SearchUnavailable` with the one command
that starts one (``make es-up``), and the notebook carries on from the JSON dump.

What a busy or hostile server does is handled, not passed on: bulk requests and items
the cluster rejects with 429 are retried with backoff (ids make a retry idempotent),
and what stays rejected is reported; an index another process created a moment before
counts as there; an expired scroll is reported as such (:class:`ScrollLost`); item ids
from the HN API must be integers before they name a cache file (:class:`HNDataError`);
and no message shows a password or token that came inside ``ES_URL`` or ``HN_API_URL``.
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
from .datasets import redact_url
from .documents import wrap as wrap_documents
from .errors import TextgenError
from .limits import MAX_JSON_BYTES, read_json, shown
from .net import http_get
from .textio import atomic_write_json, text_files

__all__ = ["Posting", "SearchUnavailable", "BulkRejected", "ScrollLost", "IndexNotFound",
           "HNUnavailable", "HNDataError", "clean_html", "load_dump", "as_training_text",
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


class BulkRejected(SearchUnavailable):
    """The cluster kept rejecting whole bulk requests (429, 5xx) after every retry."""


class ScrollLost(SearchUnavailable):
    """A scan's scroll context expired or was dropped by the cluster mid-scan."""


class IndexNotFound(TextgenError, LookupError):
    """The index to scan does not exist."""


class HNUnavailable(TextgenError, ConnectionError):
    """The HN API did not answer (after retries)."""


class HNDataError(TextgenError, ValueError):
    """The HN API (or a thread id passed in) gave something that is not an HN item."""


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
    except (TypeError, ValueError, OverflowError):  # OverflowError: an id of 1e999
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
        # a folder is walked as a corpus folder is: unreadable parts are errors, not skipped
        files += text_files(p, suffixes=(".json",)) if p.is_dir() else [p]
    stats = stats if stats is not None else {}
    stats.update({"files": len(files), "items": 0, "skipped": 0, "duplicates": 0})
    seen: set[int] = set()
    out: list[Posting] = []
    for f in files:
        # a regular file within the JSON budget: /dev/zero or a FIFO is refused, not read
        data = read_json(f, MAX_JSON_BYTES)
        if isinstance(data, dict) and isinstance(data.get("jobs"), list):
            sources = data.get("sources")
            thread = str(sources.get("who_is_hiring_thread_id", "")
                         if isinstance(sources, dict) else "")
            items = data["jobs"]
        elif isinstance(data, list):
            thread, items = "", data
        else:
            raise HNDataError(f"{shown(f)}: expected a list of HN items or a dump with a "
                              "'jobs' list")
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
def _get_bytes(url: str, retries: int = 3, backoff: float = 0.5) -> bytes:
    # an item or a thread's list of ids is kilobytes; a server that sends more is wrong
    data, _ = http_get(url, "textgen-workshop/0.1", timeout=20.0, retries=retries,
                       backoff=backoff, max_bytes=MAX_JSON_BYTES)
    return data


def _is_item_id(value) -> bool:
    """HN item ids are non-negative integers; ``bool`` is an ``int`` subclass, so the
    exact type is checked (``True`` must not become item 1)."""
    return type(value) is int and value >= 0


def _thread_id(thread_id) -> int:
    """The ``thread_id`` argument as an item id: an int or a string of digits."""
    if isinstance(thread_id, str) and re.fullmatch(r"[0-9]{1,20}", thread_id.strip()):
        thread_id = int(thread_id)
    if not _is_item_id(thread_id):
        raise HNDataError(f"thread_id must be an HN item number such as 46466074, not "
                          f"{_short(thread_id)}.")
    return thread_id


def _short(value) -> str:
    """``repr(value)`` cut to one short line: it may come from a hostile server."""
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def fetch_thread(thread_id: int, base_url: str | None = None,
                 cache_dir: str | os.PathLike | None = None, workers: int = 8,
                 retries: int = 3, backoff: float = 0.5) -> list[Posting]:
    """Top-level comments of a "Who is hiring?" thread from HN's public API
    (``$HN_API_URL`` or https://hacker-news.firebaseio.com/v0), each item cached.
    Transient failures are retried ``retries`` times with exponential backoff
    (then :class:`HNUnavailable`).

    Every item id the API answers is checked before it names a cache file or a URL: an
    id that is not a non-negative integer (``"../../x"``, ``-1``, ``true``, ``1.5``)
    raises :class:`HNDataError` and nothing of that thread is fetched or cached. A
    server that answers such ids is not the HN API (or not one to trust), so refusing
    says so at once where skipping would hand back a silently partial thread."""
    base = (base_url or os.environ.get("HN_API_URL") or HN_API).rstrip("/")
    where = redact_url(base)  # HN_API_URL may carry credentials: never in a message
    if where != base:  # redaction changed it: the URL holds credentials
        # urllib does not send user:password@ as a login: it would look the whole
        # "user:password@host" up as a host name, handing the secret to the DNS resolver
        raise HNDataError(f"HN_API_URL {where} carries credentials, which fetch_thread "
                          "cannot send (the HN API needs none): remove them.")
    cache = Path(cache_dir or paths.data_dir() / "hn_items")
    thread_id = _thread_id(thread_id)

    def refuse(what: str, value) -> HNDataError:
        return HNDataError(f"The HN API at {where} answered {what} that is not an item id "
                           f"(a non-negative integer): {_short(value)}. Check HN_API_URL, "
                           "or load a JSON dump with load_dump().")

    def check_thread(data) -> None:
        # before the thread is cached: a poisoned cache entry would outlive the bad URL
        kids = data.get("kids", [])
        if not isinstance(kids, list):
            raise refuse(f"a 'kids' field for item {thread_id}", kids)
        for kid in kids:
            if not _is_item_id(kid):
                raise refuse(f"a kid of item {thread_id}", kid)

    def item(i: int, check=None):
        if not _is_item_id(i):  # ids reach here checked; a path must never get anything else
            raise refuse("an id", i)
        p = cache / f"{i}.json"
        if p.exists():
            try:
                data = json.loads(p.read_text())
                if data is not None and not isinstance(data, dict):
                    raise HNDataError("not an item")
                if check is not None and data:
                    check(data)
                return data
            except ValueError:  # JSONDecodeError and HNDataError are ValueErrors
                pass  # corrupt (or older, unchecked) cache entry: fetch again
        # ``from None`` below: the errors urllib raises may quote the URL, and with it
        # credentials that came inside HN_API_URL; the message says what happened
        try:
            raw = _get_bytes(f"{base}/item/{i}.json", retries=retries, backoff=backoff)
        except urllib.error.URLError as e:
            raise HNUnavailable(f"Could not fetch HN item {i} from {where}: "
                                f"{getattr(e, 'reason', e)}. Set HN_API_URL or load a JSON "
                                "dump with load_dump().") from None
        except ValueError:  # http.client.InvalidURL: a port that is not a number...
            raise HNDataError(f"HN_API_URL {where} is not a valid http(s) URL.") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except ValueError:  # not JSON (UnicodeDecodeError is a ValueError too)
            raise HNDataError(f"The HN API at {where} answered item {i} with something that "
                              "is not JSON. Check HN_API_URL, or load a JSON dump with "
                              "load_dump().") from None
        if data is not None and not isinstance(data, dict):
            raise HNDataError(f"The HN API at {where} answered item {i} with "
                              f"{type(data).__name__}, not an item. Check HN_API_URL, or "
                              "load a JSON dump with load_dump().")
        if data is not None:
            if check is not None:
                check(data)
            atomic_write_json(p, data)
        return data

    thread = item(thread_id, check_thread)
    if not thread:
        raise HNDataError(f"HN item {thread_id} does not exist at {where}.")
    kids = thread.get("kids", [])
    with ThreadPoolExecutor(workers) as ex:
        items = list(ex.map(item, kids))
    posts = [_to_posting(it, str(thread_id)) for it in items]
    return [p for p in posts if p is not None]


# --- Elasticsearch -----------------------------------------------------------------
# Statuses a bulk request or item is retried on: the cluster says "later", not "never"
# (429 es_rejected_execution_exception when its write queue is full, 5xx from a node or
# proxy in trouble). Retrying is safe because every document has its HN id as _id.
RETRY_ON_STATUS = (429, 502, 503, 504)


def _error_types(e) -> set[str]:
    """Every error type an Elasticsearch ``ApiError`` names: the top-level type and its
    root causes and caused_by chain (real ES wraps an expired scroll's
    ``search_context_missing_exception`` in a ``search_phase_execution_exception``)."""
    types = {str(getattr(e, "error", ""))}
    body = getattr(e, "body", None)
    err = body.get("error") if isinstance(body, dict) else None
    while isinstance(err, dict):
        types.add(str(err.get("type", "")))
        types.update(str(c.get("type", "")) for c in err.get("root_cause", [])
                     if isinstance(c, dict))
        err = err.get("caused_by")
    types.discard("")
    return types


def connect(url: str | None = None, api_key: str | None = None, user: str | None = None,
            password: str | None = None, timeout: float = 10.0, check: bool = True):
    """An ``Elasticsearch`` client from arguments or the environment:
    ``ES_URL`` (default http://localhost:9200; ``http://user:password@host:9200`` works
    too), ``ES_API_KEY`` or ``ES_USER`` and ``ES_PASSWORD``. With ``check``, ping it and
    raise :class:`SearchUnavailable` with instructions when nothing answers or the
    credentials are refused. Messages show the URL with its password as ``***``."""
    from elasticsearch import (
        ApiError,
        AuthenticationException,
        Elasticsearch,
        TransportError,
        UnsupportedProductError,
    )

    url = url or os.environ.get("ES_URL", "http://localhost:9200")
    where = redact_url(url)
    api_key = api_key or os.environ.get("ES_API_KEY") or None
    user = user or os.environ.get("ES_USER") or None
    password = password or os.environ.get("ES_PASSWORD") or None
    kwargs: dict = {"request_timeout": timeout, "retry_on_timeout": False, "max_retries": 0}
    if api_key:
        kwargs["api_key"] = api_key
    elif user:
        kwargs["basic_auth"] = (user, password or "")
    # credentials inside the URL go to the client as they are: it turns them into a
    # basic-auth header and keeps them out of its own repr and logs
    try:
        es = Elasticsearch(url, **kwargs)
    except ValueError:  # its message quotes the whole URL, password included
        raise SearchUnavailable(f"ES_URL {where} is not a valid Elasticsearch URL: it needs "
                                "a scheme, host and port, as in http://localhost:9200.") from None
    if check:
        try:
            es.info()
        except AuthenticationException as e:
            raise SearchUnavailable(
                f"Elasticsearch at {where} refused the credentials (HTTP 401). Set "
                "ES_API_KEY, or ES_USER and ES_PASSWORD (or user:password in ES_URL), to "
                "valid values.") from e
        except UnsupportedProductError as e:
            raise SearchUnavailable(
                f"The server at {where} is not Elasticsearch. Point ES_URL at an "
                "Elasticsearch server, or start one with `make es-up`.") from e
        except ApiError as e:
            raise SearchUnavailable(
                f"Elasticsearch at {where} answered HTTP {e.status_code} "
                f"({', '.join(sorted(_error_types(e))) or 'no reason given'}) to a ping. "
                "Check its logs, or that ES_URL points at it.") from e
        except TransportError as e:  # refused, reset, timed out, TLS failure
            raise SearchUnavailable(
                f"No Elasticsearch answers at {where}. Start one with `make es-up` (Docker, "
                "see compose.yaml), or point ES_URL at yours. The notebook can continue from "
                "the JSON dump instead.") from e
    return es


def ensure_index(es, index: str = DEFAULT_INDEX) -> bool:
    """Create ``index`` with :data:`MAPPING` unless it exists; True if created.

    Exists-then-create is a race when several first runs start together: another may
    create the index between the two calls, and ES then answers 400
    ``resource_already_exists_exception``, which here means what was wanted."""
    from elasticsearch import BadRequestError

    if es.indices.exists(index=index):
        return False
    try:
        es.indices.create(index=index, mappings=MAPPING)
    except BadRequestError as e:
        if "resource_already_exists_exception" in _error_types(e):
            return False
        raise
    return True


def _reason(item: dict) -> str:
    """One line of a failed bulk item: ``429 es_rejected_execution_exception: ...``."""
    (_, info), = item.items()
    err = info.get("error")
    if isinstance(err, dict):
        err = f"{err.get('type', 'error')}: {err.get('reason', '')}"
    return f"{info.get('status', '?')} {err} (id {info.get('_id', '?')})"


def index_postings(es, postings: Iterable[Posting | dict], index: str = DEFAULT_INDEX,
                   refresh: bool = True, chunk_size: int = 500, max_retries: int = 5,
                   initial_backoff: float = 0.5, max_backoff: float = 30.0) -> dict:
    """Bulk-index postings with ``elasticsearch.helpers.streaming_bulk``. The HN id is
    the document id, so indexing again updates instead of duplicating.

    What the cluster rejects for now (429 and 502/503/504, of single items or of a whole
    request) is sent again up to ``max_retries`` times, waiting ``initial_backoff``
    seconds and doubling up to ``max_backoff``; only the rejected items are resent, so
    each posting is written once. Returns ``{"indexed", "skipped" (malformed postings),
    "errors" (items finally rejected), "first_error" (status, type and reason of the
    first of them, or None), "error_examples" (up to 3 raw items)}``. A whole request
    still rejected after the retries raises :class:`BulkRejected`."""
    from elasticsearch import ApiError, TransportError, helpers

    ensure_index(es, index)
    stats = {"indexed": 0, "skipped": 0, "errors": 0, "first_error": None,
             "error_examples": []}

    def actions():
        for p in postings:
            post = p if isinstance(p, Posting) else _to_posting(p)
            if post is None:
                stats["skipped"] += 1
                continue
            yield {"_op_type": "index", "_index": index, "_id": str(post.id),
                   "_source": post.to_doc()}

    # streaming_bulk (what helpers.bulk wraps) retries both item-level and whole-request
    # rejections: it resends only the rejected items of a chunk, and the whole chunk when
    # the request itself raised a status in retry_on_status. Used directly so that the
    # count of what was indexed survives a request that fails for good.
    results = helpers.streaming_bulk(
        es, actions(), chunk_size=chunk_size, raise_on_error=False, max_retries=max_retries,
        initial_backoff=initial_backoff, max_backoff=max_backoff,
        retry_on_status=RETRY_ON_STATUS)
    try:
        for ok, item in results:
            if ok:
                stats["indexed"] += 1
                continue
            stats["errors"] += 1
            if stats["first_error"] is None:
                stats["first_error"] = _reason(item)
            if len(stats["error_examples"]) < 3:
                stats["error_examples"].append(item)
    except ApiError as e:
        retried = e.status_code in RETRY_ON_STATUS
        raise BulkRejected(
            f"Elasticsearch rejected a bulk request to {index!r} with HTTP {e.status_code} "
            f"({', '.join(sorted(_error_types(e))) or 'no reason given'}) "
            f"{f'{max_retries + 1} times' if retried else '(not a status worth retrying)'}; "
            f"{stats['indexed']} postings were indexed before. "
            + ("Rerun index_postings later (it does not duplicate), or pass a larger "
               "max_retries or max_backoff." if retried else
               "Check the server's log and the index settings.")) from e
    except TransportError as e:
        raise SearchUnavailable(
            f"Lost Elasticsearch while indexing into {index!r} ({type(e).__name__}) after "
            f"{stats['indexed']} postings. Check the server, then rerun index_postings "
            "(it does not duplicate).") from e
    if refresh:
        es.indices.refresh(index=index)
    return stats


def scan_postings(es, index: str = DEFAULT_INDEX, query: str | dict | None = None,
                  size: int = 500, scroll: str = "2m") -> Iterator[dict]:
    """Stream documents with ``elasticsearch.helpers.scan`` (scroll API): nothing is
    loaded all at once. ``query``: None (match_all, as in the seed), a string
    (matched against the text, all words required), or an Elasticsearch query dict.
    ``scroll``: how long the cluster keeps the scan's context between two pages; a
    context that expires (or is dropped) mid-scan raises :class:`ScrollLost`, a missing
    index :class:`IndexNotFound`."""
    from elasticsearch import NotFoundError, helpers

    if query is None:
        q = {"query": {"match_all": {}}}
    elif isinstance(query, str):
        q = {"query": {"match": {"text": {"query": query, "operator": "and"}}}}
    else:
        q = query if "query" in query else {"query": query}
    seen = 0
    try:
        for hit in helpers.scan(es, query=q, index=index, size=size, scroll=scroll):
            doc = dict(hit["_source"])
            doc["id"] = int(hit["_id"]) if str(hit["_id"]).isdigit() else hit["_id"]
            seen += 1
            yield doc
    except NotFoundError as e:
        # a 404 after the first page answered can only be the scroll request: its
        # context is gone (expired keep-alive, restarted node), whatever the type says
        if seen or "search_context_missing_exception" in _error_types(e):
            raise ScrollLost(
                f"The scan of {index!r} lost its scroll context after {seen} documents "
                "(expired or dropped by Elasticsearch). Rerun the scan, or keep the context "
                "longer with scan_postings(..., scroll='10m').") from e
        raise IndexNotFound(f"Index {index!r} does not exist; index postings first "
                            "(index_postings).") from e
