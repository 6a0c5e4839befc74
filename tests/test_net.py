"""Downloads under faults, against a loopback server that misbehaves on purpose: bodies
shorter than their Content-Length, 429 with Retry-After, empty answers, rate-limit pages
served as text/plain, books cut short without a Content-Length. Nothing bad is cached;
every failure is one message."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import cli
from helpers.gutenberg import Gutenberg, GutenbergError
from helpers.net import DownloadError, http_get, retry_after_seconds

from .httpserve import running

pytestmark = pytest.mark.core

BOOK = ("The Project Gutenberg eBook of A Test\n\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK A TEST ***\n\n"
        "A TEST\n\n" + "It was a line of the book, one of many.\n" * 60 +
        "\nTHE END\n\n*** END OF THE PROJECT GUTENBERG EBOOK A TEST ***\n"
        "Updated editions will replace the previous one.\n").encode()


class _Faulty(BaseHTTPRequestHandler):
    """Scripted answers: ``server.script[path]`` is a list of faults, one per request
    (the last repeats); ``ok`` serves ``server.body``."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        script = self.server.script.get(self.path, ["ok"])
        n = self.server.hits.get(self.path, 0)
        self.server.hits[self.path] = n + 1
        fault = script[min(n, len(script) - 1)]
        body = self.server.body
        if fault == "404":
            self.send_error(404)
            return
        if fault.startswith("429"):  # "429" or "429:<seconds>"
            self.send_response(429)
            if ":" in fault:
                self.send_header("Retry-After", fault.split(":")[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "short":  # promises the whole body, sends half, closes
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault == "cut":  # no Content-Length: the end of the stream is the end of the body
            payload = body[: len(body) // 2]
        elif fault == "empty":
            payload = b""
        elif fault == "ratelimit-page":
            payload = (b"\n  <html><head><title>429 Too Many Requests</title></head>\n"
                       b"<body><h1>Too Many Requests</h1></body></html>\n")
        else:
            payload = body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        if fault != "cut":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = True


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Faulty)
    srv.script, srv.hits, srv.body = {}, {}, BOOK
    with running(srv) as url:
        srv.url = url
        yield srv


def _client(server, tmp_path, retries=2):
    return Gutenberg(mirror=server.url, cache_dir=tmp_path / "cache", delay=0,
                     retries=retries, timeout=5)


PATH = "/cache/epub/7/pg7.txt"


def test_short_body_is_retried_then_succeeds(server, tmp_path):
    server.script[PATH] = ["short", "ok"]
    assert _client(server, tmp_path).raw(7) == BOOK
    assert server.hits[PATH] == 2


def test_short_body_every_time_is_one_message_and_nothing_cached(server, tmp_path):
    server.script[PATH] = ["short"]
    with pytest.raises(GutenbergError, match=r"cut short .* times.*nothing was saved"):
        _client(server, tmp_path, retries=1).raw(7)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_429_is_retried_after_the_time_the_server_asks(server, tmp_path):
    server.script[PATH] = ["429:1", "ok"]
    t0 = time.monotonic()
    assert _client(server, tmp_path).raw(7) == BOOK
    assert time.monotonic() - t0 >= 0.95  # waited as asked, not the 0.5 s backoff
    assert server.hits[PATH] == 2


def test_429_asking_too_long_a_wait_is_refused_with_the_wait(server, tmp_path):
    server.script[PATH] = ["429:7200"]
    with pytest.raises(GutenbergError, match="asks to wait 7200 s"):
        _client(server, tmp_path).raw(7)
    assert server.hits[PATH] == 1


@pytest.mark.parametrize("fault,message", [
    ("empty", "is empty"),
    ("ratelimit-page", "HTML page"),
    ("cut", "cut short"),
])
def test_bad_bodies_are_not_cached(server, tmp_path, fault, message):
    server.script[PATH] = [fault]
    g = _client(server, tmp_path)
    with pytest.raises(GutenbergError, match=message):
        g.raw(7)
    cache = tmp_path / "cache"
    assert not cache.exists() or not list(cache.iterdir())
    server.script[PATH] = ["ok"]  # the next try downloads again and caches the whole book
    assert g.raw(7) == BOOK


def test_text_without_markers_is_kept_with_a_note(server, tmp_path, capsys):
    server.body = b"Just a plain text with no licence at all.\n" * 40
    assert _client(server, tmp_path).raw(7) == server.body
    assert "no Project Gutenberg start/end markers" in capsys.readouterr().out


def test_cli_corpus_from_an_empty_answer_is_one_error_line(server, tmp_path, capsys):
    server.script[PATH] = ["empty"]
    out = tmp_path / "corpus.txt"
    code = cli.main(["corpus", "gutenberg", "7", "--mirror", server.url, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not out.exists()


def test_http_get_raises_download_error_not_a_traceback_type(server):
    server.script["/x"] = ["short"]
    with pytest.raises(DownloadError) as e:
        http_get(server.url + "/x", "t", retries=0)
    assert isinstance(e.value, OSError)  # callers that handle network errors still do


def test_retry_after_forms():
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after_seconds(date, now=1445412480 - 30) == pytest.approx(30)
