"""Every location the project reads or writes, each overridable by one environment variable.

=================  ========================  =================================================
function           environment variable      default
=================  ========================  =================================================
:func:`data_dir`   ``TEXTGEN_DATA``          ``data/`` (download cache, git-ignored)
:func:`zoo_dir`    ``TEXTGEN_ZOO``           ``zoo/`` (pretrained bundles)
:func:`generated`  ``TEXTGEN_GENERATED``     ``generated/`` (samples, figures, pages)
:func:`runs_dir`   ``TEXTGEN_RUNS``          ``runs/`` (training run folders, git-ignored)
:func:`encoded`    ``TEXTGEN_ENCODED``       ``data/encoded/`` (corpora encoded for training)
:func:`mirror`     ``TEXTGEN_MIRROR``        none: every download goes to its public source
=================  ========================  =================================================

They are functions, read when called, so a test or a notebook can change the
environment and the next call follows it.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "NOTEBOOK_DIR", "data_dir", "zoo_dir", "generated", "runs_dir", "encoded",
           "mirror", "display_path"]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else default


def data_dir() -> Path:
    """The download cache: ``$TEXTGEN_DATA`` or ``data/``. After ``make data`` it has the
    same layout as a mirror, so a teacher can serve it to a room (see :func:`mirror`)."""
    return _env_path("TEXTGEN_DATA", ROOT / "data")


def zoo_dir() -> Path:
    """The pretrained bundles: ``$TEXTGEN_ZOO`` or ``zoo/``."""
    return _env_path("TEXTGEN_ZOO", ROOT / "zoo")


def generated() -> Path:
    """Where notebooks and the CLI write samples and figures: ``$TEXTGEN_GENERATED`` or
    ``generated/``."""
    return _env_path("TEXTGEN_GENERATED", ROOT / "generated")


def runs_dir() -> Path:
    """Where training runs go by default: ``$TEXTGEN_RUNS`` or ``runs/``."""
    return _env_path("TEXTGEN_RUNS", ROOT / "runs")


def encoded() -> Path:
    """The cache of encoded corpora (:mod:`helpers.corpus_cache`): ``$TEXTGEN_ENCODED`` or
    ``encoded/`` inside :func:`data_dir`. Safe to delete: it is rebuilt on the next run."""
    return _env_path("TEXTGEN_ENCODED", data_dir() / "encoded")


def mirror() -> str | None:
    """``$TEXTGEN_MIRROR``: a URL (``http://host:8000``) or a folder that holds the data
    files in the layout of ``data/`` (``tinyshakespeare/input.txt``,
    ``gutenberg/cache/epub/84/pg84.txt``, ...). Every download then goes there instead of
    the public sources: for a classroom with poor Wi-Fi, or for tests. None when unset."""
    value = os.environ.get("TEXTGEN_MIRROR", "").strip()
    return value.rstrip("/") or None


def display_path(path: str | os.PathLike) -> str:
    """A path as shown to people: relative to the project folder when inside it, else
    with the home folder as ``~`` (no machine-specific absolute paths in outputs)."""
    p = Path(os.path.abspath(path))
    for base, prefix in ((ROOT, ""), (Path.home(), "~/")):
        try:
            return prefix + str(p.relative_to(base))
        except ValueError:
            continue
    return str(p)
