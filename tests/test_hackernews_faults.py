"""What a busy, racing or hostile server does to the HN/Elasticsearch path: 429s on bulk
(items and whole requests), items rejected for good, credentials inside ES_URL and
HN_API_URL, concurrent first runs on a new index, scroll contexts lost mid-scan, and
item ids from the HN API that are not integers. All on 127.0.0.1 stand-ins."""

import json
import logging
import threading
import traceback
from pathlib import Path

import pytest

from helpers.errors import TextgenError
from helpers.hackernews import (
    BulkRejected,
    HNDataError,
    HNUnavailable,
    IndexNotFound,
    Posting,
    ScrollLost,
    SearchUnavailable,
    connect,
    fetch_thread,
    index_postings,
    scan_postings,
)

from .es_standin import es_standin
from .httpserve import refusing_url, serve_folder

FAST = {"initial_backoff": 0.001, "max_backoff": 0.01}  # retries without waiting
SECRET = "pa55-S3CRET-word"


def _posts(n: int) -> list[Posting]:
    """``n`` postings with distinct HN-like ids (as many as the five 2026 threads hold)."""
    return [Posting(46_000_000 + i, f"user{i}", 1_767_225_600 + i,
                    f"Company {i} | Python engineer | Remote<p>Apply at {i}@example.com")
            for i in range(n)]


def _bulk_ids(state) -> list[str]:
    """Every document id sent in a bulk request, once per time it was sent."""
    ids = []
    for _method, path, body in state.requests:
        if path.endswith("_bulk"):
            lines = [json.loads(x) for x in body.split("\n") if x.strip()]
            ids += [meta["_id"] for line in lines[::2] for meta in line.values()]
    return ids


def _everything_said(e: BaseException, capsys, caplog) -> str:
    """All an error can show a user: message, str, repr, the formatted traceback with
    its chained causes, and what was printed or logged meanwhile."""
    out = capsys.readouterr()
    return "\n".join([*e.args, str(e), repr(e), "".join(traceback.format_exception(e)),
                      out.out, out.err, caplog.text])


# --- bulk under 429 -----------------------------------------------------------------------
def test_items_rejected_with_429_are_retried_and_indexed_once():
    posts = _posts(1711)
    with es_standin(reject_items_once=0.15) as (url, state):
        es = connect(url)
        st = index_postings(es, posts, index="hn", **FAST)
        assert len(state.rejected_once) > 150  # the fault did fire, on ~15 % of the items
        assert st["indexed"] == 1711 and st["errors"] == 0 and st["first_error"] is None
        assert es.count(index="hn")["count"] == 1711
        # each posting written exactly once: only the rejected items were sent again
        assert set(state.writes) == {("hn", str(p.id)) for p in posts}
        assert set(state.writes.values()) == {1}
        assert len(_bulk_ids(state)) == 1711 + len(state.rejected_once)


def test_whole_bulk_request_rejected_with_429_is_retried():
    posts = _posts(1200)
    with es_standin(reject_bulk_once=2) as (url, state):
        es = connect(url)
        st = index_postings(es, posts, index="hn", chunk_size=500, **FAST)
        assert state.bulk_rejected == 2
        assert st["indexed"] == 1200 and st["errors"] == 0
        assert set(state.writes.values()) == {1} and len(state.writes) == 1200


def test_bulk_request_rejected_for_good_raises_a_clear_error():
    with es_standin(reject_bulk_once=100) as (url, state):
        es = connect(url)
        with pytest.raises(BulkRejected, match=r"429 .*es_rejected_execution_exception.*"
                                               r"3 times; 0 postings.*Rerun") as ei:
            index_postings(es, _posts(10), index="hn", max_retries=2, **FAST)
        assert isinstance(ei.value, TextgenError) and state.bulk_rejected == 3
        assert "\n" not in str(ei.value)


def test_items_rejected_for_good_are_reported_not_retried():
    posts = _posts(300)
    bad = str(posts[7].id)
    with es_standin(reject_items_once=0.2,
                    fail_items={bad: "failed to parse field [time] of type [date]"}
                    ) as (url, state):
        es = connect(url)
        st = index_postings(es, posts, index="hn", **FAST)
        assert st["indexed"] == 299 and st["errors"] == 1
        assert st["first_error"] == ("400 document_parsing_exception: failed to parse field "
                                     f"[time] of type [date] (id {bad})")
        assert _bulk_ids(state).count(bad) == 1  # a 400 is final: not resent
        assert set(state.writes.values()) == {1} and len(state.writes) == 299


# --- credentials inside ES_URL / HN_API_URL -----------------------------------------------
def _with_credentials(url: str, user: str = "elastic", password: str = SECRET) -> str:
    return url.replace("http://", f"http://{user}:{password}@")


def test_basic_auth_from_the_url_reaches_the_server(monkeypatch):
    with es_standin(basic_auth=("elastic", SECRET)) as (url, state):
        assert connect(_with_credentials(url)).info()["version"]["number"]
        monkeypatch.setenv("ES_URL", _with_credentials(url))
        es = connect()
        assert SECRET not in repr(es)
        assert index_postings(es, _posts(3), index="hn")["indexed"] == 3


@pytest.mark.parametrize("case", ["wrong password", "nothing listens", "bad port",
                                  "token as user"])
def test_credentials_in_es_url_never_shown(case, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    with es_standin(basic_auth=("elastic", "the-right-one")) as (url, _):
        target = {"wrong password": _with_credentials(url),
                  "nothing listens": _with_credentials(refusing_url()),
                  "bad port": _with_credentials(url).rsplit(":", 1)[0] + ":92OO",
                  "token as user": refusing_url().replace("http://", f"http://{SECRET}@"),
                  }[case]
        monkeypatch.setenv("ES_URL", target)
        with pytest.raises(SearchUnavailable) as ei:
            connect(timeout=2)
    said = _everything_said(ei.value, capsys, caplog)
    assert SECRET not in said
    assert "***@127.0.0.1" in str(ei.value)  # still says where it looked
    want = {"wrong password": "refused the credentials", "nothing listens": "make es-up",
            "bad port": "not a valid", "token as user": "make es-up"}[case]
    assert want in str(ei.value)


def test_credentials_in_hn_api_url_never_shown_nor_sent(tmp_path, capsys, caplog):
    with serve_folder(tmp_path) as (url, requests):
        base = _with_credentials(url, "hn", SECRET)
        with pytest.raises(HNDataError, match=r"HN_API_URL http://hn:\*\*\*@127.0.0.1:\d+ "
                                              "carries credentials") as ei:
            fetch_thread(7, base_url=base, cache_dir=tmp_path / "cache", retries=0)
        assert requests == []  # nothing sent, no host name looked up with the secret in it
    assert SECRET not in _everything_said(ei.value, capsys, caplog)


def test_unreachable_hn_api(tmp_path):
    with pytest.raises(HNUnavailable, match="Could not fetch HN item 7 .*HN_API_URL") as ei:
        fetch_thread(7, base_url=refusing_url(), cache_dir=tmp_path, retries=0)
    assert isinstance(ei.value, ConnectionError)  # what it used to raise still catches it


# --- index creation race ----------------------------------------------------------------
def test_concurrent_first_runs_on_a_new_index_all_succeed():
    posts = _posts(200)
    results, errors = [], []
    with es_standin(hold_exists=4) as (url, state):
        def first_run(part):
            try:
                results.append(index_postings(connect(url), part, index="fresh"))
            except Exception as e:  # reported below, with the others
                errors.append(e)

        threads = [threading.Thread(target=first_run, args=(posts[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        creates = [m for m, p, _ in state.requests if (m, p) == ("PUT", "/fresh")]
        assert len(creates) == 4  # all four raced past the exists check
        assert sum(r["indexed"] for r in results) == 200
        assert len(state.indices["fresh"]["docs"]) == 200


# --- scroll -------------------------------------------------------------------------------
def test_scan_follows_scroll_ids_that_change_every_page():
    posts = _posts(300)
    with es_standin(rotate_scroll_ids=True) as (url, state):
        es = connect(url)
        index_postings(es, posts, index="hn")
        ids = [d["id"] for d in scan_postings(es, index="hn", size=40)]
        assert sorted(ids) == [p.id for p in posts]  # each once, none missing
        assert not state.scrolls  # the last id was the one cleared


def test_lost_scroll_context_is_reported_as_such():
    with es_standin(drop_scrolls_after=2) as (url, _):
        es = connect(url)
        index_postings(es, _posts(300), index="hn")
        with pytest.raises(ScrollLost, match=r"lost its scroll context after 150 documents"
                                             r".*scroll='10m'") as ei:
            list(scan_postings(es, index="hn", size=50))
        assert isinstance(ei.value, SearchUnavailable) and "does not exist" not in str(ei.value)
        with pytest.raises(IndexNotFound, match="'nope' does not exist"):  # still told apart
            list(scan_postings(es, index="nope"))


# --- hostile HN API -----------------------------------------------------------------------
def _files_outside(root: Path, *allowed: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()
            and not any(a == p or a in p.parents for a in allowed)]


@pytest.mark.parametrize("kid", ["../../x", "../../../escape", -1, True, 1.5, "12", None,
                                 [1], {"id": 1}])
def test_hostile_kid_ids_are_refused_and_nothing_written_outside_the_cache(tmp_path, kid):
    api = tmp_path / "api"
    (api / "item").mkdir(parents=True)
    (api / "item" / "7.json").write_text(json.dumps({"id": 7, "kids": [9000001, kid]}))
    (api / "item" / "9000001.json").write_text(json.dumps(
        {"id": 9000001, "by": "a", "time": 1, "text": "fine", "parent": 7}))
    # what a traversal request for "../../x" reaches once the server normalises the path
    (api / "x.json").write_text(json.dumps({"id": 1, "by": "evil", "time": 1, "text": "x"}))
    cache = tmp_path / "deep" / "er" / "cache"
    with serve_folder(api) as (url, requests):
        with pytest.raises(HNDataError, match=r"not an item id .*Check HN_API_URL"):
            fetch_thread(7, base_url=url, cache_dir=cache, retries=0)
        assert requests == ["/item/7.json"]  # refused before any kid was fetched
    assert _files_outside(tmp_path, api, cache) == []
    assert not (cache / "7.json").exists()  # no poisoned cache entry left behind


@pytest.mark.parametrize("thread", [{"id": 7, "kids": "../../x"}, ["../../x"]])
def test_hostile_thread_shapes_are_refused(tmp_path, thread):
    api = tmp_path / "api"
    (api / "item").mkdir(parents=True)
    (api / "item" / "7.json").write_text(json.dumps(thread))
    with serve_folder(api) as (url, _):
        with pytest.raises(HNDataError, match="Check HN_API_URL"):
            fetch_thread(7, base_url=url, cache_dir=tmp_path / "cache", retries=0)
    assert _files_outside(tmp_path, api) == []


def test_non_json_answer_and_bad_thread_argument(tmp_path):
    with serve_folder(tmp_path) as (url, _):
        with pytest.raises(HNDataError, match="not JSON"):
            fetch_thread(7, base_url=url + "/html", cache_dir=tmp_path / "cache", retries=0)
        for bad in [True, -3, "../7", 7.0]:
            with pytest.raises(HNDataError, match="thread_id must be an HN item number"):
                fetch_thread(bad, base_url=url, cache_dir=tmp_path / "cache", retries=0)
    assert not (tmp_path / "cache").exists()


def test_poisoned_cache_entry_is_fetched_again(tmp_path):
    api = tmp_path / "api"
    (api / "item").mkdir(parents=True)
    (api / "item" / "7.json").write_text(json.dumps({"id": 7, "kids": [9000001]}))
    (api / "item" / "9000001.json").write_text(json.dumps(
        {"id": 9000001, "by": "a", "time": 1, "text": "fine", "parent": 7}))
    cache = tmp_path / "deep" / "er" / "cache"
    cache.mkdir(parents=True)
    (cache / "7.json").write_text(json.dumps({"id": 7, "kids": ["../../x"]}))  # a bad run's
    with serve_folder(api) as (url, requests):
        got = fetch_thread(7, base_url=url, cache_dir=cache, retries=0)
    assert [p.id for p in got] == [9000001] and "/item/7.json" in requests
    assert json.loads((cache / "7.json").read_text())["kids"] == [9000001]
    assert _files_outside(tmp_path, api, cache) == []
