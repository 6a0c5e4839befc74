import pytest

from helpers.textio import (
    CorpusError,
    atomic_path,
    atomic_write_text,
    decode_text,
    read_text,
    read_texts,
)

pytestmark = pytest.mark.core


def test_atomic_write_replaces_and_keeps_old_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "first")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("killed")
    assert target.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temp file left
    atomic_write_text(target, "second")
    assert target.read_text() == "second"


def test_decode_bom_crlf_and_legacy():
    assert decode_text("\ufeffa\r\nb\rc".encode()) == "a\nb\nc"
    assert decode_text("café".encode("latin-1")) == "café"
    assert decode_text("hé".encode("utf-16")) == "hé"


def test_binary_and_empty_refused(tmp_path):
    b = tmp_path / "x.bin"
    b.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(CorpusError, match="binary"):
        read_text(b)
    e = tmp_path / "e.txt"
    e.write_text("  \n")
    with pytest.raises(CorpusError, match="empty"):
        read_text(e)
    with pytest.raises(FileNotFoundError):
        read_text(tmp_path / "nope.txt")


def test_read_texts_folder_skips_binary(tmp_path):
    (tmp_path / "a.txt").write_text("alpha")
    (tmp_path / "b.txt").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("gamma")
    assert read_texts(tmp_path) == "alpha\n\ngamma"
    (tmp_path / "a.txt").unlink()
    (tmp_path / "sub" / "c.md").unlink()
    with pytest.raises(CorpusError, match="b.txt"):
        read_texts(tmp_path)


def test_display_path_hides_machine_specific_prefixes(tmp_path):
    from pathlib import Path

    from helpers.textio import ROOT, display_path

    assert display_path(ROOT / "runs" / "x") == "runs/x"
    assert display_path(Path.home() / "a" / "b") == "~/a/b"
    assert display_path("/nonexistent-root-xyz/f") == "/nonexistent-root-xyz/f"


def test_remove_stale_temps_spares_young_ones_when_asked(tmp_path):
    import os
    import time

    from helpers.textio import remove_stale_temps

    old, young = tmp_path / ".x.json.a1", tmp_path / ".x.json.b2"
    for p in (old, young):
        p.write_text("partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (tmp_path / "x.json").write_text("{}")
    assert remove_stale_temps(tmp_path, ("x.json",), min_age_s=3600) == [old]
    assert remove_stale_temps(tmp_path, ("x.json",)) == [young]  # under a lock: all of them
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
