"""textgen-workshop helpers: character- and word-level text generation with LSTMs in Keras 3.

Import what you need from the modules (``from helpers.train import train``); nothing
heavy happens at import time.
"""

import os as _os
import sys as _sys

# Quieten TensorFlow's C++ start-up chatter (users can override).
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BACKEND_FILE = "textgen-backend"


def _backend_from_venv(prefix: str = _sys.prefix) -> None:
    """Use the Keras backend that ``make gpu`` recorded in this virtual environment (a file
    holding e.g. ``torch``), unless ``KERAS_BACKEND`` is set. Keras reads the variable once,
    when it is first imported, so this must run before anything imports keras: the
    notebooks and the CLI import helpers first."""
    if "KERAS_BACKEND" in _os.environ:
        return
    try:
        with open(_os.path.join(prefix, BACKEND_FILE), encoding="utf-8") as fh:
            backend = fh.read().strip()
    except OSError:
        return
    if backend:
        _os.environ["KERAS_BACKEND"] = backend


_backend_from_venv()

__version__ = "0.1.0"
