"""Poems as documents: numbers, titles and editors' notes gone, one document per poem,
the line break and the poem break as word tokens; on a small collection of the
repository's own and on the registered Dickinson edition."""

import re

import pytest

from helpers import documents
from helpers.gutenberg import strip_headers
from helpers.poems import poems_corpus, split_poems
from helpers.textio import CorpusError, decode_text
from helpers.vocab import WordVocab

from .conftest import FIXTURES

pytestmark = pytest.mark.core

# tests/fixtures/poems_collection.txt, read by hand: its six numbered poems in order
EXPECTED = [
    "Success is counted sweetest\nBy those who ne'er succeed.\nTo comprehend a nectar\n"
    "Requires sorest need.\n\nNot one of all the purple host\nWho took the flag to-day\n"
    "Can tell the definition,\nSo clear, of victory,",
    "Our share of night to bear,\nOur share of morning,\nOur blank in bliss to fill,\n"
    "Our blank in scorning.\n\nHere a star, and there a star,\nSome lose their way.",
    "Much madness is divinest sense\nTo a discerning eye;\n"
    "Demur, -- you're straightway dangerous,\nAnd handled with a chain.",
    "I asked no other thing,\nNo other was denied.",
    "Forbidden fruit a flavor has\nThat lawful orchards mocks;\n"
    "How luscious lies the pea within\nThe pod that Duty locks!",
    "I'm nobody!  Who are you?\nAre you nobody, too?\n"
    "Then there 's a pair of us -- don't tell!\nThey 'd banish us, you know.",
]


@pytest.fixture(scope="module")
def collection() -> str:
    return (FIXTURES / "poems_collection.txt").read_text(encoding="utf-8")


def test_each_numbered_poem_is_one_document(collection):
    corpus = poems_corpus(collection)
    assert documents.split(corpus) == [p + "\n" for p in EXPECTED]
    # nothing outside the poems: header, licence, title pages, prefaces, epigraphs
    outside = documents.clean(corpus).replace("\n", " ")
    for text in ("Gutenberg", "PREFACE", "Emerson", "letter to the world", "nosegays",
                 "Second Series", "LIFE", "Updated editions"):
        assert text not in outside, text


def test_numbers_titles_and_notes_are_removed_stanzas_kept(collection):
    poems = split_poems(strip_headers(collection))  # it reads a body, licence stripped
    assert poems == EXPECTED
    for p in poems:
        assert not re.search(r"(?m)^[IVXLC]+\.$", p)  # no number left, none run into a poem
        assert "[" not in p and "SUCCESS" not in p and "FORBIDDEN" not in p
        assert all(line == line.strip() for line in p.split("\n"))  # indentation gone
        assert "\n\n\n" not in p  # one blank line between stanzas, however many there were


def test_line_break_and_poem_break_are_word_tokens(collection):
    corpus = poems_corpus(collection)
    vocab = WordVocab.build(corpus)
    tokens = vocab.tokenize(corpus)
    assert tokens.count("<s>") == tokens.count("</s>") == len(EXPECTED)
    ends = [i for i, t in enumerate(tokens) if t == "</s>"]
    assert all(tokens[i - 1] == "\n" for i in ends)  # the last line ends with a line break
    assert all(tokens[i + 1] == "<s>" for i in ends[:-1])  # then the next poem begins
    lines = sum(p.count("\n") + 1 for p in EXPECTED)  # verse lines and blank stanza lines
    assert tokens.count("\n") == lines
    assert vocab.detokenize(tokens[1:ends[0]]).startswith("success is counted sweetest\nby")


def test_crlf_gives_the_same_poems(collection):
    assert poems_corpus(collection.replace("\n", "\r\n")) == poems_corpus(collection)


def test_text_without_numbered_poems_is_an_error():
    with pytest.raises(CorpusError, match="Roman numeral"):
        poems_corpus("*** START OF THE PROJECT GUTENBERG EBOOK X ***\nPlain prose.\n")


def test_registered_dickinson_edition(fetch_data):
    """Project Gutenberg #12242 as the registry serves it (ISO-8859-1, CRLF)."""
    raw = fetch_data("gutenberg-12242").read_bytes()
    text = decode_text(raw)
    corpus = poems_corpus(text)
    poems = [p[:-1] for p in documents.split(corpus)]
    # 448 numbers in the book; two of them ("IV.", "V." of the third series) carry only a
    # title over a second number, so 446 poems
    assert len(re.findall(r"(?m)^[IVXLC]+\.\r?$", raw.decode("latin-1"))) == 448
    assert len(poems) == 446
    assert poems[0].startswith("Success is counted sweetest\n")
    assert poems[-1].endswith("Land, ho! Eternity!\nAshore at last!")
    assert any(p.startswith("Forbidden fruit a flavor has\n") for p in poems)
    # the poem that follows "And handled with a chain." with no blank line is its own
    assert any(p.endswith("And handled with a chain.") for p in poems)
    assert any(p.startswith("I asked no other thing,\n") for p in poems)
    assert "learnèd" in corpus  # the 8-bit edition's accents survive decoding
    for p in poems:
        assert not re.search(r"(?m)^[IVXLC]+\.$", p) and "[" not in p, p[:60]
        assert "Gutenberg" not in p and "PREFACE" not in p, p[:60]
        first = p.split("\n")[0]
        assert any(c.islower() for c in first), first  # no title left
    assert min(p.count("\n") + 1 for p in poems) >= 4
