import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import main

pytestmark = pytest.mark.core
ROOT = Path(__file__).resolve().parent.parent


def test_help_mentions_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("sample", "train", "export", "zoo", "corpus"):
        assert cmd in out


def test_sample_writes_file(tmp_path, capsys):
    out = tmp_path / "s.txt"
    assert main(["sample", "--zoo", "shakespeare_char", "--prompt", "KING:", "--length", "50",
                 "-n", "2", "--seed", "3", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("KING:") == 2 and "sample 2" in text
    assert text in capsys.readouterr().out


def test_clear_errors_exit_2(capsys):
    assert main(["sample", "--zoo", "shakespeare_char", "-t", "0"]) == 2
    err = capsys.readouterr().err
    assert "--temperature" in err and "must be a finite number" in err and "--greedy" in err
    assert main(["sample", "--zoo", "shakespeare_char", "--prompt", "日本"]) == 2
    assert "never saw" in capsys.readouterr().err
    assert main(["sample", "--zoo", "nope"]) == 2
    assert "No zoo model named 'nope'" in capsys.readouterr().err


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "helpers", "zoo"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert r.returncode == 0 and "shakespeare_char" in r.stdout
