"""The machine: the processor as /proc/cpuinfo describes it, the accelerators, and the
quiet start of the backend (in fresh processes, where the start really happens)."""

import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import machine

from .conftest import FIXTURES

pytestmark = pytest.mark.core
ROOT = Path(__file__).resolve().parent.parent
# what TensorFlow's C++ libraries write to fd 2 when they load, whatever the log level
TF_START_UP = ("onednn", "cuda", "absl", "tensorflow")

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu avx512f amx_bf16 amx_tile

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu avx512f amx_bf16 amx_tile
"""


def test_cpu_info_reads_the_model_name_and_flags(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text(CPUINFO)
    info = machine.cpu_info(f)
    assert info.model == "Intel(R) Xeon(R) Platinum 8480+"
    assert {"amx_bf16", "avx512f", "fpu"} <= info.flags and ":" not in info.flags
    # a system without the file (or one naming no model) gives an empty answer
    assert machine.cpu_info(tmp_path / "missing") == machine.CpuInfo()
    f.write_text("processor\t: 0\nfeatures\t: fp asimd\n")
    assert machine.cpu_info(f) == machine.CpuInfo()


def test_bf16_matrix_units_reads_the_cpu_flags(tmp_path):
    with_amx, without = tmp_path / "amx", tmp_path / "plain"
    with_amx.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert machine.bf16_matrix_units(with_amx) and not machine.bf16_matrix_units(without)
    assert not machine.bf16_matrix_units(tmp_path / "missing")


def test_cpu_description_names_the_model_where_the_system_does(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text(CPUINFO)
    cores = os.cpu_count()
    arch = platform.machine()
    assert machine.cpu_description(f) == (
        f"CPU ({cores} cores, Intel(R) Xeon(R) Platinum 8480+, {arch})")
    assert machine.cpu_description(tmp_path / "missing") == f"CPU ({cores} cores, {arch})"


def test_device_name_is_the_accelerators_else_the_cpu():
    gpus = machine.gpu_devices()
    assert machine.has_gpu() == bool(gpus)
    if gpus:
        assert machine.device_name() == ", ".join(gpus)
    else:  # a CPU-only machine, as where the tests run without an accelerator
        assert machine.device_name() == machine.cpu_description()
        assert machine.device_name().startswith(f"CPU ({os.cpu_count()} cores, ")


def _child(code: str, *args: str, backend: str | None = None, **env: str):
    """Run ``code`` (or ``-m helpers`` with ``args``) in a fresh Python, with the default
    TensorFlow log level; return the finished process."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("TEXTGEN_VERBOSE_TF", "TF_CPP_MIN_LOG_LEVEL")}
    if backend:
        base["KERAS_BACKEND"] = backend
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "helpers", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**base, **env, "PYTHONPATH": str(ROOT)})


def _needs(*modules: str) -> None:
    for m in modules:
        if importlib.util.find_spec(m) is None:
            pytest.skip(f"{m} is not installed")


def test_quiet_start_hides_only_the_backend_chatter():
    """A fresh process: what the backend writes to fd 2 while it starts is dropped, and
    stderr works again afterwards."""
    code = ("import os, sys; from helpers.machine import quiet_backend_start; "
            "os.write(2, b'before\\n'); quiet_backend_start(); os.write(2, b'after\\n'); "
            "print('keras' in sys.modules)")
    out = _child(code)
    assert out.returncode == 0 and out.stdout.strip() == "True"
    assert out.stderr.splitlines()[0] == "before" and out.stderr.splitlines()[-1] == "after"
    assert "oneDNN" not in out.stderr and "cuInit" not in out.stderr


def test_tensorflow_imported_later_by_keras_on_torch_is_quiet_too():
    """On torch, Keras imports TensorFlow (where it is installed) the first time it seeds
    the generators or saves a model; that import is quiet as well, and still happens."""
    _needs("torch", "tensorflow")
    code = ("import os, sys; from helpers.machine import quiet_backend_start; "
            "quiet_backend_start(); print('tensorflow' in sys.modules); "
            "import keras; os.write(2, b'seeding\\n'); keras.utils.set_random_seed(1); "
            "os.write(2, b'seeded\\n'); print('tensorflow' in sys.modules)")
    out = _child(code, backend="torch")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
    assert out.stderr.splitlines() == ["seeding", "seeded"]


def test_cli_train_on_torch_prints_no_tensorflow_start_up(tmp_path):
    """``python -m helpers train`` with KERAS_BACKEND=torch, where TensorFlow is installed
    too: none of TensorFlow's start-up lines (they used to come when Keras seeded
    ``tf.random`` and when it saved the first checkpoint)."""
    _needs("torch", "tensorflow")
    out = _child("", "train", str(FIXTURES / "sonnets.txt"), "--run-dir",
                 str(tmp_path / "run"), "--epochs", "1", "--steps-per-epoch", "2",
                 "--units", "16", "--seq-len", "32", "--batch-size", "8",
                 "--samples-per-epoch", "0", backend="torch",
                 TEXTGEN_ENCODED=str(tmp_path / "encoded"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "run" / "best.keras").exists()
    found = [w for w in TF_START_UP if w in out.stderr.lower()]
    assert not found, out.stderr
