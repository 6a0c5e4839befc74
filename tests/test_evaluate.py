import math
import random

import numpy as np
import pytest

from helpers.evaluate import (
    NgramIndex,
    compile_rate,
    distinct_n,
    nearest_tfidf_distance,
    novelty,
    text_loss,
)
from helpers.model import ModelConfig, build_model
from helpers.vocab import CharVocab

pytestmark = pytest.mark.core


def test_seen_matches_brute_force():
    rng = random.Random(0)
    corpus = "".join(rng.choice("abc") for _ in range(3000))
    idx = NgramIndex(corpus)
    text = "".join(rng.choice("abcd") for _ in range(200))
    for n in (1, 3, 6, 9):
        brute = [text[i:i + n] in corpus for i in range(len(text) - n + 1)]
        assert idx.seen(text, n).tolist() == brute


def test_longest_copied_matches_brute_force():
    rng = random.Random(0)
    corpus = "".join(rng.choice("abcé") for _ in range(3000))  # é: two bytes in UTF-8
    idx = NgramIndex(corpus)
    for _ in range(40):
        text = "".join(rng.choice("abcdéë") for _ in range(rng.randint(1, 60)))
        brute = max((j - i for i in range(len(text)) for j in range(i + 1, len(text) + 1)
                     if text[i:j] in corpus), default=0)
        n, copied = idx.longest_copied(text)
        assert n == brute == len(copied) and copied in corpus and copied in text
        where = idx.longest_copy(text)  # and where it is, in both texts
        s, c = where["sample_start"], where["corpus_start"]
        assert text[s:s + n] == copied == corpus[c:c + n]
        assert where["corpus_line"] == corpus[:c].count("\n") + 1
    assert idx.longest_copied("zzz") == (0, "")


def test_copied_passage_scores_as_copied_and_shuffled_as_novel(shakespeare):
    idx = NgramIndex(shakespeare)
    copied = shakespeare[10_000:10_500]
    r = novelty(copied, idx)
    assert r["longest_copied"] == 500 and r["seen_8gram_share"] == 1.0
    shuffled = "".join(random.Random(1).sample(copied, len(copied)))
    r = novelty(shuffled, idx)
    assert r["longest_copied"] < 12 and r["seen_8gram_share"] < 0.05
    spliced = "zzqx" + shakespeare[50_000:50_080] + "qqzx"
    r = novelty(spliced, idx)
    assert r["longest_copied"] >= 80 and shakespeare[50_000:50_080] in r["longest_copied_text"]


def test_distinct_n_known_values():
    assert distinct_n("a a a a", 1) == 0.25
    assert distinct_n(["a b c", "a b d"], 2) == 3 / 4
    assert distinct_n("abab", 2, words=False) == 2 / 3


def test_tfidf_distance():
    docs = ["the cat sat on the mat", "dogs bark loudly at night"]
    d = nearest_tfidf_distance(["the cat sat on the mat", "quantum chromodynamics"], docs)
    assert d[0] == pytest.approx(0.0, abs=1e-9) and d[1] == pytest.approx(1.0)


def test_compile_rate():
    assert compile_rate(["x = 1", "def f(:", "pass"]) == pytest.approx(2 / 3)


def test_uniform_model_loss_is_log_vocab():
    vocab = CharVocab.build("abcdefgh ")
    m = build_model(ModelConfig(vocab_size=len(vocab), embed_dim=4, units=4, layers=1))
    dense = m.get_layer("logits")
    dense.kernel.assign(np.zeros(dense.kernel.shape, "float32"))
    dense.bias.assign(np.zeros(dense.bias.shape, "float32"))
    text = "abc defgh " * 50
    for carry in (False, True):
        r = text_loss(m, vocab, text, seq_len=32, carry_state=carry, streams=4)
        assert r["nats"] == pytest.approx(math.log(len(vocab)), rel=1e-5)
        assert r["bits"] == pytest.approx(math.log2(len(vocab)), rel=1e-5)


def test_zoo_model_beats_uniform_on_shakespeare(shakespeare):
    from helpers import zoo

    m = zoo.load("shakespeare_char")
    val = shakespeare[-20_000:]
    r = text_loss(m.model, m.vocab, val, seq_len=256)
    assert 1.2 < r["nats"] < 1.7  # its card says 1.472 on the whole split
    assert text_loss(m.model, m.vocab, val, carry_state=True)["nats"] < r["nats"] + 0.02
