"""Documents: one owner for the special tokens and wrapping; a corpus file carries its
own note that it is wrapped, so `train` needs no --documents flag."""

import json

import pytest

from helpers import documents
from helpers.cli import main
from helpers.documents import END, START, corpus_info, sidecar_path, split, wrap, write_corpus
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


def test_a_damaged_note_is_ignored(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    sidecar_path(tmp_path / "a.txt").write_text("{not json")
    assert corpus_info(tmp_path / "a.txt") == {}
