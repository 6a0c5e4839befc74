"""A small Elasticsearch stand-in on 127.0.0.1 that speaks the HTTP wire protocol.

It implements what ``helpers.hackernews`` uses, so that the real ``elasticsearch``
client can run against it: the product header and info endpoint, index
exists/create, ``_bulk`` (NDJSON), ``_refresh``, ``_count``, ``_search`` with
``scroll``, ``_search/scroll`` and clear-scroll, optional API-key authentication.
Every request is recorded in ``requests`` as ``(method, path, body)``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
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


class _State:
    def __init__(self, api_key: str | None):
        self.api_key = api_key
        self.indices: dict[str, dict] = {}
        self.scrolls: dict[str, list] = {}
        self.requests: list[tuple[str, str, object]] = []
        self.counter = itertools.count(1)
        self.lock = threading.Lock()


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

    def _error(self, status: int, etype: str, reason: str):
        self._send(status, {"error": {"root_cause": [{"type": etype, "reason": reason}],
                                      "type": etype, "reason": reason}, "status": status})

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
        if st.api_key is not None and self.headers.get("Authorization") != f"ApiKey {st.api_key}":
            return self._send(401, {"error": {"type": "security_exception",
                                              "reason": "unable to authenticate"}, "status": 401},
                              {"WWW-Authenticate": "ApiKey"})
        body = json.loads(raw) if raw and not path.endswith("_bulk") else {}
        parts = [p for p in path.split("/") if p]
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
            if sid not in st.scrolls:
                return self._error(404, "search_context_missing_exception", "No search context")
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
        lines = [ln for ln in raw.split("\n") if ln.strip()]
        items, errors = [], False
        it = iter(lines)
        for action_line in it:
            (op, meta), = json.loads(action_line).items()
            src = json.loads(next(it)) if op != "delete" else None
            index = meta.get("_index", default_index)
            idx = st.indices.setdefault(index, {"mappings": {}, "docs": {}})
            doc_id = str(meta.get("_id") or next(st.counter))
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
            items.append({op: {"_index": index, "_id": doc_id, "status": 200 if existed else 201,
                               "result": "updated" if existed else "created"}})
        self._send(200, {"took": 1, "errors": errors, "items": items})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


@contextlib.contextmanager
def es_standin(api_key: str | None = None):
    """Run the stand-in; yields ``(url, state)``; ``state.requests`` logs every call."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.state = _State(api_key)
    with running(server) as url:
        yield url, server.state
