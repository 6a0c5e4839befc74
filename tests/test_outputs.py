"""Every path a user names for the project to write follows one rule (helpers.outputs):
names are names, never paths; links, FIFOs, sockets and devices are refused, never
written through or replaced; writes are atomic; nothing is replaced without --force, which
keeps the old one as ``<name>.previous``."""

from __future__ import annotations

import os
import socket

import pytest

from helpers import cli, zoo
from helpers.outputs import OutputError, check_name, write_file

pytestmark = pytest.mark.core


def _cli(capsys, *argv) -> tuple[int, list[str]]:
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [x for x in err.splitlines() if x.startswith("error:")]


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/etc/x", "a\\b", "../zoo", "-x",
                                  ".hidden", "x" * 65, "a b", "name.previous", "ü"])
def test_names_that_are_paths_are_refused(name):
    with pytest.raises(OutputError, match="not a plain name"):
        check_name(name)


def test_plain_names_pass():
    for name in ("shakespeare_char", "novels-2", "A1"):
        assert check_name(name) == name


def test_write_file_new_existing_force(tmp_path):
    out = tmp_path / "sub" / "out.txt"
    write_file(out, "one")
    assert out.read_text() == "one"
    with pytest.raises(OutputError, match="exists.*--force"):
        write_file(out, "two")
    assert out.read_text() == "one"
    write_file(out, "two", force=True)
    assert out.read_text() == "two" and (tmp_path / "sub" / "out.txt.previous").read_text() == "one"
    write_file(out, "three", force=True)  # one previous copy: the one just replaced
    assert (tmp_path / "sub" / "out.txt.previous").read_text() == "two"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.txt", "out.txt.previous"]


def _specials(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    return target, {"a symbolic link": link, "a FIFO": fifo, "a socket": sock_path,
                    "a folder": tmp_path, "a device": "/dev/null"}, sock


def test_links_fifos_sockets_devices_folders_are_refused_even_with_force(tmp_path):
    target, specials, sock = _specials(tmp_path)
    try:
        for what, path in specials.items():
            for force in (False, True):
                with pytest.raises(OutputError, match=f"is {what}"):
                    write_file(path, "x", force=force)  # (a FIFO: no hang, nothing opened)
        assert target.read_text() == "keep me" and os.path.islink(specials["a symbolic link"])
        assert not os.path.isfile(specials["a FIFO"])
    finally:
        sock.close()


def test_cli_sample_out_fifo_symlink_existing(tmp_path, capsys):
    target, specials, sock = _specials(tmp_path)
    sock.close()
    args = ["sample", "--zoo", "shakespeare_char", "--length", "20", "--seed", "1"]
    for what in ("a FIFO", "a symbolic link"):
        code, errors = _cli(capsys, *args, "--out", str(specials[what]), "--force")
        assert code == 2 and len(errors) == 1 and f"is {what}" in errors[0], errors
    assert not os.path.isfile(specials["a FIFO"]) and os.path.islink(specials["a symbolic link"])
    assert target.read_text() == "keep me"
    out = tmp_path / "samples.txt"
    assert _cli(capsys, *args, "--out", str(out)) == (0, [])
    first = out.read_text()
    code, errors = _cli(capsys, *args, "--out", str(out), "--seed", "2")
    assert code == 2 and "exists" in errors[0] and "--force" in errors[0]
    assert out.read_text() == first
    assert _cli(capsys, *args, "--out", str(out), "--seed", "2", "--force") == (0, [])
    assert (tmp_path / "samples.txt.previous").read_text() == first != out.read_text()


def test_cli_corpus_out_is_not_replaced_without_force(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("Some text to build a corpus from.\n" * 20)
    out = tmp_path / "corpus.txt"
    out.write_text("an earlier corpus")
    code, errors = _cli(capsys, "corpus", "text", str(src), "--out", str(out))
    assert code == 2 and "exists" in errors[0]
    assert out.read_text() == "an earlier corpus"
    assert _cli(capsys, "corpus", "text", str(src), "--out", str(out), "--force")[0] == 0
    assert (tmp_path / "corpus.txt.previous").read_text() == "an earlier corpus"
    assert "Some text" in out.read_text()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, sonnets):
    from helpers.train import train

    run = tmp_path_factory.mktemp("export") / "run"
    train(sonnets[:6000], run, {"units": 8, "embed_dim": 4, "layers": 1, "dropout": 0.0},
          {"seq_len": 16, "batch_size": 8, "steps_per_epoch": 2, "epochs": 1,
           "warmup_steps": 1, "samples_per_epoch": 0, "verbose": 0})
    return run


@pytest.mark.parametrize("name", ["..", "../outside", "/tmp/anywhere", "a/b", "."])
def test_export_name_that_is_a_path_is_refused(tmp_path, capsys, tiny_run, name):
    zoo_dir = tmp_path / "place" / "zoo"
    zoo_dir.mkdir(parents=True)
    code, errors = _cli(capsys, "export", str(tiny_run), "--name", name,
                        "--zoo-dir", str(zoo_dir))
    assert code == 2 and len(errors) == 1 and "not a plain name" in errors[0], errors
    assert list(tmp_path.rglob("*")) == [tmp_path / "place", zoo_dir]  # nothing written


def test_export_does_not_replace_a_bundle_without_force(tmp_path, capsys, tiny_run):
    zoo_dir = tmp_path / "zoo"
    assert _cli(capsys, "export", str(tiny_run), "--name", "tiny", "--zoo-dir",
                str(zoo_dir), "--title", "first")[0] == 0
    card = (zoo_dir / "tiny" / "README.md").read_text()
    code, errors = _cli(capsys, "export", str(tiny_run), "--name", "tiny", "--zoo-dir",
                        str(zoo_dir), "--title", "second")
    assert code == 2 and "exists" in errors[0] and "--force" in errors[0]
    assert (zoo_dir / "tiny" / "README.md").read_text() == card
    assert _cli(capsys, "export", str(tiny_run), "--name", "tiny", "--zoo-dir",
                str(zoo_dir), "--title", "second", "--force")[0] == 0
    assert (zoo_dir / "tiny.previous" / "README.md").read_text() == card
    assert "second" in (zoo_dir / "tiny" / "README.md").read_text()
    assert zoo.available(zoo_dir) == ["tiny"]  # the kept copy is not a bundle of the zoo
    assert not [p for p in zoo_dir.iterdir() if p.name.startswith(".")]  # no half-made one


def test_cli_train_run_dir_that_is_a_link_or_fifo_is_refused_before_reading(tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for run in (fifo, link):
        code, errors = _cli(capsys, "train", str(tmp_path / "missing.txt"), "--run-dir", str(run))
        assert code == 2 and len(errors) == 1 and "--run-dir" in errors[0], errors
        assert "missing.txt" not in errors[0]  # refused before the corpus is read
    assert list(real.iterdir()) == [] and not os.path.isdir(fifo)
