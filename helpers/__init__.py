"""textgen-workshop helpers: character- and word-level text generation with LSTMs in Keras 3.

Import what you need from the modules (``from helpers.train import train``); nothing
heavy happens at import time.
"""

import os as _os

# Quieten TensorFlow's C++ start-up chatter (users can override).
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
