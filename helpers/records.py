"""Records of real training runs, committed beside the notebooks.

A notebook that trains (``USE_PRETRAINED = False``) saves what its run measured: the
validation curve, the time, the device and a few samples, as one JSON file. The
committed copy in ``notebooks/records/`` is what the notebook shows with
``USE_PRETRAINED = True``, so a reader sees the result of the full run in seconds, and
a rerun replaces it with their own.

A record holds no weights: for corpora whose text belongs to its authors (the HN
postings) it is the way to show a run without distributing a model that could recite
them, and e-mail addresses in its samples are replaced by ``<email>``.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from .machine import device_name
from .paths import NOTEBOOK_DIR, generated
from .textio import atomic_write_json, display_path

__all__ = ["RECORDS_DIR", "save_record", "load_record", "redact_contacts"]

RECORDS_DIR = NOTEBOOK_DIR / "records"
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def redact_contacts(text: str) -> str:
    """``text`` with every e-mail address replaced by ``<email>``."""
    return _EMAIL_RE.sub("<email>", text)


def save_record(name: str, result, samples: list, command: str = "", note: str = "",
                folder: str | os.PathLike | None = None) -> Path:
    """Write the record of a finished run (a :class:`helpers.train.TrainResult` and the
    :class:`helpers.sample.Sample` list drawn from it) to ``generated/records/<name>.json``;
    copy it into ``notebooks/records/`` to make it the one the notebook shows."""
    import keras

    from .model import config_of, count_params
    from .rundir import RunDir

    best = min(result.history, key=lambda h: h["val_loss"]) if result.history else {}
    rec = {
        "name": name,
        "date": time.strftime("%Y-%m-%d"),
        "device": device_name(),
        "backend": keras.backend.backend(),
        "command": command,
        "note": note,
        "model": config_of(result.model).to_dict(),
        "params": count_params(result.model),
        "seconds": result.history[-1]["seconds"] if result.history else 0.0,
        "best": best,
        "history": result.history,
        "samples": [{"text": redact_contacts(s.full), "stopped_by": s.stopped_by}
                    for s in samples],
        # what the model wrote after each epoch (plots.evolution draws them)
        "epoch_samples": [dict(r, text=redact_contacts(r["text"]))
                          for r in RunDir(result.run_dir).read_samples()],
    }
    path = Path(folder or generated() / "records") / f"{name}.json"
    atomic_write_json(path, rec)
    print(f"record written to {display_path(path)}")
    return path


def load_record(name: str, folder: str | os.PathLike | None = None) -> dict:
    """The committed record ``notebooks/records/<name>.json``."""
    path = Path(folder or RECORDS_DIR) / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No record {display_path(path)}: run the notebook with USE_PRETRAINED = False "
            "to make one (it is written to generated/records/).") from None
