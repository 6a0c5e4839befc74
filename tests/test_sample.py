import ast
import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from helpers.model import ModelConfig, build_model
from helpers.sample import (
    Generator,
    Sample,
    check_sampling_args,
    probability_html,
    sample_from_logits,
    truncation_mask,
)
from helpers.vocab import CharVocab, WordVocab

from .conftest import ROOT

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
    assert s.stop_reason == "the end token"
    g2 = Generator(_biased_model(vocab, "\n"), vocab)
    s = g2.generate("a", length=50, seed=0, stop="\n\n")[0]
    assert s.stopped_by == "stop:\n\n" and s.text == ""
    assert s.stop_reason == "'\\n\\n'"  # printable on one line: the string's repr
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


# --- the notebook's own code, checked against the helpers -------------------------------

NB05 = ROOT / "notebooks" / "05_sampling.ipynb"


def notebook_function(name: str, notebook: Path = NB05):
    """The function ``name`` as a cell of ``notebook`` defines it: the cell's imports and
    that ``def`` (not the rest of the cell, which needs the model), with NumPy at hand as
    the notebook's earlier cells give it."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
        if defs:
            imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
            namespace = {"np": np}
            code = compile(ast.Module(body=imports + defs, type_ignores=[]),
                           f"{notebook.name}:{name}", "exec")
            exec(code, namespace)  # noqa: S102 - the repository's own notebook
            return namespace[name]
    raise AssertionError(f"{notebook.name} has no code cell defining {name}()")


def sampler_problems(sample) -> list[str]:
    """What is wrong with a ``sample(logits, temperature, rng) -> id`` as notebook 05 writes
    it: its draws must be those of ``sample_from_logits`` for the same generator, and their
    frequencies those of softmax(logits / T), computed here independently."""
    problems = []
    logits = np.random.default_rng(3).normal(0, 2, size=12).astype(np.float32)
    for t in (0.4, 1.0, 1.7):
        a, b = np.random.default_rng(11), np.random.default_rng(11)
        mine = [sample(logits, t, a) for _ in range(2000)]
        ref = [int(sample_from_logits(logits, t, rng=b)[0][0]) for _ in range(2000)]
        if mine != ref:
            problems.append(f"T={t}: {sum(x != y for x, y in zip(mine, ref, strict=True))} "
                            "of 2000 draws differ from sample_from_logits")
        n = 20_000
        rng = np.random.default_rng(5)
        draws = np.array([sample(logits, t, rng) for _ in range(n)])
        if draws.min() < 0 or draws.max() >= len(logits):
            problems.append(f"T={t}: ids outside the vocabulary")
            continue
        z = np.exp((logits - logits.max()) / t)
        expected = z / z.sum()
        freq = np.bincount(draws, minlength=len(logits)) / n
        stderr = np.sqrt(expected * (1 - expected) / n) + 1e-4
        worst = float(np.max(np.abs(freq - expected) / stderr))
        if worst > 5:
            problems.append(f"T={t}: frequencies {worst:.1f} standard errors off softmax(z/T)")
    return problems


def test_notebook_sample_draws_what_sample_from_logits_draws():
    assert sampler_problems(notebook_function("sample")) == []


def test_sampler_check_catches_wrong_samplers():
    """The check above can fail: a sampler that forgets the temperature, or one that
    always takes the likeliest token, is caught."""
    def no_temperature(logits, temperature, rng):
        p = np.exp(logits - logits.max())
        return int(np.searchsorted(np.cumsum(p / p.sum()), rng.random()))

    def argmax(logits, temperature, rng):
        rng.random()
        return int(np.argmax(logits))

    assert len(sampler_problems(no_temperature)) >= 2  # right only at T = 1
    assert len(sampler_problems(argmax)) >= 4  # a cold T=0.4 is nearly argmax


def test_notebook_rereading_loop_writes_what_the_carried_state_writes():
    """Notebook 05's window loop, with a window over the whole text, is the same model
    read the same way: the same greedy text as the state-carrying generator."""
    from helpers import zoo

    generate_by_rereading = notebook_function("generate_by_rereading")
    g = zoo.load("shakespeare_char").generator
    prompt, n = "ROMEO:", 40
    carried = g.generate(prompt, length=n, greedy=True, stop_at_end=False)[0].token_ids
    ids = g.encode_prompt(prompt)
    assert generate_by_rereading(g.engine, ids, n, window=len(prompt) + n) == carried
    assert generate_by_rereading(g.engine, ids, n, window=3) != carried  # it forgets


# --- what sampling keeps, what generation records ---------------------------------------

def test_truncation_mask_is_top_k_then_the_nucleus():
    rng = np.random.default_rng(0)
    for _ in range(100):
        p = rng.dirichlet(np.full(20, 0.3))
        k, top_p = int(rng.integers(1, 21)), float(rng.uniform(0.05, 1.0))
        order = np.argsort(-p)[:k]
        n = 1  # the shortest run of the k likeliest that reaches top_p of their mass
        while p[order[:n]].sum() / p[order].sum() < top_p:
            n += 1
        keep = truncation_mask(p[None], top_k=k, top_p=top_p)[0]
        assert set(np.flatnonzero(keep)) == {int(i) for i in order[:n]}
        drawn = {int(sample_from_logits(np.log(p + 1e-300), 1.0, k, top_p, rng)[0][0])
                 for _ in range(50)}
        assert drawn <= set(np.flatnonzero(keep))
    assert truncation_mask(np.full((2, 4), 0.25)).all()  # no rule: everything stays


def test_next_logits_are_the_logits_after_the_prompt(tiny_model):
    model, vocab = tiny_model
    g = Generator(model, vocab)
    logits, _, _ = g.engine.run(vocab.encode("abc"))
    np.testing.assert_allclose(g.next_logits("abc"), logits[-1], rtol=1e-6)


def test_generation_records_the_five_likeliest_tokens():
    """``Sample.alternatives`` holds, for every generated token, the model's five likeliest
    tokens at that step; checked against the model run again over the finished text."""
    from helpers import zoo
    from helpers.sample import softmax

    g = zoo.load("shakespeare_char").generator
    s = g.generate("ROMEO:", length=60, temperature=1.2, seed=4)[0]
    assert len(s.alternatives) == len(s.token_ids) == 60
    ids = np.concatenate([g.encode_prompt("ROMEO:"), s.token_ids])
    logits, _, _ = g.engine.run(ids[:-1])
    p_again = softmax(logits[len(ids) - 61:])  # the distribution before each generated token
    for i, (tok, p, alts) in enumerate(zip(s.token_ids, s.probs, s.alternatives, strict=True)):
        assert len(alts) == 5
        ps = [q for _, q in alts]
        assert ps == sorted(ps, reverse=True)
        top5 = np.argsort(-p_again[i])[:5]
        assert [t for t, _ in alts] == [g.vocab.tokens[j] for j in top5]
        np.testing.assert_allclose(ps, p_again[i][top5], rtol=1e-4)
        chosen = dict(alts).get(g.vocab.tokens[tok])
        assert (chosen is None and p <= ps[-1]) or math.isclose(chosen, p, rel_tol=1e-6)
    assert all(s.alternatives == [] for s in g.generate("ROMEO:", length=5, alternatives=0))


class _Spans(HTMLParser):
    """The title and text of every ``<span title=...>`` (entities decoded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.titles: list[str] = []

    def handle_starttag(self, tag, attrs):
        title = dict(attrs).get("title")
        if tag == "span" and title is not None:
            self.titles.append(title)


def test_probability_html_hover_shows_the_alternatives_escaped():
    alts = [("<", 0.5), ("&", 0.2), ("'", 0.1), ('"', 0.1), ("\n", 0.05)]
    s = Sample(text="<&'\n", prompt="Q", token_ids=[], probs=[0.5, 0.2, 0.1, 0.05],
               alternatives=[alts] * 4)
    html = probability_html(s)
    parser = _Spans()
    parser.feed(html)
    assert len(parser.titles) == 4
    assert parser.titles[0] == ("p=0.500 · top 5: '<' 0.500, '&' 0.200, \"'\" 0.100, "
                                "'\"' 0.100, '⏎' 0.050")
    assert parser.titles[3].startswith("p=0.050 ·")
    # nothing in an attribute that could close it or open a tag
    raw_titles = [part.split('"', 1)[0] for part in html.split('title="')[1:]]
    assert all("<" not in t and "'" not in t for t in raw_titles)
    assert "&amp;" in raw_titles[0] and "&lt;" in raw_titles[0] and "&quot;" in raw_titles[0]


def test_probability_html_of_a_generated_sample(tiny_model):
    model, vocab = tiny_model
    s = Generator(model, vocab).generate("ab", length=25, temperature=1.5, seed=1,
                                              stop_at_end=False)[0]
    parser = _Spans()
    parser.feed(probability_html(s, vocab))
    assert len(parser.titles) == len(s.probs) == 25
    for title, p, alts in zip(parser.titles, s.probs, s.alternatives, strict=True):
        assert title.startswith(f"p={p:.3f} · top 5: ")
        assert title.count(", ") == 4 and f"{alts[0][1]:.3f}" in title
