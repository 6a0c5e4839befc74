"""The notebook set-up helper: settings, quick mode, fixture-data location, quiet start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.workshop import setup, shared_data, shared_data_path

pytestmark = pytest.mark.core
ROOT = Path(__file__).resolve().parent.parent


def test_setup_reports_and_picks_by_mode(monkeypatch, capsys):
    monkeypatch.setenv("TEXTGEN_QUICK", "1")
    s = setup(seed=3)
    out = capsys.readouterr().out
    assert s.quick and s.pick("small", "big") == "small" and s.seed == 3
    assert "quick mode: True" in out and f"Keras backend: {s.backend}" in out
    assert s.generated.is_dir() and s.data.is_dir() and "keras" in s.versions
    assert s.has_gpu == bool(s.gpus)
    monkeypatch.delenv("TEXTGEN_QUICK")
    assert setup(verbose=False).pick("small", "big") == "big"


def test_shared_data_location_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTGEN_SHARED_DATA", str(tmp_path / "nowhere"))
    assert shared_data_path() == tmp_path / "nowhere" and shared_data() is None
    monkeypatch.setenv("TEXTGEN_SHARED_DATA", str(tmp_path))
    assert shared_data() == tmp_path


def test_quiet_start_hides_only_the_backend_chatter():
    """A fresh process: what the backend writes to fd 2 while it starts is dropped, and
    stderr works again afterwards."""
    code = ("import os, sys; from helpers.workshop import quiet_backend_start; "
            "os.write(2, b'before\\n'); quiet_backend_start(); os.write(2, b'after\\n'); "
            "print('keras' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "TEXTGEN_VERBOSE_TF"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "True"
    assert out.stderr.splitlines()[0] == "before" and out.stderr.splitlines()[-1] == "after"
    assert "oneDNN" not in out.stderr and "cuInit" not in out.stderr
