"""HTTP GET with retries, shared by the downloaders (Gutenberg, the HN API)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

__all__ = ["http_get"]


def http_get(url: str, user_agent: str, timeout: float = 30.0, retries: int = 3,
             backoff: float = 0.5, before_each: Callable[[], None] | None = None
             ) -> tuple[bytes, str]:
    """GET ``url``; returns the body and its Content-Type.

    Server errors (5xx) and network failures (``OSError``: refused, reset, timed out)
    are retried ``retries`` times, waiting ``backoff * 2**attempt`` seconds (at most 8)
    in between; then the last error is raised. Other HTTP errors (404...) are raised at
    once. ``before_each`` runs before every attempt (a polite delay, a request log).
    """
    req = urllib.request.Request(url, headers={"User-Agent": user_agent})
    for attempt in range(retries + 1):
        if before_each is not None:
            before_each()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            if e.code < 500 or attempt == retries:
                raise
        except OSError:
            if attempt == retries:
                raise
        time.sleep(min(8.0, backoff * 2 ** attempt))
    raise AssertionError("unreachable")
