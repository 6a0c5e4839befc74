"""``plots.next_token_chart``: the bars are the model's distribution at each temperature,
and the cut-off lines sit where sampling stops drawing."""

import matplotlib
import numpy as np
import pytest

from helpers.model import ModelConfig, build_model
from helpers.plots import next_token_chart
from helpers.sample import Generator, sample_from_logits
from helpers.vocab import WordVocab

matplotlib.use("Agg")
pytestmark = pytest.mark.core

PROMPT = "JULIET:\nO Romeo, Romeo"  # its 15 likeliest next characters include " " and "\n"
TEMPERATURES = (0.3, 1.0, 1.5)


@pytest.fixture(scope="module")
def chart():
    import matplotlib.pyplot as plt

    from helpers import zoo

    g = zoo.load("shakespeare_char").generator
    axes = next_token_chart(g, PROMPT, temperatures=TEMPERATURES, top_k=5, top_p=0.9)
    yield g, axes
    plt.close("all")


def _expected(logits: np.ndarray, t: float) -> np.ndarray:
    z = np.exp((logits.astype(np.float64) - logits.max()) / t)
    return z / z.sum()


def test_bars_are_the_distribution_at_each_temperature(chart):
    g, axes = chart
    assert len(axes) == len(TEMPERATURES)
    logits = g.next_logits(PROMPT)
    order = np.argsort(-logits)[:15]
    for ax, t in zip(axes, TEMPERATURES, strict=True):
        heights = [bar.get_height() for bar in ax.patches]
        np.testing.assert_allclose(heights, _expected(logits, t)[order], rtol=1e-6)
        assert ax.get_title() == f"T = {t}"
    labels = [lab.get_text() for lab in axes[0].get_xticklabels()]
    names = {"\n": "⏎", " ": "␣"}
    assert labels == [names.get(g.vocab.tokens[i], g.vocab.tokens[i]) for i in order]
    assert {"⏎", "␣"} <= set(labels)


def test_cut_off_lines_sit_where_sampling_stops(chart):
    """Each line's position, computed here from the definitions of top-k and top-p, and
    every draw of ``sample_from_logits`` with that rule left of it."""
    g, axes = chart
    logits = g.next_logits(PROMPT)
    ranked = np.argsort(-logits)
    rank = {int(tok): r for r, tok in enumerate(ranked)}
    rng = np.random.default_rng(0)
    seen_top_p = []
    for ax, t in zip(axes, TEMPERATURES, strict=True):
        lines = {line.get_gid(): line.get_xdata()[0] for line in ax.lines}
        p = _expected(logits, t)[ranked]
        n_top_p = int(np.searchsorted(np.cumsum(p), 0.9) + 1)  # shortest run reaching 0.9
        seen_top_p.append(n_top_p)
        for rule, kw, kept in (("top_k", {"top_k": 5}, 5), ("top_p", {"top_p": 0.9}, n_top_p)):
            assert lines[rule] == min(kept, 15) - 0.5, (t, rule)
            drawn = {int(sample_from_logits(logits, t, rng=rng, **kw)[0][0]) for _ in range(3000)}
            assert max(rank[i] for i in drawn) < kept
            if p[kept - 1] / p[:kept].sum() > 0.01:  # likely enough to be drawn in 3000
                assert max(rank[i] for i in drawn) == kept - 1
        assert f"keeps {n_top_p}" in " ".join(x.get_text() for x in ax.get_legend().get_texts())
    assert seen_top_p == sorted(seen_top_p) and seen_top_p[0] < seen_top_p[-1]


def test_word_labels_are_turned_to_fit():
    text = "the cat sat on the mat and the dog sat on the log\n" * 4
    vocab = WordVocab.build(text)
    model = build_model(ModelConfig(vocab_size=len(vocab), embed_dim=4, units=8, layers=1))
    axes = next_token_chart(Generator(model, vocab), "the cat", temperatures=(1.0,), top=6)
    labels = axes[0].get_xticklabels()
    assert len(labels) == 6 and all(lab.get_rotation() == 90 for lab in labels)
