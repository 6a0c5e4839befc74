"""The one base class of every error this package raises on purpose.

An *expected* failure (a corpus that is not there, a download that did not arrive, a run
folder another training holds, a corrupt model file) is a :class:`TextgenError`, so the
command line turns all of them into one ``error:`` line with a single ``except``; what is
not a ``TextgenError`` is a bug and keeps its traceback.

Each subclass also derives from the builtin it used to be (``RuntimeError``,
``ValueError``) so that code written against those keeps working.
"""

from __future__ import annotations

__all__ = ["TextgenError"]


class TextgenError(Exception):
    """Base class of the package's own errors; its message says what to do next."""
