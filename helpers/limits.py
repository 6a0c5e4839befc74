"""The one rule for reading bytes that come from outside: regular files only, and a size
budget checked before anything is allocated.

A file given by a user, a member of an archive, a download or a cached note can hold
anything: ``/dev/zero``, a FIFO nobody writes to, a 1 GB member in a 1 MB zip, a mirror
that streams without end. Every reader of such bytes goes through this module, so that
each of those is one :class:`InputRefused` (one ``error:`` line from the command line,
naming the file and saying what to do) instead of a hang, a ``MemoryError`` or gigabytes
of memory spent on bytes that are refused anyway.

* :func:`open_regular` opens a path without blocking (a FIFO's ``open`` would wait for a
  writer), refuses anything but a regular file and checks its size against a budget;
  :func:`read_bytes` and :func:`read_json` read through it.
* :func:`check_size` is the budget rule itself: a declared size (a ``stat``, a zip
  member's header, a ``Content-Length``, a tensor's shape) is refused when over budget.
* :func:`read_capped` streams from any file object and stops one byte past the budget,
  for sizes that are declared but may lie (zip members, downloads without a length);
  :class:`CappedWriter` does the same for a stream written to disk (a download).

Budgets are stated maxima, far above what this project's own files need (its biggest
corpus is 3.6 MB, its biggest model 30 MB); ``helpers.corpus_cache`` streams corpora of
any size and does not read them whole.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import BinaryIO

from .errors import TextgenError
from .paths import display_path

__all__ = ["InputRefused", "MAX_TEXT_BYTES", "MAX_JSON_BYTES", "MAX_MEMBER_BYTES",
           "MAX_DOWNLOAD_BYTES", "MAX_MODEL_BYTES", "check_size", "shown", "open_regular",
           "read_bytes", "read_json", "read_capped", "require_regular", "CappedWriter",
           "open_zip"]

MB = 1 << 20
# a text read whole into memory (decoded, it may take up to four times as much again);
# bigger corpora train through helpers.corpus_cache, which streams them
MAX_TEXT_BYTES = 512 * MB
# a vocabulary, a config, a run's or a bundle's note, an HN item: kilobytes to a few MB
MAX_JSON_BYTES = 64 * MB
# one member of an archive (a tweets.js of a big account is tens of MB)
MAX_MEMBER_BYTES = 512 * MB
# a download whose size the registry does not know (Gutenberg's catalog is ~15 MB)
MAX_DOWNLOAD_BYTES = 256 * MB
# the weights of a .keras file, read into memory to open them with HDF5
MAX_MODEL_BYTES = 2048 * MB
CHUNK = 1 << 20


class InputRefused(TextgenError, ValueError):
    """A file, archive member or download is not a regular file or is over its budget."""


def shown(path: str | os.PathLike) -> str:
    """``path`` for a message: project-relative where possible, and printable even when
    the name is not UTF-8 (its undecodable bytes shown as ``\\xNN``)."""
    return os.fsencode(display_path(path)).decode("utf-8", "backslashreplace")


def _mb(n: int) -> str:
    return f"{n / MB:,.1f} MB" if n >= MB else f"{n:,} bytes"


def check_size(size: int, budget: int, what: str, hint: str = "") -> None:
    """Refuse ``what`` when its (declared or measured) ``size`` is over ``budget``.

    The one budget rule: called with a size known *before* the bytes are read or the
    memory allocated (a stat, a zip header, a Content-Length, a tensor's shape)."""
    if size > budget:
        raise InputRefused(f"{what} is {_mb(size)}, over the {_mb(budget)} this reader "
                           f"accepts; refusing it before reading.{' ' + hint if hint else ''}")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def require_regular(st: os.stat_result, path: str | os.PathLike) -> None:
    """Refuse what is not a regular file: reading a FIFO or ``/dev/zero`` never ends."""
    if not stat.S_ISREG(st.st_mode):
        raise InputRefused(f"{shown(path)} is {_kind(st.st_mode)}, not a regular file; "
                           "give a file saved on disk.")


def open_regular(path: str | os.PathLike, budget: int, what: str = "") -> BinaryIO:
    """Open ``path`` for reading in binary: a regular file of at most ``budget`` bytes.

    Opened with ``O_NONBLOCK`` (the open of a FIFO does not wait for a writer) and
    checked on the open descriptor (no race with a rename). An unreadable file is an
    :class:`InputRefused` that says so (not an ``OSError`` whose hint would be about
    writing)."""
    name = what or shown(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputRefused(f"{name} does not exist; check the path.") from None
    except IsADirectoryError:
        raise InputRefused(f"{name} is a folder, not a file.") from None
    except PermissionError:
        raise InputRefused(f"cannot read {name}: permission denied. Make it readable "
                           "(chmod u+r) or leave it out.") from None
    except OSError as e:
        raise InputRefused(f"cannot read {name}: {e.strerror or e}.") from None
    try:
        st = os.fstat(fd)
        require_regular(st, path)
        check_size(st.st_size, budget, name)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(fh: BinaryIO, budget: int, what: str, hint: str = "") -> bytes:
    """Everything ``fh`` yields, refused as soon as it passes ``budget`` bytes: the size
    a header declared may be a lie (a zip member, a response without a length)."""
    parts, total = [], 0
    while True:
        chunk = fh.read(min(CHUNK, budget + 1 - total))
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > budget:
            raise InputRefused(f"{what} is larger than the {_mb(budget)} this reader "
                               f"accepts; stopped reading there.{' ' + hint if hint else ''}")
        parts.append(chunk)


def open_zip(path: str | os.PathLike, budget: int, max_members: int, what: str = ""):
    """A ``zipfile.ZipFile`` of the regular file ``path`` (at most ``budget`` bytes),
    once its end record says it has at most ``max_members`` entries: ``ZipFile`` reads
    the whole central directory into objects of a few hundred bytes each, so a small
    archive that lists millions of entries would take gigabytes before any check.
    Raises :class:`InputRefused`, or ``zipfile.BadZipFile`` for what is not a zip."""
    import zipfile

    name = what or shown(path)
    with open_regular(path, budget, name) as fh:
        # the end-of-central-directory record (zip64 too), as ZipFile itself reads it;
        # a private helper of the standard library, unchanged since Python 2.6
        end = zipfile._EndRecData(fh)
        if end is None:
            raise zipfile.BadZipFile("File is not a zip file")
        check_size(end[zipfile._ECD_ENTRIES_TOTAL], max_members, f"the number of entries "
                   f"in {name}", "An archive of this kind has far fewer.")
    return zipfile.ZipFile(path)


class CappedWriter:
    """A binary file to write a stream to (a download) that refuses, and so stops the
    stream, as soon as more than ``budget`` bytes arrive: a server that streams without
    end or without a Content-Length never fills the disk. ``error``: the exception class
    raised (a caller's own, where a library in between would retry an ``InputRefused``,
    which is a ``ValueError``)."""

    def __init__(self, fh: BinaryIO, budget: int, what: str, hint: str = "",
                 error: type[Exception] = InputRefused):
        self.fh, self.budget, self.what, self.hint, self.error = fh, budget, what, hint, error
        self.n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        if self.n > self.budget:
            raise self.error(f"{self.what} sends more than the {self.budget:,} bytes "
                             f"expected of it; stopped there and kept nothing. {self.hint}"
                             .rstrip())
        return self.fh.write(data)

    def __getattr__(self, name):  # flush, seek, tell... of the real file
        return getattr(self.fh, name)


def read_bytes(path: str | os.PathLike, budget: int = MAX_TEXT_BYTES, what: str = "") -> bytes:
    """The bytes of the regular file ``path`` (at most ``budget``; a file that grows while
    it is read is stopped there too)."""
    with open_regular(path, budget, what) as fh:
        return read_capped(fh, budget, what or shown(path))


def read_json(path: str | os.PathLike, budget: int = MAX_JSON_BYTES, what: str = ""):
    """JSON of a regular file of at most ``budget`` bytes (UTF-8). A file that is not
    valid JSON raises :class:`InputRefused` naming it; ``FileNotFoundError`` is kept for
    callers that treat a missing note as absent."""
    path = Path(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"No such file: {path}")
    data = read_bytes(path, budget, what)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise InputRefused(f"{what or shown(path)} is not valid JSON ({e}); is it truncated "
                           "or damaged?") from None
