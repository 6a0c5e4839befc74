"""HTTP GET with retries, shared by the downloaders (Gutenberg, the HN API).

What an unlucky network does, and what happens here:

* a server error (5xx), a refused or reset connection, a timeout: retried with
  exponential backoff;
* a body shorter than its ``Content-Length`` (``IncompleteRead``, a connection cut
  mid-transfer): retried, then :class:`DownloadError`; never a traceback, never a
  short file handed on as if whole;
* 429 Too Many Requests and 503 with ``Retry-After``: waits as long as the server asks
  (up to ``max_wait`` seconds; a longer wish is refused with the time to wait);
* any other HTTP error (404...): raised at once as ``urllib.error.HTTPError``, for the
  caller to decide (a missing book is not a network problem);
* a body larger than ``max_bytes`` (by its ``Content-Length``, or counted while it streams
  when there is none): :class:`DownloadTooLarge` at once, not retried, and nothing of it
  kept (the budget rule of :mod:`helpers.limits`).
"""

from __future__ import annotations

import email.utils
import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from .errors import TextgenError
from .limits import MAX_DOWNLOAD_BYTES, InputRefused, check_size, read_capped

__all__ = ["http_get", "DownloadError", "DownloadTooLarge", "retry_after_seconds"]


class DownloadError(TextgenError, OSError):
    """A download failed after its retries (cut short, rate-limited, unreachable)."""


class DownloadTooLarge(DownloadError):
    """A response is larger than the reader's budget: refused, never retried or kept."""


def _body(resp, max_bytes: int, shown: str) -> bytes:
    """The body of ``resp``, refused past ``max_bytes`` (before reading when the length
    is declared); a body shorter than its ``Content-Length`` is an ``IncompleteRead``."""
    length = resp.headers.get("Content-Length")
    length = int(length) if length and length.strip().isdigit() else None
    hint = "Is this the right URL or mirror?"
    try:
        if length is not None:
            check_size(length, max_bytes, f"{shown} (by its Content-Length)", hint)
        body = read_capped(resp, max_bytes, shown, hint)
    except InputRefused as e:
        raise DownloadTooLarge(f"{e} Nothing was saved.") from None
    if length is not None and len(body) < length:
        # read(n) does not raise this itself where the connection ends early
        raise http.client.IncompleteRead(body, length - len(body))
    return body


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def http_get(url: str, user_agent: str, timeout: float = 30.0, retries: int = 3,
             backoff: float = 0.5, before_each: Callable[[], None] | None = None,
             max_wait: float = 60.0, shown_url: str | None = None,
             max_bytes: int = MAX_DOWNLOAD_BYTES) -> tuple[bytes, str]:
    """GET ``url``; returns the whole body and its Content-Type.

    Transient failures are retried ``retries`` times, waiting ``backoff * 2**attempt``
    seconds (at most 8) or what ``Retry-After`` asks (at most ``max_wait``); then a
    :class:`DownloadError` (cut short, rate-limited) or the last ``OSError`` (unreachable)
    is raised. HTTP errors other than 429/5xx are raised at once. ``before_each`` runs
    before every attempt (a polite delay, a request log). ``shown_url`` is how the URL
    appears in messages (without a password). ``max_bytes``: the largest body accepted
    (:class:`DownloadTooLarge` past it).
    """
    shown = shown_url or url
    req = urllib.request.Request(url, headers={"User-Agent": user_agent})
    for attempt in range(retries + 1):
        if before_each is not None:
            before_each()
        wait = min(8.0, backoff * 2 ** attempt)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                body = _body(resp, max_bytes, shown)
                return body, resp.headers.get("Content-Type", "")
        except DownloadTooLarge:
            raise  # the same bytes would come again: not retried
        except urllib.error.HTTPError as e:
            asked = retry_after_seconds(e.headers.get("Retry-After") if e.headers else None)
            if e.code != 429 and e.code < 500:
                raise
            if asked is not None and asked > max_wait:
                raise DownloadError(
                    f"{shown}: the server is rate-limiting (HTTP {e.code}) and asks to wait "
                    f"{asked:.0f} s. Try again later, or use a mirror (TEXTGEN_MIRROR)."
                ) from e
            if attempt == retries:
                if e.code == 429:
                    raise DownloadError(f"{shown}: still rate-limited (HTTP 429) after "
                                        f"{retries + 1} tries. Try again later.") from e
                raise
            if asked is not None:
                wait = asked
        except http.client.IncompleteRead as e:
            if attempt == retries:
                raise DownloadError(
                    f"{shown}: the download was cut short ({len(e.partial):,} bytes of "
                    f"{len(e.partial) + (e.expected or 0):,}) {retries + 1} times. Check the "
                    "connection and try again; nothing was saved.") from None
        except http.client.HTTPException as e:  # a broken response (bad status line...)
            if attempt == retries:
                raise DownloadError(f"{shown}: broken response ({type(e).__name__}: {e}). "
                                    "Try again, or use another mirror.") from None
        except OSError:
            if attempt == retries:
                raise
        time.sleep(wait)
    raise AssertionError("unreachable")
