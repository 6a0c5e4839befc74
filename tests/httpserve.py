"""A loopback HTTP server over a folder, recording every request (for offline tests).

``serve_folder(folder, *overlays)``: a file missing from ``folder`` is looked up in each
overlay folder in turn (the repository's own additions to the test mirror).

Paths under ``/flaky/`` answer 503 twice per path before serving the file (retry tests);
paths under ``/html/`` answer with an HTML page."""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def translate_path(self, path):
        local = super().translate_path(path)
        if not os.path.exists(local):
            rel = os.path.relpath(local, self.directory)
            for extra in self.server.overlays:
                alt = os.path.join(extra, rel)
                if os.path.exists(alt):
                    return alt
        return local

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith("/flaky/"):  # each path fails twice with 503, then works
            self.path = self.path[len("/flaky"):]
            seen = self.server.flaky.get(self.path, 0)
            self.server.flaky[self.path] = seen + 1
            if seen < 2:
                self.send_error(503, "Service Unavailable")
                return
        if self.path.startswith("/html/"):
            body = b"<!DOCTYPE html><html><body>Please solve this captcha</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@contextlib.contextmanager
def running(server: ThreadingHTTPServer):
    """Serve ``server`` in a thread; yields its base URL; shuts it down after."""
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serve_folder(folder: str | Path, *overlays: str | Path):
    """Serve ``folder`` (then ``overlays`` for what it lacks) on 127.0.0.1; yields
    ``(base_url, requests_list)``."""
    handler = functools.partial(_Handler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.overlays = [str(o) for o in overlays]
    server.requests = []
    server.flaky = {}
    with running(server) as url:
        yield url, server.requests


def refusing_url() -> str:
    """``http://127.0.0.1:<port>`` where nothing listens: every connection is refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
