"""The notebooks' setup cell: ``setup()`` reports versions, backend, GPU, seeds, paths.

>>> from helpers.workshop import setup
>>> S = setup()            # prints a short report                       # doctest: +SKIP
>>> S.quick, S.generated   # quick mode (CI) and where outputs go        # doctest: +SKIP
>>> S.fetch("tinyshakespeare")   # a registered data set, downloaded once # doctest: +SKIP

Quick mode (``TEXTGEN_QUICK=1``, as CI sets it) makes every notebook use small
slices and few training steps, so all of them run in minutes on a laptop CPU.
``S.pretrained`` (``TEXTGEN_PRETRAINED``, default on) is what each notebook's
``USE_PRETRAINED`` switch starts from: load models from ``zoo/`` and never train for
more than about 30 seconds; off, the notebooks train their own models.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import datasets, paths
from .datasets import DataUnavailable
from .machine import gpu_devices, quiet_backend_start
from .textio import display_path

__all__ = ["Settings", "setup", "DataUnavailable"]


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value in ("1", "true", "yes", "on")


@dataclass
class Settings:
    """What :func:`setup` found and chose; ``S.pick(quick, full)`` sizes every step."""

    quick: bool
    seed: int
    pretrained: bool
    root: Path
    data: Path
    generated: Path
    runs: Path
    gpus: list[str] = field(default_factory=list)
    backend: str = ""
    versions: dict = field(default_factory=dict)

    @property
    def has_gpu(self) -> bool:
        return bool(self.gpus)

    def pick(self, quick, full):
        """``quick`` in quick mode, else ``full`` (sizes, steps, minutes...)."""
        return quick if self.quick else full

    def fetch(self, name: str, optional: bool = False) -> Path | None:
        """The local path of registered data set ``name`` (:mod:`helpers.datasets`),
        downloaded into ``data/`` the first time. When it cannot be had, raise
        :class:`DataUnavailable`, which a notebook shows as one message saying how to get
        the data; with ``optional``, print that message and return None instead, so the
        rest of the notebook runs."""
        try:
            return datasets.fetch(name)
        except DataUnavailable as e:
            if not optional:
                raise
            print(f"Skipped (data not available): {e}")
            return None


def _show_missing_data(shell, etype, evalue, tb, tb_offset=None):
    """IPython handler for :class:`DataUnavailable`: a missing download is expected, with
    a known remedy, so the reader gets that one message instead of a traceback. It is
    shown as the cell's error (IPython leaves the showing to the handler), and the run of
    the notebook stops there, as after any error."""
    stb = [f"Data not available: {evalue}"]
    if shell is not None and hasattr(shell, "_showtraceback"):
        shell._showtraceback(etype, evalue, stb)
    return stb


def _register_notebook_handlers() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((DataUnavailable,), _show_missing_data)


def setup(seed: int = 0, quick: bool | None = None, pretrained: bool | None = None,
          verbose: bool = True) -> Settings:
    """Check the environment, seed every generator, make the output folders."""
    quiet_backend_start()
    import keras
    import numpy as np

    if quick is None:
        quick = _flag("TEXTGEN_QUICK", False)
    if pretrained is None:
        pretrained = _flag("TEXTGEN_PRETRAINED", True)
    keras.utils.set_random_seed(seed)
    data, generated = paths.data_dir(), paths.generated()
    data.mkdir(parents=True, exist_ok=True)
    generated.mkdir(parents=True, exist_ok=True)
    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "numpy": np.__version__}
    backend = keras.backend.backend()
    mod = sys.modules.get(backend) or importlib.import_module(backend)
    versions[backend] = getattr(mod, "__version__", "?")
    s = Settings(quick, seed, pretrained, paths.ROOT, data, generated, paths.runs_dir(),
                 gpu_devices(), backend, versions)
    _register_notebook_handlers()
    if verbose:
        v = ", ".join(f"{k} {val}" for k, val in versions.items())
        mirror = " (downloads from $TEXTGEN_MIRROR)" if paths.mirror() else ""
        print(f"{v}\nKeras backend: {backend}; "
              f"{'GPU: ' + ', '.join(s.gpus) if s.gpus else 'no GPU: training runs on the CPU'}"
              f"\nquick mode: {quick} (set TEXTGEN_QUICK=1 for a fast run); seed {seed}"
              f"\npretrained models: {pretrained}; data cache: {display_path(data)}/{mirror}"
              f"; outputs: {display_path(generated)}/")
    return s
