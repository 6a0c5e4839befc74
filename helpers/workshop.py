"""The setup cell every notebook starts with: versions, backend, GPU, seeds, paths, quick mode.

>>> from helpers.workshop import setup
>>> S = setup()            # prints a short report                       # doctest: +SKIP
>>> S.quick, S.generated   # quick mode (CI) and where outputs go        # doctest: +SKIP

Quick mode (``TEXTGEN_QUICK=1``, as CI sets it) makes every notebook use small
slices and few training steps, so all of them run in minutes on a laptop CPU.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .textio import DATA_DIR, ROOT, display_path

__all__ = ["Settings", "setup", "gpu_devices", "shared_data", "shared_data_path", "quiet_backend_start"]



def quiet_backend_start() -> None:
    """Import Keras and run one tiny op with the process's stderr (file descriptor 2)
    sent to /dev/null, hiding TensorFlow's C++ start-up chatter ("oneDNN custom
    operations are on", "could not find cuda drivers", ...), which no setting turns
    off. Does nothing once Keras is imported, or with ``TEXTGEN_VERBOSE_TF=1``."""
    if "keras" in sys.modules or os.environ.get("TEXTGEN_VERBOSE_TF"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras

        keras.ops.convert_to_numpy(keras.ops.ones((1,)) + 1)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def gpu_devices() -> list[str]:
    """Accelerators Keras' backend can see (empty on a CPU-only machine)."""
    import keras

    try:
        devs = keras.distribution.list_devices()
        return [d for d in devs if not d.lower().startswith("cpu")]
    except Exception:  # backends without keras.distribution support
        if keras.backend.backend() == "torch":
            torch = importlib.import_module("torch")
            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        return []


def shared_data_path() -> Path:
    """Where the public fixture corpora are looked for: ``$TEXTGEN_SHARED_DATA``, or
    ``shared/data`` beside the project."""
    return Path(os.environ.get("TEXTGEN_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_data() -> Path | None:
    """The folder of public fixture corpora beside the project, if present."""
    p = shared_data_path()
    return p if p.exists() else None


@dataclass
class Settings:
    quick: bool
    seed: int
    root: Path
    data: Path
    generated: Path
    gpus: list[str] = field(default_factory=list)
    backend: str = ""
    versions: dict = field(default_factory=dict)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    def pick(self, quick, full):
        """``quick`` in quick mode, else ``full`` (sizes, steps, minutes...)."""
        return quick if self.quick else full


def setup(seed: int = 0, quick: bool | None = None, verbose: bool = True) -> Settings:
    """Check the environment, seed every generator, make the output folders."""
    quiet_backend_start()
    import keras
    import numpy as np

    if quick is None:
        quick = os.environ.get("TEXTGEN_QUICK", "").lower() in ("1", "true", "yes")
    keras.utils.set_random_seed(seed)
    data, generated = DATA_DIR, ROOT / "generated"
    data.mkdir(parents=True, exist_ok=True)
    generated.mkdir(exist_ok=True)
    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "numpy": np.__version__}
    backend = keras.backend.backend()
    mod = sys.modules.get(backend) or importlib.import_module(backend)
    versions[backend] = getattr(mod, "__version__", "?")
    s = Settings(quick, seed, ROOT, data, generated, gpu_devices(), backend, versions)
    if verbose:
        v = ", ".join(f"{k} {val}" for k, val in versions.items())
        print(f"{v}\nKeras backend: {backend}; "
              f"{'GPU: ' + ', '.join(s.gpus) if s.gpus else 'no GPU: training runs on the CPU'}"
              f"\nquick mode: {quick} (set TEXTGEN_QUICK=1 for a fast run); seed {seed}"
              f"\noutputs: {display_path(generated)}/")
    return s
