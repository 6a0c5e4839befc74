"""The run folder: the one owner of the files a training run writes and reads.

::

    runs/mybook/
      vocab.json      the vocabulary (JSON, never pickle)
      config.json     model and training settings, documents flag, vocabulary fingerprint
      last.keras      model + optimizer after the last finished epoch (what a resume loads)
      best.keras      the best model on validation so far
      history.json    one row per epoch (history.csv: the same, for spreadsheets)
      state.json      epoch finished, best validation loss, seconds: written last each
                      epoch, so it is the commit point of an epoch
      .lock           held while a training writes here; holds that process's id.
                      Nothing else in the folder is touched (cleaned, created, moved,
                      written) by a process that does not hold it
      previous/       runs set aside by a fresh start (nothing is ever deleted)

Every write is atomic (temporary file + rename). :meth:`RunDir.resume_point` decides
whether a folder can be resumed and refuses, naming the file and the ways on, when its
files disagree; a fresh start moves an old run aside instead of overwriting its
``best.keras``. Keras is imported only by the methods that load or save models, so
reading a run's vocabulary or history is cheap.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
import stat
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import TextgenError
from .limits import InputRefused, read_json
from .textio import (
    atomic_path,
    atomic_write_json,
    atomic_write_text,
    display_path,
    remove_stale_temps,
)
from .vocab import Vocab, VocabMismatch, load_vocab

__all__ = ["RunDir", "RunDirError", "RunLocked", "ResumePoint", "RUN_FILES"]

# the files of a run, named here only (read them through RunDir's properties)
BEST, LAST, STATE, HISTORY, HISTORY_CSV, VOCAB, CONFIG, SAMPLES = (
    "best.keras", "last.keras", "state.json", "history.json", "history.csv", "vocab.json",
    "config.json", "samples.json")
RUN_FILES = (BEST, LAST, STATE, HISTORY, HISTORY_CSV, VOCAB, CONFIG, SAMPLES)
MODEL_FILES = {"best": BEST, "last": LAST}
LOCK_NAME = ".lock"


def _state_problem(st) -> str | None:
    """What is wrong with the contents of a ``state.json``, or None: every field of the
    right type and in range, so a damaged or forged file is refused before any work."""
    if not isinstance(st, dict) or not {"epoch", "best_val_loss"} <= st.keys():
        return "no epoch or best_val_loss"
    def number(v, kinds=(int, float)) -> bool:  # JSON's true/false are not numbers
        return isinstance(v, kinds) and not isinstance(v, bool)

    epoch, best = st["epoch"], st["best_val_loss"]
    elapsed = st.get("elapsed_seconds", 0.0)
    if not (number(epoch, int) and 0 <= epoch <= 10_000_000):
        return f"epoch {epoch!r} is not a whole number from 0 to 10,000,000"
    if not (number(best) and best >= 0):  # inf: nothing validated yet; never NaN
        return f"best_val_loss {best!r} is not a loss"
    if not (number(elapsed) and 0 <= elapsed < 1e9):
        return f"elapsed_seconds {elapsed!r} is not a time"
    return None


class RunDirError(TextgenError, RuntimeError):
    """A run folder cannot be used as asked: damaged or inconsistent files, a vocabulary
    that does not match, a path that is not a folder. The message names the file."""


class RunLocked(RunDirError):
    """Another training is writing into the same run folder."""


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run continues: the model file, the epoch it finished, the best
    validation loss so far and the seconds already spent."""

    model_path: Path
    epoch: int
    best_val_loss: float
    elapsed_seconds: float
    history: list[dict]


class RunDir:
    """A training run folder. ``RunDir("runs/mybook")``; nothing is created until a
    method writes."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock_fh = None

    def __repr__(self) -> str:
        st = self.read_state() if self.state_file.exists() else None
        done = f", epoch {st['epoch']}, best {st['best_val_loss']:.4f}" if st else ""
        return f"RunDir({display_path(self.path)!r}{done})"

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    # --- the files ------------------------------------------------------------------
    @property
    def best(self) -> Path:
        return self.path / BEST

    @property
    def last(self) -> Path:
        return self.path / LAST

    @property
    def state_file(self) -> Path:
        return self.path / STATE

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG

    @property
    def vocab_file(self) -> Path:
        return self.path / VOCAB

    @property
    def history_file(self) -> Path:
        return self.path / HISTORY

    @property
    def samples_file(self) -> Path:
        return self.path / SAMPLES

    def model_file(self, which: str = "best") -> Path:
        if which not in MODEL_FILES:
            raise ValueError("which must be 'best' or 'last'")
        return self.path / MODEL_FILES[which]

    def has_run(self) -> bool:
        """True when any file of a run is here."""
        return any((self.path / n).exists() for n in RUN_FILES)

    # --- creating and locking ---------------------------------------------------------
    def check(self) -> RunDir:
        """Refuse, touching nothing, a path that cannot be this run's folder: a file, a
        link, a FIFO or a path under a file (:func:`helpers.outputs.check_target`); a
        folder inside another run's folder (the outer run could no longer resume: its
        folder would hold something not its own); a folder holding things not a run's.
        :meth:`create` runs it; the command line runs it before reading the corpus."""
        from .outputs import OutputError, check_target

        try:
            check_target(self.path, "folder", flag="--run-dir")
        except OutputError as e:
            raise RunDirError(f"Cannot use it as a run folder: {e}") from None
        for outer in Path(os.path.abspath(self.path)).parents:
            if _is_run_folder(outer):
                raise RunDirError(
                    f"Cannot use {display_path(self.path)} as a run folder: it is inside the "
                    f"run folder {display_path(outer)}, which could then no longer be "
                    "resumed. Choose a --run-dir outside it.")
        if self.path.is_dir():
            self._refuse_foreign()
        return self

    def create(self) -> RunDir:
        """Make the folder (and its parents), and nothing else: what is inside belongs to
        whoever holds the lock (:meth:`lock`); :meth:`check` first."""
        self.check()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as e:
            blocker = next((p for p in (self.path, *self.path.parents) if p.is_file()), self.path)
            raise RunDirError(
                f"Cannot use {display_path(self.path)} as a run folder: "
                f"{display_path(blocker)} is a file, not a folder. "
                "Choose another --run-dir.") from e
        if not self.path.is_dir():
            raise RunDirError(f"Cannot use {display_path(self.path)} as a run folder: it is a "
                              "file. Choose another --run-dir.")
        return self

    def _refuse_foreign(self) -> None:
        """A run folder holds a run's files and nothing else. A folder with other things in
        it (a zoo bundle, the project, a user's own folder) is refused, naming what is
        there: training would overwrite its config.json and vocab.json."""
        known = {*RUN_FILES, LOCK_NAME, "previous"}
        try:
            names = sorted(os.listdir(self.path))
        except OSError as e:
            raise RunDirError(f"Cannot read the run folder {display_path(self.path)} "
                              f"({e.strerror}).") from None
        # hidden entries (.DS_Store, a killed write's temporary file, a user's .notes) are
        # never written by training, only the run's own files are
        foreign = [n for n in names if n not in known and not n.startswith(".")]
        if foreign:
            shown = ", ".join(foreign[:4]) + (", ..." if len(foreign) > 4 else "")
            raise RunDirError(
                f"{display_path(self.path)} is not a run folder: it holds other things "
                f"({shown}) that training would mix with or overwrite. Give a new or empty "
                "folder as --run-dir.")

    def _open_lock_file(self):
        """``.lock``, opened without following a link and refused unless it is a plain
        file: a link planted there would make the lock write (truncate) its target."""
        path = self.path / LOCK_NAME
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(
            os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as e:
            if e.errno not in (errno.ELOOP, errno.EMLINK, errno.ENXIO, errno.EISDIR):
                raise
            fd = None  # a link, a folder, a FIFO without a reader: not a plain file
        if fd is not None and not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            fd = None
        if fd is None:
            raise RunDirError(f"{display_path(path)} is a link or not a plain file (a FIFO, a "
                              "device or a folder); a run folder's lock must be a file of its "
                              "own. Remove it, or choose another --run-dir.")
        return os.fdopen(fd, "a+", encoding="utf-8")

    @contextlib.contextmanager
    def lock(self) -> Iterator[RunDir]:
        """Hold the folder's lock while writing. A second training into the same folder
        (another process, or this one) is refused with the holder's process id. The lock
        is the operating system's (``flock``), so a killed run never leaves it behind.

        The lock comes first: before it is held, nothing in the folder is touched (only
        the folder and its ``.lock`` file are made if missing). Then the temporary files
        a killed write left are removed: with the lock held no other training can be
        writing here, so none of them is a live one's half-written checkpoint.

        A run refused before its first write leaves nothing behind: the folders this call
        made (the run's, and parents it needed), the run's holding only its ``.lock``, are
        removed again."""
        made = _first_missing(self.path)  # the outermost folder this call makes, if any
        emptied = False
        self.create()
        fh = self._open_lock_file()
        try:
            _try_lock(fh)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                fh.close()
                raise
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise RunLocked(
                f"{display_path(self.path)} is in use by another training (process "
                f"{holder}). Wait for it to finish or stop it, or choose another "
                "--run-dir.") from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            self._lock_fh = fh
            remove_stale_temps(self.path, RUN_FILES)
            yield self
        except BaseException:
            if made and os.listdir(self.path) == [LOCK_NAME]:  # refused before any write
                (self.path / LOCK_NAME).unlink()  # still held: no one else can be in here
                emptied = True
            raise
        finally:
            self._lock_fh = None
            fh.close()  # closing releases the lock
            if emptied:
                _remove_empty(self.path, made)

    # --- JSON files -----------------------------------------------------------------
    def _read_json(self, path: Path):
        # through the rule for outside bytes: a FIFO or a huge file planted in a run folder
        # is refused, never waited on or read into memory
        try:
            return read_json(path, what=display_path(path))
        except FileNotFoundError:
            return None
        except InputRefused as e:
            raise RunDirError(
                f"{display_path(path)} is damaged or not a plain file ({e}). Start over with "
                "--fresh (the old files are moved to previous/), or restore the file."
            ) from e

    def read_state(self) -> dict | None:
        """``state.json`` (``epoch``, ``best_val_loss``, ``elapsed_seconds``) or None."""
        st = self._read_json(self.state_file)
        if st is None:
            return None
        problem = _state_problem(st)
        if problem:
            raise RunDirError(f"{display_path(self.state_file)} is damaged ({problem}). Start "
                              "over with --fresh, or restore the file.")
        return st

    def write_state(self, epoch: int, best_val_loss: float, elapsed_seconds: float) -> None:
        atomic_write_json(self.state_file, {"epoch": epoch, "best_val_loss": best_val_loss,
                                            "elapsed_seconds": elapsed_seconds})

    def read_config(self) -> dict:
        """``config.json`` ({} when there is none)."""
        return self._read_json(self.config_file) or {}

    def write_config(self, config: dict) -> None:
        atomic_write_json(self.config_file, config)

    def read_history(self) -> list[dict]:
        return self._read_json(self.history_file) or []

    def read_samples(self) -> list[dict]:
        """The samples printed during training: ``{"epoch", "temperature", "text"}`` rows."""
        rows = self._read_json(self.samples_file) or []
        if not (isinstance(rows, list) and all(
                isinstance(r, dict) and isinstance(r.get("epoch"), int)
                and isinstance(r.get("text"), str) for r in rows)):
            raise RunDirError(f"{display_path(self.samples_file)} is damaged (not a list of "
                              "samples). Start over with --fresh, or restore the file.")
        return rows

    def add_samples(self, rows: list[dict]) -> None:
        """Keep the samples of one epoch (they show how the model learned, epoch by epoch).
        A resumed run that repeats an epoch replaces that epoch's rows."""
        epochs = {r["epoch"] for r in rows}
        kept = [r for r in self.read_samples() if r["epoch"] not in epochs]
        atomic_write_json(self.samples_file, kept + rows)

    def write_history(self, history: list[dict]) -> None:
        import csv
        import io

        atomic_write_json(self.history_file, history)
        buf = io.StringIO()
        if history:
            w = csv.DictWriter(buf, fieldnames=list(history[0]))
            w.writeheader()
            w.writerows(history)
        atomic_write_text(self.path / HISTORY_CSV, buf.getvalue())

    def best_row(self) -> dict | None:
        """The history row with the lowest validation loss (what ``best.keras`` holds)."""
        rows = [h for h in self.read_history() if not math.isnan(h.get("val_loss", math.nan))]
        return min(rows, key=lambda h: h["val_loss"]) if rows else None

    # --- vocabulary -------------------------------------------------------------------
    def read_vocab(self, fingerprint: str | None = None) -> Vocab:
        """The run's vocabulary, checked against the fingerprint in ``config.json`` (or
        the one given): a ``vocab.json`` edited or swapped after training would map ids
        to the wrong tokens without any other sign."""
        try:
            vocab = load_vocab(self.vocab_file)
        except FileNotFoundError:
            raise RunDirError(f"{display_path(self.vocab_file)} is missing: this is not a "
                              "training run folder, or its vocabulary was removed.") from None
        except (ValueError, KeyError, TypeError) as e:
            raise RunDirError(f"{display_path(self.vocab_file)} is damaged ({e}).") from e
        expected = fingerprint or self.read_config().get("vocab_fingerprint")
        try:
            vocab.check_fingerprint(expected, self.vocab_file, CONFIG,
                                    display_path(self.path))
        except VocabMismatch as e:
            raise RunDirError(str(e)) from None
        return vocab

    def write_vocab(self, vocab: Vocab) -> None:
        vocab.save(self.vocab_file)

    # --- models -----------------------------------------------------------------------
    def save_model(self, model, which: str) -> Path:
        """Save ``model`` (with its optimizer) as ``best.keras`` or ``last.keras``."""
        target = self.model_file(which)
        with atomic_path(target) as tmp:
            model.save(tmp)
        return target

    def load_model(self, which: str = "best", path: Path | None = None, compile: bool = True):
        """Load ``best.keras``/``last.keras`` (or ``path``) through the one guarded loader,
        :func:`helpers.kerasfile.load` (budget first, Keras' safe mode: no code from the
        file runs); a missing or damaged file is one :class:`RunDirError` naming it."""
        from . import kerasfile

        path = path or self.model_file(which)
        try:
            return kerasfile.load(path, compile=compile, where=display_path(path.parent))
        except kerasfile.KerasFileError as e:
            raise RunDirError(str(e)) from e

    # --- resuming -----------------------------------------------------------------------
    def resume_point(self, resume_from: str = "last") -> ResumePoint | None:
        """Where a resumed training continues, or None when there is nothing to resume.

        ``resume_from="last"`` continues after the last finished epoch (``state.json``
        and ``last.keras``); ``"best"`` continues from ``best.keras`` and the epoch that
        made it (its history row). Files that disagree are refused, never guessed
        around: a silent fresh start would overwrite a better ``best.keras``.
        """
        if resume_from not in ("last", "best"):
            raise ValueError("resume_from must be 'last' or 'best'")
        state = self.read_state()
        ways = ("Start over with --fresh (the old run is moved to previous/, nothing is "
                "deleted), or continue from best.keras with --resume-from best.")
        if resume_from == "best":
            if not self.best.exists():
                if state is None and not self.has_run():
                    return None
                raise RunDirError(f"{display_path(self.best)} is missing: nothing to resume "
                                  "from. Start over with --fresh.")
            row = self.best_row()
            history = self.read_history()
            if row is None:
                raise RunDirError(f"{display_path(self.history_file)} has no epoch for "
                                  f"{self.best.name}. Start over with --fresh.")
            keep = [h for h in history if h["epoch"] <= row["epoch"]]
            return ResumePoint(self.best, int(row["epoch"]), float(row["val_loss"]),
                               float(row.get("seconds", 0.0)), keep)
        if state is None:
            if self.last.exists():
                raise RunDirError(f"{display_path(self.last)} is here but "
                                  f"{self.state_file.name} is missing, so the epoch it "
                                  f"finished is unknown. {ways}")
            if self.best.exists():
                raise RunDirError(f"{display_path(self.path)} holds a {self.best.name} but no "
                                  f"{self.state_file.name}: an earlier run, or one killed in "
                                  f"its first epoch. {ways}")
            return None
        if not self.last.exists():
            raise RunDirError(f"{display_path(self.state_file)} says epoch {state['epoch']} "
                              f"finished, but {self.last.name} is missing. {ways}")
        if not zipfile.is_zipfile(self.last):
            raise RunDirError(f"{display_path(self.last)} is damaged (not a complete .keras "
                              f"archive). {ways}")
        history = [h for h in self.read_history() if h["epoch"] <= int(state["epoch"])]
        return ResumePoint(self.last, int(state["epoch"]), float(state["best_val_loss"]),
                           float(state.get("elapsed_seconds", 0.0)), history)

    def set_aside(self) -> Path | None:
        """Move this folder's run files into ``previous/<time>/`` (for a fresh start) and
        return that folder, or None when there was nothing to move."""
        names = [n for n in RUN_FILES if (self.path / n).exists()]
        if not names:
            return None
        dest = self.path / "previous" / time.strftime("%Y%m%d-%H%M%S")
        n = 1
        while dest.exists():
            n += 1
            dest = dest.with_name(f"{dest.name.split('.')[0]}.{n}")
        dest.mkdir(parents=True)
        for name in names:
            shutil.move(str(self.path / name), str(dest / name))
        return dest


def _is_run_folder(path: Path) -> bool:
    """A folder a training has written to: its lock or state, and its settings or
    vocabulary (one of these names alone, a ``config.json`` say, proves nothing)."""
    return (any(os.path.lexists(path / n) for n in (LOCK_NAME, STATE))
            and any(os.path.lexists(path / n) for n in (CONFIG, VOCAB)))


def _first_missing(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that does not exist yet (None: it does)."""
    top, p = None, Path(os.path.abspath(path))
    while not os.path.lexists(p) and p != p.parent:
        top, p = p, p.parent
    return top


def _remove_empty(path: Path, top: Path) -> None:
    """Remove ``path`` and its parents up to ``top`` while they are empty folders (another
    run may have come in meanwhile: then its folder stays)."""
    p = Path(os.path.abspath(path))
    while True:
        try:
            p.rmdir()
        except OSError:
            return
        if p == top or p == p.parent:
            return
        p = p.parent


def _try_lock(fh) -> None:
    """Take an exclusive, non-blocking lock on an open file (POSIX ``flock``; on Windows
    ``msvcrt.locking``). Raises ``OSError`` (EAGAIN/EACCES) when someone else holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
