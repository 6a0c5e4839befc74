"""The notebook set-up helper: settings, quick mode, data, backend choice (its quiet start:
test_machine.py)."""

import os

import pytest

import helpers
from helpers.workshop import DataUnavailable, _show_missing_data, setup

from .httpserve import refusing_url

pytestmark = pytest.mark.core


def test_setup_reports_and_picks_by_mode(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TEXTGEN_QUICK", "1")
    monkeypatch.setenv("TEXTGEN_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("TEXTGEN_GENERATED", str(tmp_path / "g"))
    monkeypatch.delenv("TEXTGEN_PRETRAINED", raising=False)
    s = setup(seed=3)
    out = capsys.readouterr().out
    assert s.quick and s.pick("small", "big") == "small" and s.seed == 3 and s.pretrained
    assert "quick mode: True" in out and f"Keras backend: {s.backend}" in out
    assert s.generated == tmp_path / "g" and s.data == tmp_path / "d"
    assert s.generated.is_dir() and s.data.is_dir() and "keras" in s.versions
    assert s.has_gpu == bool(s.gpus)
    monkeypatch.delenv("TEXTGEN_QUICK")
    monkeypatch.setenv("TEXTGEN_PRETRAINED", "0")
    s = setup(verbose=False)
    assert s.pick("small", "big") == "big" and not s.pretrained


def test_fetch_required_raises_optional_says_and_goes_on(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TEXTGEN_MIRROR", refusing_url())
    monkeypatch.setenv("TEXTGEN_DATA", str(tmp_path))
    s = setup(verbose=False)
    with pytest.raises(DataUnavailable, match="TEXTGEN_MIRROR"):
        s.fetch("yelp-100")
    assert s.fetch("yelp-100", optional=True) is None
    out = capsys.readouterr().out
    assert out.startswith("Skipped (data not available): yelp/yelp_100_3.txt is not in")
    # in a notebook the exception is shown as this one line, not a traceback
    assert _show_missing_data(None, DataUnavailable, DataUnavailable("no file"), None) == [
        "Data not available: no file"]


def test_backend_recorded_in_the_environment_is_used(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    helpers._backend_from_venv(str(tmp_path))
    assert "KERAS_BACKEND" not in os.environ  # no file: Keras' own default
    (tmp_path / helpers.BACKEND_FILE).write_text("torch\n")
    helpers._backend_from_venv(str(tmp_path))
    assert os.environ["KERAS_BACKEND"] == "torch"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    helpers._backend_from_venv(str(tmp_path))
    assert os.environ["KERAS_BACKEND"] == "jax"  # an explicit choice wins
