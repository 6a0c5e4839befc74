"""Python source code as a corpus: comments removed, string literals replaced.

As in the cookbook, a model learns the *shape* of code better when comments and
string contents (free text, in any language) are gone. Done with :mod:`tokenize`
(never regular expressions), so ``#`` inside strings and quotes inside comments
are handled exactly. Files that fail to tokenize are skipped and counted.
"""

from __future__ import annotations

import io
import os
import re
import sys
import sysconfig
import token
import tokenize
import warnings
from collections.abc import Iterable
from pathlib import Path

from .limits import MAX_TEXT_BYTES, InputRefused, read_bytes
from .textio import CorpusError, display_path, text_files

__all__ = ["strip_source", "token_offsets", "python_corpus", "compiles", "stdlib_dir",
           "CODE_PROMPT", "CODE_STOP"]

CODE_PROMPT = "\n\ndef "
CODE_STOP = "\n\n"
_FSTRING_START = getattr(token, "FSTRING_START", None)
_FSTRING_END = getattr(token, "FSTRING_END", None)


def token_offsets(src: str):
    """A function from a :mod:`tokenize` position ``(row, col)`` in ``src`` to the
    offset in ``src``. Lines end at ``\n`` only, as ``tokenize`` reads them from
    ``io.StringIO`` (``str.splitlines`` would also split at form feeds and other
    separators and shift every later offset)."""
    starts = [0]
    pos = src.find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = src.find("\n", pos + 1)
    starts.append(len(src))

    def off(position: tuple[int, int]) -> int:
        return starts[position[0] - 1] + position[1]

    return off


def strip_source(src: str, placeholder: str = '"MSG"') -> str:
    """``src`` without comments, every string literal (docstrings and f-strings
    included) replaced by ``placeholder``. Raises ``SyntaxError`` or
    ``tokenize.TokenError`` for code that does not tokenize."""
    off = token_offsets(src)

    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    comment_rows: set[int] = set()
    depth, fstart = 0, None
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if _FSTRING_START is not None and tok.type == _FSTRING_START:
            if depth == 0:
                fstart = tok.start
            depth += 1
        elif _FSTRING_END is not None and tok.type == _FSTRING_END:
            depth -= 1
            if depth == 0:
                edits.append((off(fstart), off(tok.end), placeholder))
        elif depth:
            continue
        elif tok.type == tokenize.STRING:
            edits.append((off(tok.start), off(tok.end), placeholder))
        elif tok.type == tokenize.COMMENT:
            edits.append((off(tok.start), off(tok.end), ""))
            comment_rows.add(tok.start[0])
    out, pos = [], 0
    for s, e, rep in edits:
        out.append(src[pos:s])
        out.append(rep)
        pos = e
    out.append(src[pos:])
    result_lines = []
    for i, line in enumerate("".join(out).split("\n"), start=1):
        stripped = line.rstrip()
        if not stripped and i in comment_rows:
            continue  # a line that held only a comment
        result_lines.append(stripped)
    text = "\n".join(result_lines)
    return re.sub(r"\n{4,}", "\n\n\n", text).strip("\n") + "\n"


def stdlib_dir() -> Path:
    """The running interpreter's standard library folder."""
    return Path(sysconfig.get_paths()["stdlib"])


def python_corpus(
    folder: str | os.PathLike | None = None,
    placeholder: str = '"MSG"',
    exclude: Iterable[str] = ("test", "tests", "idlelib", "site-packages", "__pycache__",
                              "lib2to3", "turtledemo", "ensurepip", "pydoc_data"),
    max_files: int | None = None,
    max_chars: int | None = None,
    separator: str = "\n\n\n",
) -> tuple[str, dict]:
    """A corpus of stripped Python files from ``folder`` (default: the standard
    library). Returns ``(text, stats)``; stats count files used and skipped."""
    root = Path(folder) if folder else stdlib_dir()
    if not root.exists():
        raise FileNotFoundError(f"No such folder: {root}")
    skip = set(exclude)
    parts, chars = [], 0
    stats = {"folder": display_path(root), "files": 0, "skipped": 0, "skipped_examples": [], "chars": 0,
             "python": sys.version.split()[0]}
    # the one walk of a corpus folder: an unreadable subfolder is an error, not skipped
    for f in text_files(root, suffixes=(".py",)):
        if skip & set(f.relative_to(root).parts[:-1]):
            continue
        try:
            # a regular file within budget (a FIFO named x.py would hang the corpus)
            src = read_bytes(f, MAX_TEXT_BYTES).decode("utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                body = strip_source(src, placeholder)
        except (SyntaxError, tokenize.TokenError, UnicodeDecodeError, ValueError) as e:
            if isinstance(e, InputRefused):
                raise
            stats["skipped"] += 1
            if len(stats["skipped_examples"]) < 5:
                stats["skipped_examples"].append(f"{f.relative_to(root)}: {type(e).__name__}")
            continue
        if not body.strip():
            continue
        parts.append(body)
        chars += len(body) + len(separator)
        stats["files"] += 1
        if (max_files and stats["files"] >= max_files) or (max_chars and chars >= max_chars):
            break
    if not parts:
        raise CorpusError(f"No Python files could be read under {root}.")
    text = separator.join(parts)
    if max_chars:
        text = text[:max_chars]
    stats["chars"] = len(text)
    return text, stats


def compiles(snippet: str) -> bool:
    """Does ``snippet`` compile as Python (syntax only; nothing is run)?"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(snippet, "<sample>", "exec")
            return True
        except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError):
            return False
