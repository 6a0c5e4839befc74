"""The machine a command runs on, and the quiet start of the Keras backend.

What the rest of the package asks about the hardware is answered here, each from one
place: the accelerators Keras' backend can see (:func:`gpu_devices`), the processor as
Linux describes it in ``/proc/cpuinfo`` (:func:`cpu_info`, read by nothing else), whether
it has bfloat16 matrix units (:func:`bf16_matrix_units`), and the one line a record
keeps of where a run trained (:func:`device_name`).

:func:`quiet_backend_start` is how the notebooks' setup cell and every command of
``python -m helpers`` that needs Keras start it: without TensorFlow's C++ start-up lines.

A ground-floor module: it imports nothing from the package, and Keras only inside the
functions that need it, so asking about the CPU costs no backend start.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["CPUINFO", "CpuInfo", "cpu_info", "bf16_matrix_units", "cpu_description",
           "gpu_devices", "has_gpu", "device_name", "quiet_backend_start"]

CPUINFO = "/proc/cpuinfo"  # Linux's; elsewhere there is none and the answers say so


@dataclass(frozen=True)
class CpuInfo:
    """What ``/proc/cpuinfo`` says of the processor: its model name (the first listed;
    empty where it names none) and the feature flags of its cores."""

    model: str = ""
    flags: frozenset[str] = field(default_factory=frozenset)


def cpu_info(path: str | os.PathLike = CPUINFO) -> CpuInfo:
    """The processor's model name and flags, from ``path`` (Linux's ``/proc/cpuinfo``
    format); an empty :class:`CpuInfo` where the file cannot be read."""
    model, flags = "", set()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if not sep:
                    continue
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "flags":
                    flags.update(value.split())
    except OSError:
        pass
    return CpuInfo(model, frozenset(flags))


def bf16_matrix_units(cpuinfo: str | os.PathLike = CPUINFO) -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX: the
    ``amx_bf16`` flag of Linux's ``/proc/cpuinfo``). Only there does
    ``precision="mixed_bfloat16"`` speed up the fused LSTM (``bench/bench_kernel.py``);
    elsewhere bfloat16 is emulated and slower than float32. False where it cannot tell."""
    return "amx_bf16" in cpu_info(cpuinfo).flags


def cpu_description(cpuinfo: str | os.PathLike = CPUINFO) -> str:
    """``CPU (<cores> cores, <model name>, <architecture>)``; without the model name
    where the system does not give one (only Linux names the processor model)."""
    arch = platform.machine()
    model = cpu_info(cpuinfo).model
    return f"CPU ({os.cpu_count()} cores, {f'{model}, ' if model else ''}{arch})"


def gpu_devices() -> list[str]:
    """Accelerators Keras' backend can see, named where the backend says (empty on a
    CPU-only machine). Starts the backend if nothing has yet."""
    import keras

    if keras.backend.backend() == "torch":
        torch = importlib.import_module("torch")
        return [f"cuda:{i} ({torch.cuda.get_device_name(i)})"
                for i in range(torch.cuda.device_count())]
    try:
        devs = keras.distribution.list_devices()
    except Exception:  # backends without keras.distribution support
        return []
    return [d for d in devs if not d.lower().startswith("cpu")]


def has_gpu() -> bool:
    """Whether Keras trains on an accelerator here."""
    return bool(gpu_devices())


def device_name() -> str:
    """The accelerators Keras trains on, or the CPU's description: what a record or a
    timing keeps of the machine."""
    gpus = gpu_devices()
    return ", ".join(gpus) if gpus else cpu_description()


@contextmanager
def _quiet_fd2():
    """The process's stderr (file descriptor 2, which C++ libraries write to directly)
    sent to /dev/null inside the block. Process-wide: another thread's stderr is lost
    too meanwhile, so keep the block to a library's start."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_QUIET_MARK = "_textgen_quiet"


def _quiet_lazy_tensorflow() -> None:
    """Make Keras' own later import of TensorFlow quiet, on the other backends.

    Wherever TensorFlow is installed, Keras imports it on any backend the first time it
    asks whether TensorFlow is there: ``keras.utils.set_random_seed`` (to seed
    ``tf.random`` for ``tf.data`` pipelines, which every training run calls) and the
    saving of a ``.keras`` file do, long after the backend started. That import writes
    the start-up lines ("oneDNN custom operations are on", "Could not find cuda
    drivers") again. Keras asks through one lazy handle (``module_utils.tensorflow``):
    its import runs with fd 2 silenced, when and if Keras wants it, so a command that
    never needs it does not pay TensorFlow's start (2 s) either. Where a Keras version
    lays this out otherwise, nothing is changed: the lines come back, nothing breaks."""
    if "tensorflow" in sys.modules:
        return
    try:
        module_utils = importlib.import_module("keras.src.utils.module_utils")
    except ImportError:
        return
    lazy = getattr(module_utils, "tensorflow", None)
    initialize = getattr(lazy, "initialize", None)
    if (getattr(lazy, "module", True) is not None or not callable(initialize)
            or getattr(initialize, _QUIET_MARK, False)):
        return

    def quiet_initialize():
        with _quiet_fd2():
            initialize()

    setattr(quiet_initialize, _QUIET_MARK, True)
    lazy.initialize = quiet_initialize


def quiet_backend_start() -> None:
    """Start Keras without TensorFlow's C++ start-up chatter ("oneDNN custom operations
    are on", "could not find cuda drivers", ...), which no setting turns off.

    Imports Keras and runs one tiny op with the process's stderr (file descriptor 2) sent
    to /dev/null; on the other backends, also the import of TensorFlow that Keras makes
    later by itself (:func:`_quiet_lazy_tensorflow`). Imports nothing once Keras is
    imported, and does nothing with ``TEXTGEN_VERBOSE_TF=1``."""
    if os.environ.get("TEXTGEN_VERBOSE_TF", "0").strip() not in ("", "0"):
        return
    if "keras" not in sys.modules:
        with _quiet_fd2():
            import keras

            keras.ops.convert_to_numpy(keras.ops.ones((1,)) + 1)
    _quiet_lazy_tensorflow()
