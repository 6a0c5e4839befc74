import numpy as np
import pytest

from helpers.textio import CorpusError
from helpers.vocab import END, START, UNK, CharVocab, WordVocab, load_vocab

pytestmark = pytest.mark.core


def test_char_vocab_roundtrip_and_rare(sonnets):
    v = CharVocab.build(sonnets, min_count=100)
    assert v.tokens[:3] == [START, END, UNK]
    rare = v.rare()
    assert rare and all(n < 100 for n in rare.values())
    ids = v.encode(sonnets[:5000])
    assert ids.dtype == np.uint8
    text = sonnets[:5000]
    expected = "".join(c if c in v else UNK for c in text)
    assert v.decode(ids) == expected


def test_char_vocab_strict_and_unknown():
    v = CharVocab.build("hello")
    with pytest.raises(KeyError, match="'z'"):
        v.encode("hez", errors="strict")
    assert v.decode(v.encode("hez")) == "he" + UNK
    assert v.unknown("hezq") == ["z", "q"]
    assert v.decode(v.encode(START + "he" + END), specials=False) == "he"
    with pytest.raises(CorpusError):
        CharVocab.build("")


def test_save_load_json(tmp_path):
    v = CharVocab.build("the quick brown fox\n")
    p = v.save(tmp_path / "v.json")
    assert p.read_text().startswith("{")
    w = load_vocab(p)
    assert w == v and w.fingerprint() == v.fingerprint() and isinstance(w, CharVocab)
    (tmp_path / "bad.json").write_text('{"kind": "char", "tok')
    with pytest.raises(ValueError, match="truncated"):
        load_vocab(tmp_path / "bad.json")


def test_word_vocab():
    text = "The cat sat.\nThe dog sat, too!\nA cat's hat."
    v = WordVocab.build(text, max_words=50)
    toks = v.tokenize("The cat's hat.\n")
    assert toks == ["the", "cat's", "hat", ".", "\n"]
    assert v.decode(v.encode("the cat sat, too!\nthe dog.")) == "the cat sat, too!\nthe dog."
    small = WordVocab.build(text, max_words=5)
    assert len(small) == 5
    assert "<unk>" in small.decode(small.encode("zebra"))


def test_word_vocab_json(tmp_path):
    v = WordVocab.build("a b c a b a", max_words=10, lower=False)
    w = load_vocab(v.save(tmp_path / "w.json"))
    assert isinstance(w, WordVocab) and w == v and w.lower is False


def test_from_counts_keeps_specials_first_and_breaks_ties_by_first_appearance():
    from collections import Counter

    counts = {"b": 3, "a": 3, "c": 1, START: 9}
    v = CharVocab.from_counts(counts, max_size=4)
    assert v.tokens == [START, END, UNK, "b"] and v.counts == counts  # b came first
    assert CharVocab.from_counts(counts, min_count=2).tokens == [START, END, UNK, "a", "b"]
    with pytest.raises(CorpusError):
        CharVocab.from_counts({})
    text = "the cat and the hat <s> and the bat"
    w = WordVocab.from_counts(Counter(WordVocab.probe().tokenize(text)), max_words=5)
    assert w.tokens == ["<unk>", "<s>", "</s>", "the", "and"] == WordVocab.build(text, 5).tokens
    assert "<s>" not in w.counts


def test_word_tokenizer_spells_the_special_tokens_from_one_place():
    from helpers.documents import WORD_SPECIALS

    v = WordVocab.probe()
    assert v.tokens == list(WORD_SPECIALS) == ["<unk>", "<s>", "</s>"]
    assert v.tokenize("<S> x </s><unk>\x02y\x03") == ["<s>", "x", "</s>", "<unk>", "<s>", "y",
                                                       "</s>"]
