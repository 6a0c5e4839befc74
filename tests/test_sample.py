import math

import numpy as np
import pytest

from helpers.model import ModelConfig, build_model
from helpers.sample import Generator, check_sampling_args, sample_from_logits
from helpers.vocab import CharVocab, WordVocab

pytestmark = pytest.mark.core


def test_seeded_samples_are_reproducible(tiny_model):
    model, vocab = tiny_model
    g = Generator(model, vocab)
    a = g.generate("abc", length=40, n=3, seed=7, temperature=0.9)
    b = g.generate("abc", length=40, n=3, seed=7, temperature=0.9)
    assert [s.text for s in a] == [s.text for s in b]
    assert len(a) == 3 and all(len(s.token_ids) == len(s.probs) for s in a)
    assert all(0 < p <= 1 for p in a[0].probs)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "hot"])
def test_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        check_sampling_args(bad)


def test_top_k_and_top_p_truncate():
    logits = np.log(np.array([[0.05, 0.6, 0.3, 0.05]]))
    rng = np.random.default_rng(0)
    ids = [int(sample_from_logits(logits, 1.0, top_k=1, rng=rng)[0][0]) for _ in range(20)]
    assert set(ids) == {1}
    ids = {int(sample_from_logits(logits, 1.0, top_p=0.8, rng=rng)[0][0]) for _ in range(200)}
    assert ids == {1, 2}
    ids = {int(sample_from_logits(logits, 1.0, rng=rng)[0][0]) for _ in range(500)}
    assert ids == {0, 1, 2, 3}
    ids, p = sample_from_logits(logits, greedy=True)
    assert ids[0] == 1 and math.isclose(p[0], 0.6, rel_tol=1e-6)


def test_low_temperature_is_greedy():
    from helpers import zoo

    g = zoo.load("shakespeare_char").generator
    greedy = g.generate("ROMEO:", length=60, greedy=True)[0].text
    cold = g.generate("ROMEO:", length=60, temperature=1e-3, seed=1)[0].text
    assert greedy == cold


def test_unknown_prompt_characters(tiny_model):
    model, vocab = tiny_model
    g = Generator(model, vocab)
    with pytest.raises(ValueError, match="'é'"):
        g.generate("abé", length=5)
    assert g.generate("abé", length=5, unknown="unk", seed=0)[0].prompt == "abé"
    # "drop": the model reads the prompt without the unknown character
    assert list(g.encode_prompt("abé", "drop")) == list(vocab.encode("ab"))
    assert list(g.encode_prompt("abé", "unk")) == [*vocab.encode("ab"), vocab.unk_id]
    dropped = g.generate("abé", length=30, unknown="drop", seed=0, stop_at_end=False)[0]
    assert dropped.text == g.generate("ab", length=30, seed=0, stop_at_end=False)[0].text


def _biased_model(vocab, favourite: str):
    """A model whose output always prefers ``favourite`` (dense bias), for stop tests."""
    m = build_model(ModelConfig(vocab_size=len(vocab), embed_dim=4, units=4, layers=1))
    dense = m.get_layer("logits")
    bias = np.full(len(vocab), -20.0, "float32")
    bias[vocab.index[favourite]] = 20.0
    dense.bias.assign(bias)
    dense.kernel.assign(np.zeros(dense.kernel.shape, "float32"))
    return m


def test_end_token_and_stop_strings_stop():
    vocab = CharVocab.build("ab\nc")
    g = Generator(_biased_model(vocab, vocab.end), vocab, documents=True)
    s = g.generate("a", length=50, seed=0)[0]
    assert s.stopped_by == "end" and s.text == ""
    g2 = Generator(_biased_model(vocab, "\n"), vocab)
    s = g2.generate("a", length=50, seed=0, stop="\n\n")[0]
    assert s.stopped_by == "stop:\n\n" and s.text == ""
    assert g2.generate("a", length=50, seed=0)[0].text == "\n" * 50


def test_vocab_model_mismatch(tiny_model):
    model, _ = tiny_model
    with pytest.raises(ValueError, match="do not belong together"):
        Generator(model, CharVocab.build("xyz"))


def test_beam_search_finds_likely_text():
    vocab = CharVocab.build("ab\nc")
    g = Generator(_biased_model(vocab, "c"), vocab)
    assert g.beam_search("a", length=5, width=3).text == "ccccc"


def test_explorer_regenerates_on_change():
    from helpers import zoo
    from helpers.explore import explorer

    box = explorer(zoo.load("shakespeare_char").generator, prompt="ROMEO:", length=40)
    first = box.output.value
    assert first.count("<span") > 30
    box.controls["temperature"].value = 1.9
    assert box.output.value != first
    box.controls["prompt"].value = "日本"
    assert "日本" in box.output.value  # unknown characters become the unknown token


def test_word_samples_are_spaced_like_the_whole_text(capsys):
    """Word-level text is built a piece at a time; it must read as if detokenised whole,
    starting with the right space after the prompt (not "a truththe ...")."""
    text = "It is a truth, universally acknowledged. (Said she.) Is it? \"Yes,\" he said.\n" * 5
    vocab = WordVocab.build(text)
    m = build_model(ModelConfig(vocab_size=len(vocab), embed_dim=4, units=8, layers=1))
    g = Generator(m, vocab)
    prompt = "it is a truth"
    for seed in range(5):
        s = g.generate(prompt, length=40, temperature=2.0, seed=seed, stream=seed == 0)[0]
        tokens = vocab.tokenize(prompt) + [vocab.tokens[i] for i in s.token_ids]
        assert s.full == vocab.detokenize(tokens)
        if seed == 0:
            assert capsys.readouterr().out == s.text + "\n"  # streamed the same pieces
    stopped = g.generate(prompt, length=200, temperature=2.0, seed=1, stop=".", n=8,
                         stop_at_end=False)
    assert {s.stopped_by for s in stopped} == {"stop:."}
    assert all("." not in s.text for s in stopped)
