"""HN postings: loading, cleaning, the HN API over loopback, and Elasticsearch through
the real client against a wire-protocol stand-in (and a real server when ES_URL is set)."""

import json
import os

import pytest

from helpers.hackernews import (
    Posting,
    SearchUnavailable,
    as_training_text,
    clean_html,
    connect,
    fetch_thread,
    index_postings,
    load_dump,
    scan_postings,
)

from .conftest import FIXTURES
from .es_standin import es_standin
from .httpserve import refusing_url, serve_folder


@pytest.fixture(scope="module")
def postings(fetch_data):
    stats = {}
    posts = load_dump(fetch_data("hn-jobs-2026"), stats)
    return posts, stats


def test_small_dump_fixture():
    stats = {}
    posts = load_dump(FIXTURES / "hn_jobs.json", stats)
    assert [p.id for p in posts] == [9000001, 9000002, 9000003]
    assert stats == {"files": 1, "items": 5, "skipped": 1, "duplicates": 1}
    assert [p.thread for p in posts] == ["46466074", "46466074", ""]  # direct: no thread
    assert posts[0].text == ('Acme Widgets | Backend engineer | Remote (EU) | Full-time\n\n'
                             'We build widgets with Python & Rust. "Boring" tech, happy people.'
                             '\n\nApply: https://acme.example/jobs/backend-engineer-2026')
    assert "  select * from fun;" in posts[1].text


def test_load_dump_counts(postings):
    posts, stats = postings
    assert len(posts) == 1711 and stats["files"] == 5 and stats["skipped"] == 0
    assert sum(p.source == "direct" for p in posts) == 59
    jan = [p for p in posts if p.thread == "46466074"]
    assert len(jan) == 264
    assert jan[0].author == "PoslavskySV" and jan[0].text.startswith("MiLaboratories | Bilbao")


def test_clean_html():
    raw = ('Acme | Remote<p>We use Python &amp; Go &#x2F; Rust. &quot;Fun&quot;'
           '<p>Apply: <a href="https:&#x2F;&#x2F;acme.example&#x2F;jobs&#x2F;very-long-path" '
           'rel="nofollow">https:&#x2F;&#x2F;acme.example&#x2F;jobs&#x2F;very-lo...</a>'
           '<pre><code>  def f():\n    return 1\n</code></pre>Bye <a href="x">mail us</a>')
    out = clean_html(raw)
    assert out.startswith('Acme | Remote\n\nWe use Python & Go / Rust. "Fun"\n\n')
    assert "https://acme.example/jobs/very-long-path" in out  # shortened link restored
    assert "  def f():\n    return 1" in out  # code block kept verbatim
    assert out.endswith("Bye mail us") and "<" not in out


def test_every_fixture_posting_cleans(postings):
    posts, _ = postings
    texts = [p.text for p in posts]
    assert all(t and "<p>" not in t and "&#x2F;" not in t and "&quot;" not in t for t in texts)
    training = as_training_text(posts)
    assert training.count("\x02") == training.count("\x03") == 1711


def test_malformed_items_skipped_and_counted(tmp_path):
    items = [{"id": 1, "by": "a", "time": 5, "text": "ok"}, {"id": 2, "deleted": True},
             {"by": "no id", "text": "x"}, {"id": 3, "time": "x", "text": "bad time"},
             "not a dict", {"id": 1, "by": "a", "time": 5, "text": "dup"}]
    p = tmp_path / "items.json"
    p.write_text(json.dumps(items))
    stats = {}
    posts = load_dump(p, stats)
    assert [x.id for x in posts] == [1]
    assert stats == {"files": 1, "items": 6, "skipped": 4, "duplicates": 1}


def test_fetch_thread_from_api_mirror(tmp_path, postings):
    posts, _ = postings
    jan = [p for p in posts if p.thread == "46466074"][:20]
    api = tmp_path / "api" / "item"
    api.mkdir(parents=True)
    (api / "46466074.json").write_text(json.dumps({"id": 46466074, "kids": [p.id for p in jan] + [1]}))
    for p in jan:
        (api / f"{p.id}.json").write_text(json.dumps(
            {"id": p.id, "by": p.author, "time": p.time, "text": p.html, "parent": 46466074}))
    (api / "1.json").write_text(json.dumps({"id": 1, "deleted": True}))
    with serve_folder(tmp_path / "api") as (url, requests):
        got = fetch_thread(46466074, base_url=url, cache_dir=tmp_path / "cache")
        assert [p.id for p in got] == [p.id for p in jan]
        assert got[3].text == jan[3].text
        n = len(requests)
        fetch_thread(46466074, base_url=url, cache_dir=tmp_path / "cache")
        assert len(requests) == n  # all cached


def test_fetch_thread_retries_server_errors(tmp_path, postings):
    posts, _ = postings
    few = posts[:5]
    api = tmp_path / "api" / "item"
    api.mkdir(parents=True)
    (api / "7.json").write_text(json.dumps({"id": 7, "kids": [p.id for p in few]}))
    for p in few:
        (api / f"{p.id}.json").write_text(json.dumps(
            {"id": p.id, "by": p.author, "time": p.time, "text": p.html, "parent": 7}))
    with serve_folder(tmp_path / "api") as (url, requests):
        got = fetch_thread(7, base_url=url + "/flaky", cache_dir=tmp_path / "c", backoff=0.01)
        assert [p.id for p in got] == [p.id for p in few]
        assert len(requests) == 3 * 6  # two 503s and a success for each of the 6 items
        with pytest.raises(ConnectionError, match="HN_API_URL"):
            fetch_thread(8, base_url=url + "/flaky", cache_dir=tmp_path / "c", retries=1,
                         backoff=0.01)


def _flow(es, posts, index):
    """Index, re-index (idempotent), scan all and a query; returns what was seen."""
    st1 = index_postings(es, posts, index=index)
    st2 = index_postings(es, posts, index=index)
    assert st1["indexed"] == st2["indexed"] == len(posts)
    assert es.count(index=index)["count"] == len(posts)  # no duplicates
    docs = list(scan_postings(es, index=index, size=50))
    hits = list(scan_postings(es, index=index, query="python remote"))
    return docs, hits


def test_elasticsearch_flow_against_standin(postings):
    posts, _ = postings
    posts = posts[:300]
    with es_standin() as (url, state):
        es = connect(url)
        docs, hits = _flow(es, posts, "hn_test")
        assert sorted(d["id"] for d in docs) == sorted(p.id for p in posts)
        want = {p.id for p in posts if {"python", "remote"} <= set(
            __import__("re").findall(r"\w+", p.text.lower()))}
        assert {d["id"] for d in hits} == want and want
        methods = [(m, path) for m, path, _ in state.requests]
        assert ("PUT", "/hn_test") in methods  # explicit mapping
        assert state.indices["hn_test"]["mappings"]["properties"]["time"]["type"] == "date"
        assert any(p.endswith("_bulk") for _, p in methods)
        scrolls = [p for _, p in methods if p == "/_search/scroll"]
        assert len(scrolls) >= 300 // 50  # streamed page by page
        assert ("DELETE", "/_search/scroll") in methods  # scroll cleared
        assert not state.scrolls


def test_server_rejections_counted_nothing_lost_silently(postings):
    posts, _ = postings
    good = posts[:5]
    bad = [{"id": 99, "by": "x", "time": 3, "text": "fine"}, {"id": 100, "text": None}]
    with es_standin() as (url, state):
        es = connect(url)
        # a document the server rejects (time as a string for a date field)
        p = Posting(7, "x", 0, "text")
        doc = p.to_doc()
        doc["time"] = "yesterday"
        from elasticsearch import helpers

        from helpers.hackernews import ensure_index

        ensure_index(es, "hn")
        ok, errs = helpers.bulk(es, [{"_index": "hn", "_id": "7", "_source": doc}],
                                raise_on_error=False)
        assert ok == 0 and len(errs) == 1
        st = index_postings(es, good + bad, index="hn")
        assert st["indexed"] == 6 and st["skipped"] == 1 and st["errors"] == 0


def test_missing_index_is_clear():
    with es_standin() as (url, _):
        es = connect(url)
        with pytest.raises(LookupError, match="'nope' does not exist"):
            list(scan_postings(es, index="nope"))


def test_authentication(monkeypatch):
    with es_standin(api_key="s3cret") as (url, _):
        monkeypatch.setenv("ES_API_KEY", "wrong")
        with pytest.raises(SearchUnavailable, match="refused the credentials"):
            connect(url)
        monkeypatch.setenv("ES_API_KEY", "s3cret")
        assert connect(url).info()["version"]["number"]


def test_unreachable_server_message():
    with pytest.raises(SearchUnavailable, match="make es-up"):
        connect(refusing_url(), timeout=2)


@pytest.mark.skipif(not os.environ.get("ES_URL"), reason="set ES_URL to test a real server")
def test_real_elasticsearch(postings):
    posts, _ = postings
    es = connect()
    index = "textgen_test_hn"
    es.options(ignore_status=404).indices.delete(index=index)
    try:
        docs, hits = _flow(es, posts[:200], index)
        assert len(docs) == 200 and hits
    finally:
        es.options(ignore_status=404).indices.delete(index=index)
