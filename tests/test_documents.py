"""Documents: one owner for the special tokens and wrapping; a corpus file carries its
own note that it is wrapped, so `train` needs no --documents flag."""

import json
import os
import subprocess
import sys

import pytest

from helpers import documents
from helpers.cli import main
from helpers.documents import (
    END,
    START,
    corpus_info,
    sidecar_path,
    split,
    wrap,
    wrapped,
    write_corpus,
)
from helpers.textio import read_texts

from .conftest import FIXTURES

pytestmark = pytest.mark.core


def test_wrap_split_roundtrip_and_cleaning():
    texts = ["one", "", f"t{START}w{END}o", "three\n"]
    w = wrap(texts)
    assert w == f"{START}one{END}\n{START}two{END}\n{START}three\n{END}"
    assert split(w) == ["one", "two", "three\n"]
    assert split("junk" + w + f"{START}unterminated") == ["one", "two", "three\n"]


def test_gutenberg_join_is_unchanged_by_the_move():
    bodies = ["Book one.\nEnd.", "Book two."]
    old = "".join(f"{START}{b}\n{END}" for b in bodies)  # the join Gutenberg used to spell out
    assert wrap((b + "\n" for b in bodies), sep="") == old


def test_vocab_names_are_the_same_objects():
    from helpers import vocab

    assert (vocab.START, vocab.END, vocab.UNK) == documents.SPECIALS
    assert vocab.wrap_documents is documents.wrap


def test_corpus_writes_a_note_and_train_reads_it(tmp_path, capsys):
    out = tmp_path / "reviews.txt"
    assert main(["corpus", "yelp", str(FIXTURES / "reviews.txt"), "--out", str(out)]) == 0
    assert corpus_info(out)["documents"] is True and corpus_info(out)["source"] == "yelp"
    assert main(["corpus", "text", str(FIXTURES / "sonnets.txt"), "--out",
                 str(tmp_path / "plain.txt")]) == 0
    assert corpus_info(tmp_path / "plain.txt")["documents"] is False
    capsys.readouterr()

    from helpers.cli import _documents_flag, build_parser

    def flag(*extra):
        return _documents_flag(build_parser().parse_args(["train", str(out), *extra]))

    assert flag() is True
    assert "from reviews.txt.corpus.json" in capsys.readouterr().err.replace(str(tmp_path) + "/", "")
    assert flag("--no-documents") is False
    assert flag("--documents") is True
    sidecar_path(out).unlink()
    assert flag() is False  # no note, no flag: plain text


def test_the_note_is_not_read_as_text(tmp_path):
    write_corpus(tmp_path / "a.txt", "hello there", documents=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "a.txt.corpus.json"]
    assert read_texts(tmp_path) == "hello there"
    assert json.loads(sidecar_path(tmp_path / "a.txt").read_text())["documents"] is True


# --- a note that cannot be trusted is refused, never ignored --------------------------

ROOT = FIXTURES.parent.parent


def _child(code: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """``code`` in a child with a timeout: a read that blocks (a FIFO) fails the test
    instead of hanging the suite."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "torch"}
    try:
        return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s: {code}")


def _plant(note, kind: str) -> None:
    """Put something that is not a trustworthy note at ``note``."""
    if kind == "fifo":
        os.mkfifo(note)
    elif kind == "folder":
        note.mkdir()
    elif kind == "dev-zero":
        note.symlink_to("/dev/zero")
    elif kind == "dangling-link":
        note.symlink_to(note.parent / "nowhere.json")
    elif kind == "too-big":  # valid, and documents is a boolean: refused for its size
        note.write_text(json.dumps({"documents": False, "pad": "x" * (documents.MAX_NOTE_BYTES)}))
    elif kind == "not-utf8":
        note.write_bytes(b'{"documents": true, "s": "\xff"}')
    else:
        note.write_text(kind, encoding="utf-8")


DAMAGED = ['{"documents": tru', "{not json", "", "[1,2]", '"documents"', "true", "null",
           '{"documents": "no"}', '{"documents": "false"}', '{"documents": 1}',
           '{"documents": 0}', '{"documents": null}', '{"documents": [true]}', "{}",
           '{"source": "yelp"}', "fifo", "folder", "dev-zero", "dangling-link", "too-big",
           "not-utf8"]


@pytest.mark.parametrize("kind", DAMAGED)
def test_a_note_that_cannot_be_trusted_is_refused(tmp_path, kind):
    corpus = tmp_path / "a.txt"
    corpus.write_text("hello there\n")
    _plant(sidecar_path(corpus), kind)
    # in a child: a FIFO read with a plain open() would block for ever
    p = _child("import sys\n"
               "from helpers.documents import wrapped\n"
               "from helpers.textio import CorpusError\n"
               "print(wrapped(sys.argv[1], True), wrapped(sys.argv[1], False))\n"
               "try:\n    print(wrapped(sys.argv[1]))\n"
               "except CorpusError as e:\n    print('refused:', e)\n", str(corpus))
    assert p.returncode == 0, p.stderr
    flags, refused = p.stdout.strip().splitlines()
    assert flags == "(True, None) (False, None)"  # a flag given: the note is not read
    assert refused.startswith("refused: "), refused
    assert "a.txt.corpus.json" in refused and "--no-documents" in refused
    assert "remove it" in refused


@pytest.mark.parametrize("kind", ['{"documents": "no"}', "[1,2]", "fifo", "dev-zero"])
@pytest.mark.parametrize("init_from", [False, True])
def test_train_refuses_a_bad_note_before_anything(tmp_path, kind, init_from):
    """One error line, exit 2, no run folder, no encoded corpus: the answer is refused
    before the corpus is read, by `train` and by `train --init-from` alike."""
    corpus = tmp_path / "a.txt"
    corpus.write_text("hello there, a corpus of a few words\n" * 20)
    _plant(sidecar_path(corpus), kind)
    run = tmp_path / "run"
    extra = ["--init-from", "tweets_char"] if init_from else []
    p = _child("import sys\nfrom helpers.cli import main\nsys.exit(main(sys.argv[1:]))",
               "train", str(corpus), "--run-dir", str(run), "--epochs", "1", *extra,
               timeout=120)
    err = p.stderr.strip()
    assert p.returncode == 2, err
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith("error: ") and "a.txt.corpus.json" in last, err
    assert "--documents" in last and "documents wrapped" not in err
    assert not run.exists()
    # a flag given by hand gets past the same note (refused later only for other reasons)
    assert wrapped(corpus, False) == (False, None)


def test_what_a_good_note_says_is_what_train_gets(tmp_path):
    corpus = tmp_path / "a.txt"
    corpus.write_text("x")
    assert wrapped(corpus) == (False, None)  # no note: plain text, without a word
    write_corpus(corpus, "x", documents=False)
    answer, note = wrapped(corpus)  # the note decided: it says so
    assert answer is False and note.endswith("a.txt.corpus.json")
    assert corpus_info(corpus)["documents"] is False
    write_corpus(corpus, "x", documents=True, source="yelp")
    answer, note = wrapped(corpus)
    assert answer is True and note.endswith("a.txt.corpus.json")
    assert wrapped(tmp_path) == (False, None)  # a folder has no note


@pytest.mark.parametrize("value", ["no", "yes", 1, 0, None])
def test_only_a_real_boolean_is_an_answer(tmp_path, value):
    with pytest.raises(TypeError):
        write_corpus(tmp_path / "a.txt", "x", documents=value)
    assert not (tmp_path / "a.txt").exists() and not sidecar_path(tmp_path / "a.txt").exists()
    if value is not None:
        with pytest.raises(TypeError):
            wrapped(tmp_path / "a.txt", value)
