"""A small Elasticsearch stand-in on 127.0.0.1 that speaks the HTTP wire protocol.

It implements what ``helpers.hackernews`` uses, so that the real ``elasticsearch``
client can run against it: the product header and info endpoint, index
exists/create, ``_bulk`` (NDJSON), ``_refresh``, ``_count``, ``_search`` with
``scroll``, ``_search/scroll`` and clear-scroll, optional API-key or basic
authentication. Every request is recorded in ``requests`` as ``(method, path, body)``.

Faults a real cluster shows under load can be switched on (see :func:`es_standin`):
bulk items or whole bulk requests rejected with 429 the first time, items rejected for
good (400), scroll ids that change on every page, scroll contexts that expire mid-scan,
and index-exists checks held until several clients have asked (the exists-then-create
race of concurrent first runs).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import threading
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .httpserve import running

PRODUCT = {"X-Elastic-Product": "Elasticsearch"}


def _words(s: str) -> set[str]:
    return set(re.findall(r"\w+", s.lower()))


def _matches(query: dict, doc: dict) -> bool:
    if not query or "match_all" in query:
        return True
    if "match" in query:
        (field, spec), = query["match"].items()
        spec = spec if isinstance(spec, dict) else {"query": spec}
        want = _words(str(spec["query"]))
        have = _words(str(doc.get(field, "")))
        return want <= have if spec.get("operator", "or") == "and" else bool(want & have)
    if "term" in query:
        (field, value), = query["term"].items()
        value = value["value"] if isinstance(value, dict) else value
        return str(doc.get(field)) == str(value)
    if "bool" in query:
        return all(_matches(q, doc) for q in query["bool"].get("must", []))
    raise ValueError(f"stand-in does not implement query {query}")


def _picked(doc_id: str, fraction: float) -> bool:
    """Whether ``doc_id`` is in the ``fraction`` of ids a fault hits: a hash, so the
    same ids are hit on every run and the tests are repeatable."""
    return zlib.crc32(doc_id.encode()) % 10_000 < fraction * 10_000


class _State:
    def __init__(self, api_key: str | None, basic_auth: tuple[str, str] | None = None):
        self.api_key = api_key
        self.basic_auth = basic_auth
        self.indices: dict[str, dict] = {}
        self.scrolls: dict[str, list] = {}
        self.requests: list[tuple[str, str, object]] = []
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        # fault switches, see es_standin()
        self.reject_items_once = 0.0
        self.reject_bulk_once = 0
        self.fail_items: dict[str, str] = {}
        self.rotate_scroll_ids = False
        self.drop_scrolls_after: int | None = None
        self.exists_barrier: threading.Barrier | None = None
        # what happened: successful writes per (index, id), items/requests rejected
        self.writes: Counter = Counter()
        self.rejected_once: set[str] = set()
        self.bulk_rejected = 0
        self.scroll_pages = 0

    def authorized(self, header: str | None) -> bool:
        if self.api_key is not None:
            return header == f"ApiKey {self.api_key}"
        if self.basic_auth is not None:
            token = base64.b64encode(":".join(self.basic_auth).encode()).decode()
            return header == f"Basic {token}"
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    # --- plumbing ----------------------------------------------------------
    def _send(self, status: int, body=None, headers: dict | None = None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in {**PRODUCT, **(headers or {})}.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=9")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, etype: str, reason: str, root: str | None = None):
        # real ES wraps some errors: the top-level type is generic and the cause sits in
        # root_cause/caused_by (an expired scroll is a search_phase_execution_exception)
        cause = {"type": root or etype, "reason": reason}
        err = {"root_cause": [cause], "type": etype, "reason": reason}
        if root:
            err.update(reason="all shards failed", caused_by=cause)
        self._send(status, {"error": err, "status": status})

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return raw.decode("utf-8")

    def _handle(self):
        st: _State = self.server.state
        url = urlsplit(self.path)
        path, params = url.path, parse_qs(url.query)
        raw = self._body()
        st.requests.append((self.command, path, raw))
        if not st.authorized(self.headers.get("Authorization")):
            scheme = "ApiKey" if st.api_key is not None else 'Basic realm="security"'
            return self._send(401, {"error": {"type": "security_exception",
                                              "reason": "unable to authenticate"}, "status": 401},
                              {"WWW-Authenticate": scheme})
        body = json.loads(raw) if raw and not path.endswith("_bulk") else {}
        parts = [p for p in path.split("/") if p]
        if self.command == "HEAD" and len(parts) == 1 and st.exists_barrier is not None:
            # the answer is taken first and sent only once every client has asked: all
            # of them see "no such index" before any of them can create it
            exists = parts[0] in st.indices
            st.exists_barrier.wait(timeout=10)
            return self._send(200 if exists else 404)
        with st.lock:
            return self._route(st, parts, params, body, raw)

    def _route(self, st: _State, parts, params, body, raw):
        m = self.command
        if not parts:
            return self._send(200, {"name": "standin", "cluster_name": "textgen-test",
                                    "version": {"number": "9.1.0", "build_flavor": "default"},
                                    "tagline": "You Know, for Search"})
        if parts == ["_bulk"] or (len(parts) == 2 and parts[1] == "_bulk"):
            return self._bulk(st, raw, parts[0] if len(parts) == 2 else None)
        if parts[:2] == ["_search", "scroll"]:
            if m == "DELETE":
                ids = body.get("scroll_id", [])
                ids = [ids] if isinstance(ids, str) else ids
                n = sum(st.scrolls.pop(i, None) is not None for i in ids)
                return self._send(200, {"succeeded": True, "num_freed": n})
            sid = body.get("scroll_id")
            st.scroll_pages += 1
            if st.drop_scrolls_after is not None and st.scroll_pages > st.drop_scrolls_after:
                st.scrolls.clear()  # the keep-alive ran out (or the node restarted)
            if sid not in st.scrolls:
                return self._error(404, "search_phase_execution_exception",
                                   f"No search context found for id [{sid}]",
                                   root="search_context_missing_exception")
            if st.rotate_scroll_ids:  # ES may answer a new id: only the newest is valid
                new = f"scroll-{next(st.counter)}"
                st.scrolls[new] = st.scrolls.pop(sid)
                sid = new
            return self._page(st, sid, int(st.scrolls[sid][0]))
        index = parts[0]
        if len(parts) == 1:
            if m == "HEAD":
                return self._send(200 if index in st.indices else 404)
            if m == "PUT":
                if index in st.indices:
                    return self._error(400, "resource_already_exists_exception",
                                       f"index [{index}] already exists")
                st.indices[index] = {"mappings": body.get("mappings", {}), "docs": {}}
                return self._send(200, {"acknowledged": True, "index": index})
            if m == "DELETE":
                st.indices.pop(index, None)
                return self._send(200, {"acknowledged": True})
        if index not in st.indices:
            return self._error(404, "index_not_found_exception", f"no such index [{index}]")
        docs = st.indices[index]["docs"]
        op = parts[1] if len(parts) > 1 else ""
        if op == "_refresh":
            return self._send(200, {"_shards": {"total": 1, "successful": 1, "failed": 0}})
        if op == "_count":
            q = body.get("query", {})
            return self._send(200, {"count": sum(_matches(q, d) for d in docs.values())})
        if op == "_search":
            q = body.get("query", {})
            hits = [{"_index": index, "_id": k, "_score": 1.0, "_source": d}
                    for k, d in docs.items() if _matches(q, d)]
            size = int(params.get("size", [body.get("size", 10)])[0])
            if "scroll" in params:
                sid = f"scroll-{next(st.counter)}"
                st.scrolls[sid] = [size, hits]
                return self._page(st, sid, size, total=len(hits))
            return self._send(200, {"hits": {"total": {"value": len(hits), "relation": "eq"},
                                             "hits": hits[:size]}})
        return self._error(400, "illegal_argument_exception", f"stand-in: {m} /{'/'.join(parts)}")

    def _page(self, st: _State, sid: str, size: int, total: int | None = None):
        rest = st.scrolls[sid][1]
        page, st.scrolls[sid][1] = rest[:size], rest[size:]
        total = total if total is not None else len(page)
        return self._send(200, {"_scroll_id": sid, "timed_out": False,
                                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                                "hits": {"total": {"value": total, "relation": "eq"},
                                         "hits": page}})

    def _bulk(self, st: _State, raw: str, default_index: str | None):
        if st.reject_bulk_once > 0:  # the whole request, before any item is written
            st.reject_bulk_once -= 1
            st.bulk_rejected += 1
            return self._error(429, "es_rejected_execution_exception",
                               "rejected execution of coordinating operation")
        lines = [ln for ln in raw.split("\n") if ln.strip()]
        items, errors = [], False
        it = iter(lines)
        for action_line in it:
            (op, meta), = json.loads(action_line).items()
            src = json.loads(next(it)) if op != "delete" else None
            index = meta.get("_index", default_index)
            idx = st.indices.setdefault(index, {"mappings": {}, "docs": {}})
            doc_id = str(meta.get("_id") or next(st.counter))
            if doc_id in st.fail_items:  # rejected for good, however often it is sent
                errors = True
                items.append({op: {"_index": index, "_id": doc_id, "status": 400, "error": {
                    "type": "document_parsing_exception", "reason": st.fail_items[doc_id]}}})
                continue
            if (st.reject_items_once and doc_id not in st.rejected_once
                    and _picked(doc_id, st.reject_items_once)):
                st.rejected_once.add(doc_id)
                errors = True
                items.append({op: {"_index": index, "_id": doc_id, "status": 429, "error": {
                    "type": "es_rejected_execution_exception",
                    "reason": "rejected execution of primary operation [write queue full]"}}})
                continue
            props = idx["mappings"].get("properties", {})
            bad = [f for f, spec in props.items()
                   if spec.get("type") == "date" and src and f in src
                   and not isinstance(src[f], int)]
            if bad:
                errors = True
                items.append({op: {"_index": index, "_id": doc_id, "status": 400, "error": {
                    "type": "document_parsing_exception",
                    "reason": f"failed to parse field [{bad[0]}] of type [date]"}}})
                continue
            existed = doc_id in idx["docs"]
            idx["docs"][doc_id] = src
            st.writes[(index, doc_id)] += 1
            items.append({op: {"_index": index, "_id": doc_id, "status": 200 if existed else 201,
                               "result": "updated" if existed else "created"}})
        self._send(200, {"took": 1, "errors": errors, "items": items})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


@contextlib.contextmanager
def es_standin(api_key: str | None = None, basic_auth: tuple[str, str] | None = None, *,
               reject_items_once: float = 0.0, reject_bulk_once: int = 0,
               fail_items: dict[str, str] | None = None, rotate_scroll_ids: bool = False,
               drop_scrolls_after: int | None = None, hold_exists: int = 0):
    """Run the stand-in; yields ``(url, state)``; ``state.requests`` logs every call.

    ``api_key`` / ``basic_auth=(user, password)``: require those credentials (401 else).
    Faults: ``reject_items_once``, the fraction of document ids (picked by hash) whose
    first bulk attempt is answered 429 ``es_rejected_execution_exception``;
    ``reject_bulk_once``, how many bulk requests are answered 429 as a whole, before
    any of their items is written; ``fail_items``, ``{id: reason}`` rejected with 400
    on every attempt; ``rotate_scroll_ids``, a new scroll id on every page;
    ``drop_scrolls_after``, forget every scroll context after that many scroll pages
    (404 ``search_context_missing_exception`` as real ES answers an expired scroll);
    ``hold_exists``, hold each index-exists check until that many have arrived.
    ``state.writes`` counts successful writes per ``(index, id)``.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    st = server.state = _State(api_key, basic_auth)
    st.reject_items_once, st.reject_bulk_once = reject_items_once, reject_bulk_once
    st.fail_items = dict(fail_items or {})
    st.rotate_scroll_ids, st.drop_scrolls_after = rotate_scroll_ids, drop_scrolls_after
    st.exists_barrier = threading.Barrier(hold_exists) if hold_exists > 1 else None
    with running(server) as url:
        yield url, st
