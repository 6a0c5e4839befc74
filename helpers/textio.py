"""Reading text safely and writing files atomically.

Every file this project writes goes through :func:`atomic_write_bytes` (or the
:func:`atomic_path` context manager for libraries that want a path): the data is
written to a temporary file in the same folder and renamed over the target, so a
killed process never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import TextgenError
from .limits import MAX_TEXT_BYTES, InputRefused, read_bytes, require_regular, shown
from .paths import ROOT, display_path  # noqa: F401 (importable from here, as before)

__all__ = [
    "display_path",
    "CorpusError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "remove_stale_temps",
    "SIDECAR_SUFFIX",
    "decode_text",
    "text_codecs",
    "looks_binary",
    "binary_message",
    "utf16_message",
    "sha256_file",
    "read_text",
    "read_texts",
    "text_files",
]


class CorpusError(TextgenError, ValueError):
    """A corpus (file, folder or downloaded text) cannot be used for training."""


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success.

    On an exception the temporary file is removed and ``target`` is untouched.
    ``suffix`` defaults to the target's suffix (Keras insists on ``.keras``).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix if suffix is not None else target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # make the bytes durable before the rename
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def remove_stale_temps(folder: str | os.PathLike, names: tuple[str, ...],
                       min_age_s: float = 0.0) -> list[Path]:
    """Delete temporary files that :func:`atomic_path` left for ``names`` in ``folder``
    when its process was killed mid-write (the targets themselves are intact); returns
    those deleted.

    ``min_age_s`` spares younger ones, for a folder no lock keeps to one process (the
    corpus cache: a training started beside this one may be writing its own temporary
    file right now, and a write in progress touches it all the time, so it is never that
    old). A file gone already, or that cannot be deleted, is left (not ours to delete)."""
    now = time.time()
    removed = []
    for name in names:
        for f in Path(folder).glob(f".{name}.*"):
            try:
                if not f.is_file() or (min_age_s and now - f.stat().st_mtime < min_age_s):
                    continue
                f.unlink()
            except OSError:
                continue
            removed.append(f)
    return removed


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (temp file + rename)."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, obj, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON (UTF-8, keys in order) atomically. A string that UTF-8 cannot
    hold (a file name that is not UTF-8 arrives as lone surrogates) is kept with JSON's
    ``\\u`` escapes, so the file is always written."""
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, indent=indent)
    return atomic_write_text(target, text + "\n")


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file, read in 1 MB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # little- and big-endian byte-order marks
SNIFF_BYTES = 65536  # how much of a file tells text from binary


def text_codecs(head: bytes) -> tuple[str, ...]:
    """The codecs a text file starting with ``head`` is decoded with, tried in this order:
    UTF-16 when it starts with a UTF-16 byte-order mark, else UTF-8 (with or without its
    BOM), then Windows-1252, then Latin-1 (which decodes any byte, so only UTF-16 fails)."""
    if head.startswith(UTF16_BOMS):
        return ("utf-16",)
    return ("utf-8-sig", "cp1252", "latin-1")


def looks_binary(head: bytes) -> bool:
    """True when a file starting with ``head`` is not text: NUL bytes, or many control
    bytes, among its first :data:`SNIFF_BYTES` (UTF-16, NULs and all, is text when it
    starts with its byte-order mark)."""
    return not head.startswith(UTF16_BOMS) and _looks_binary(head)


def _looks_binary(data: bytes) -> bool:
    """True when ``data`` is not text: NUL bytes, or many control bytes."""
    sample = data[:SNIFF_BYTES]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27, 2, 3, 4))
    return control / len(sample) > 0.05


def decode_text(data: bytes, name: str = "<bytes>") -> str:
    """Decode bytes of a text file to ``str`` with ``\\n`` line endings.

    Tries the codecs of :func:`text_codecs` in order: UTF-16 with a BOM, else UTF-8
    (with or without BOM), then Windows-1252 / Latin-1 for legacy files. Raises
    :class:`CorpusError` for binary data.
    """
    if looks_binary(data):
        raise CorpusError(binary_message(name))
    for codec in text_codecs(data):
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError as e:
            failed = e
    else:  # a BOM, then bytes that are not UTF-16
        raise CorpusError(utf16_message(name, f" ({failed.reason} at byte {failed.start})"))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def binary_message(name: str) -> str:
    """Why a binary file is refused as a corpus."""
    return (f"{name} looks like a binary file, not text (it has NUL or control bytes). "
            "Give a plain-text file (.txt, .md, .py, .csv, ...).")


def utf16_message(name: str, detail: str = "") -> str:
    """Why a file with a UTF-16 BOM but other bytes is refused as a corpus."""
    return f"{name} starts like UTF-16 text but is not valid UTF-16{detail}; is it damaged?"


def read_text(path: str | os.PathLike, allow_empty: bool = False) -> str:
    """Read one text file with :func:`decode_text`; refuse empty and binary files, and
    anything but a regular file of at most :data:`helpers.limits.MAX_TEXT_BYTES`."""
    path = Path(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"No such file: {path}")
    if path.is_dir():
        raise CorpusError(f"{shown(path)} is a folder; use read_texts() for folders of text "
                          "files.")
    text = decode_text(read_bytes(path, MAX_TEXT_BYTES, shown(path)), name=shown(path))
    if not allow_empty and not text.strip():
        raise CorpusError(f"{shown(path)} is empty: a corpus needs some text to learn from.")
    return text


# the note `corpus` writes beside a text (helpers.documents); a corpus folder's walk skips it
SIDECAR_SUFFIX = ".corpus.json"
TEXT_SUFFIXES = (".txt", ".md", ".rst", ".py", ".csv", ".json", ".html", ".tex", ".text", "")


def text_files(path: str | os.PathLike, suffixes: tuple[str, ...] = TEXT_SUFFIXES
               ) -> list[Path]:
    """The files a corpus ``path`` stands for, in reading order: the file itself, or a
    folder's text files by suffix (no hidden files, no corpus notes), sorted.

    The one walk of a corpus folder (:func:`read_texts` and ``helpers.corpus_cache`` both
    use it). A subfolder that cannot be listed is an error naming it, never skipped in
    silence (the model would train on part of the corpus), and so is a FIFO, device or
    socket among the text files (reading one never ends)."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"No such file or folder: {path}") from None
    except PermissionError:
        raise InputRefused(f"cannot read {shown(path)}: permission denied. Make it "
                           "readable or give another path.") from None
    if not stat.S_ISDIR(st.st_mode):
        require_regular(st, path)
        return [path]

    def refuse(e: OSError):
        where = shown(e.filename) if e.filename else shown(path)
        raise InputRefused(f"cannot read the folder {where} in the corpus {shown(path)}: "
                           f"{e.strerror or e}. Make it readable (chmod u+rx) or move it "
                           "out of the corpus folder.")

    found = []
    for root, dirs, names in os.walk(path, onerror=refuse):
        dirs.sort()
        for n in names:
            f = Path(root, n)
            # the filter read_texts always had: by suffix, no hidden files, no notes
            if n.startswith(".") or f.suffix.lower() not in suffixes:
                continue
            if n.endswith(SIDECAR_SUFFIX):  # a corpus file's note (helpers.documents)
                continue
            try:
                fst = f.stat()
            except FileNotFoundError:
                continue  # a dangling link: nothing to read (as before)
            except OSError as e:
                raise InputRefused(f"cannot read {shown(f)} in the corpus {shown(path)}: "
                                   f"{e.strerror}. Make it readable or move it out.") from None
            if stat.S_ISDIR(fst.st_mode):
                continue  # a link to a folder: not followed (as Path.rglob did not)
            if not stat.S_ISREG(fst.st_mode):
                require_regular(fst, f)
            found.append(f)
    return sorted(found)


def read_texts(
    path: str | os.PathLike, suffixes: tuple[str, ...] = TEXT_SUFFIXES, separator: str = "\n\n"
) -> str:
    """Read a text file, or every text file under a folder joined by ``separator``.

    Binary files found inside a folder are skipped (and listed in the error if no
    text file remains); a single binary file is an error. A file or subfolder that
    cannot be read is an error naming it (see :func:`text_files`).
    """
    path = Path(path)
    files = text_files(path, suffixes)
    if not path.is_dir():
        return read_text(path)
    parts, skipped, total = [], [], 0
    for f in files:
        try:
            part = read_text(f)
        except InputRefused:
            raise
        except CorpusError:
            skipped.append(shown(f.name))
            continue
        total += len(part)
        if total > MAX_TEXT_BYTES:
            raise InputRefused(f"the text files under {shown(path)} add up to more than "
                               f"{MAX_TEXT_BYTES >> 20} MB, too much to hold in memory; "
                               "train on it with the corpus cache (the default of `train`).")
        parts.append(part)
    if not parts:
        extra = f" (skipped as binary or empty: {', '.join(skipped[:5])})" if skipped else ""
        raise CorpusError(f"No text files found under {shown(path)}{extra}.")
    return separator.join(parts)
