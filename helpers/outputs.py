"""The one rule for every path a user names for the project to write.

The command line writes where a user says: ``sample --out``, ``corpus --out``, the bundle
``export --name`` makes in the zoo, the ``train --run-dir`` folder. All of them go through
this module, so the rule is stated once:

* a **name** (a bundle's) is a name, not a path: letters, digits, ``_`` and ``-``, up to
  64 characters; no ``..``, no separator, no absolute path (:func:`check_name`);
* the **target** is missing or of the kind asked for (a regular file, or a folder). A
  symbolic link, a FIFO, a socket or a device is refused with one message, never written
  through nor replaced: a link may point anywhere, and replacing a FIFO another program
  reads from would break that program silently (:func:`check_target`);
* a file is written **atomically** (temporary file beside it, renamed into place), and
  an existing file or bundle is **never replaced** unless ``force`` (``--force``) is
  given; then the old one is kept beside it as ``<name>.previous`` (the one such copy:
  an older ``.previous`` goes), so a replacement can be undone (:func:`write_file`,
  :func:`output_folder`).

A run folder is a folder the project fills over many epochs, under its lock
(:meth:`helpers.rundir.RunDir.lock`); it is checked with :func:`check_target` as a
``folder`` and otherwise follows the run folder's own rules (resume, ``--fresh``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import TextgenError
from .textio import display_path

__all__ = ["OutputError", "check_name", "check_target", "check_folder", "write_file",
           "output_folder",
           "previous_path", "is_name"]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class OutputError(TextgenError, ValueError):
    """A path a user named cannot be written as asked; the message says why and what to
    do instead."""


def is_name(name: str) -> bool:
    """True for a valid bundle name (see :func:`check_name`)."""
    return isinstance(name, str) and NAME.fullmatch(name) is not None


def check_name(name: str, flag: str = "--name") -> str:
    """``name`` when it is a plain name (letters, digits, ``_``, ``-``; at most 64
    characters; starting with a letter or digit), else :class:`OutputError`."""
    if not is_name(name):
        raise OutputError(
            f"{flag} {name!r} is not a plain name: use letters, digits, '_' and '-' only "
            "(at most 64 characters, no '..', no '/', not a path), e.g. mybook_char.")
    return name


def _kind(path: Path) -> str | None:
    """What is at ``path`` (the link itself, not what it points to), or None."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return "under a file"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def check_target(path: str | os.PathLike, kind: str = "file", force: bool = False,
                 flag: str = "--out") -> Path:
    """Refuse to write ``path`` unless it is missing or an existing ``kind`` (``"file"``
    or ``"folder"``); an existing file is refused too unless ``force``. Returns the path.
    Call it before any work, so a refusal costs nothing."""
    if not os.fspath(path) or "\x00" in os.fspath(path):
        raise OutputError(f"{flag}: an empty path, or one with a NUL byte, cannot be written.")
    path = Path(path)
    found = _kind(path)
    if found in (None, "under a file"):
        # missing: its folder must be one (or be made); say now, not after the work, when
        # a part of the path is a file
        parent = next((p for p in path.parents if _kind(p) not in (None, "under a file")),
                      None)
        if parent is not None and _kind(parent) not in ("a folder", "a symbolic link"):
            raise OutputError(f"{flag} {display_path(path)}: {display_path(parent)} is "
                              f"{_kind(parent)}, not a folder. Choose another path.")
        return path
    if found != f"a {kind}":
        what = "a file" if kind == "file" else "a folder"
        hint = "a new one, or with --force an existing one" if kind == "file" else "new or not"
        raise OutputError(
            f"{flag} {display_path(path)} is {found}, not {what}: it is neither written "
            f"through nor replaced. Give the path of {what} ({hint}).")
    if kind == "file" and not force:
        raise OutputError(f"{flag} {display_path(path)} exists. Choose another path, or add "
                          f"--force to replace it (the old one is kept as "
                          f"{previous_path(path).name}).")
    if kind == "file":  # force: the old file is about to be kept as <name>.previous
        _check_previous(path, kind, flag)
    return path


def previous_path(path: str | os.PathLike) -> Path:
    """Where ``--force`` keeps the old file or folder: ``<name>.previous`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".previous")


def _check_previous(path: Path, kind: str, flag: str) -> None:
    """``--force`` replaces ``<name>.previous`` only with what this rule keeps there: the
    old file of a file output, the old folder of a folder output (or a link, removed
    without being followed). Anything else there belongs to someone: refused, named."""
    keep = previous_path(path)
    found = _kind(keep)
    if not _keepable(found, kind):
        raise OutputError(f"{flag} {display_path(path)} --force: {display_path(keep)}, where "
                          f"the old {kind} would be kept, is {found}, not what --force keeps "
                          "there; move it away first.")


def _keepable(found: str | None, kind: str) -> bool:
    """Whether ``--force`` may replace what it found at ``<name>.previous``: nothing, what
    it keeps there for a ``kind`` output, or a link (removed, never followed)."""
    return found in (None, f"a {kind}", "a symbolic link")


def _remove(path: Path, kind: str, flag: str) -> None:
    """Remove the old ``<name>.previous`` before a new one is kept there: only what this
    rule keeps there (:func:`_keepable`), checked again in case it changed meanwhile."""
    found = _kind(path)
    if found == "a folder" and kind == "folder":
        shutil.rmtree(path)
    elif found is not None and _keepable(found, kind):
        path.unlink()
    elif found is not None:
        raise OutputError(f"{flag}: {display_path(path)} is {found}, not what --force keeps "
                          "there; move it away first.")


def write_file(path: str | os.PathLike, data: bytes | str, force: bool = False,
               flag: str = "--out") -> Path:
    """Write ``data`` (text is UTF-8) to the file ``path`` under the rule of this module:
    checked by :func:`check_target`, written to a temporary file beside it and moved into
    place. Without ``force`` the move cannot replace a file that appeared meanwhile (a
    hard link, which fails when the name exists); with it, the old file is first kept
    as ``<name>.previous``."""
    path = check_target(path, "file", force, flag)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        check_target(path, "file", force, flag)  # again: the work may have taken a while
        if _kind(path) == "a file":  # force: keep the old one beside it
            keep = previous_path(path)
            _remove(keep, "file", flag)
            try:
                os.link(path, keep)
            except OSError:
                shutil.copy2(path, keep)
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails (EEXIST) if something took the name meanwhile
            except FileExistsError:
                check_target(path, "file", force, flag)  # says what is there now
                raise
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                os.replace(tmp, path)  # a file system without hard links
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def check_folder(parent: str | os.PathLike, name: str, force: bool = False,
                 flag: str = "--name") -> Path:
    """Refuse to make the folder ``parent/name`` unless ``name`` is a plain name and
    nothing is there (or a folder, with ``force``). Returns the folder's path. Call it
    before any work, so a refusal costs nothing."""
    check_name(name, flag)
    dest = Path(parent) / name
    check_target(dest, "folder", flag=flag)
    if _kind(dest) is not None and not force:
        raise OutputError(f"{flag} {name}: {display_path(dest)} exists. Choose another name, "
                          f"or add --force to replace it (the old one is kept as "
                          f"{previous_path(dest).name}).")
    if _kind(dest) is not None:
        _check_previous(dest, "folder", flag)
    return dest


@contextlib.contextmanager
def output_folder(parent: str | os.PathLike, name: str, force: bool = False,
                  flag: str = "--name") -> Iterator[Path]:
    """Build the folder ``parent/name`` in a temporary folder beside it (yielded) and
    move it into place when the block ends without an error; on an error nothing is left.
    ``name`` must be a plain name (:func:`check_name`); an existing folder is refused
    unless ``force``, which keeps it as ``<name>.previous``."""
    dest = check_folder(parent, name, force, flag)
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; the bundle gets the usual mode
    try:
        yield tmp
        check_target(dest, "folder", flag=flag)
        if _kind(dest) is not None:
            if not force:
                raise OutputError(f"{flag} {name}: {display_path(dest)} appeared while it "
                                  "was being made; nothing was replaced.")
            keep = previous_path(dest)
            _remove(keep, "folder", flag)
            os.rename(dest, keep)
        os.rename(tmp, dest)  # fails if a folder took the name meanwhile and is not empty
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
