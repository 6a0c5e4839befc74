import numpy as np
import pytest
from keras.ops import convert_to_numpy

from helpers.activations import (
    find_neurons,
    heatmap,
    in_quotes,
    in_string_or_comment,
    indentation,
    line_position,
    neuron_html,
    paren_depth,
    record,
    save_neuron_html,
    top_passages,
)
from helpers.model import ModelConfig, build_model, build_step_model, state_sizes
from helpers.vocab import CharVocab

pytestmark = pytest.mark.core


def test_recorded_states_match_a_manual_step_by_step_run(tiny_model):
    model, vocab = tiny_model
    text = "abc def\nghi! ABC."
    acts = record(model, vocab, text)
    step = build_step_model(model)  # Keras' own cells, one character at a time
    states = [np.zeros((1, n), "float32") for n in state_sizes(model)]
    for i, t in enumerate(vocab.encode(text).astype("int32")):
        out = step([np.array([t]), *states])
        states = [convert_to_numpy(s) for s in out[1:]]
        h0, c0, h1, c1 = states
        np.testing.assert_allclose(acts.get("0/h")[i], h0[0], atol=1e-5)
        np.testing.assert_allclose(acts.get("0/c")[i], c0[0], atol=1e-5)
        np.testing.assert_allclose(acts.get("1/h")[i], h1[0], atol=1e-5)
        np.testing.assert_allclose(acts.get("1/c")[i], c1[0], atol=1e-5)
    gates = acts.get("1/f")
    assert gates.shape == (len(text), 16) and (gates > 0).all() and (gates < 1).all()


def _planted_model(vocab, neuron=2):
    """One LSTM layer whose neuron ``neuron`` holds 'the current character is a vowel'."""
    V, U = len(vocab), 6
    m = build_model(ModelConfig(vocab_size=V, embed_dim=V, units=U, layers=1, dropout=0.0))
    m.get_layer("embedding").embeddings.assign(np.eye(V, dtype="float32"))
    cell = m.get_layer("rnn_0").cell
    rng = np.random.default_rng(0)
    W = rng.normal(0, 0.3, (V, 4 * U)).astype("float32")
    Uw = rng.normal(0, 0.3, (U, 4 * U)).astype("float32")
    b = np.zeros(4 * U, "float32")
    W[:, 2 * U + neuron] = 0
    Uw[:, [neuron, U + neuron, 2 * U + neuron, 3 * U + neuron]] = 0
    for ch in "aeiou":
        W[vocab.index[ch], 2 * U + neuron] = 5.0  # candidate: +1 on vowels
    W[:, neuron] = 0
    W[:, U + neuron] = 0
    W[:, 3 * U + neuron] = 0
    b[neuron], b[U + neuron], b[3 * U + neuron] = 10.0, -10.0, 10.0  # write, forget, show
    cell.kernel.assign(W)
    cell.recurrent_kernel.assign(Uw)
    cell.bias.assign(b)
    return m


def test_finder_ranks_a_planted_neuron_first():
    text = "the quick brown fox jumps over the lazy dog and keeps on running away " * 5
    vocab = CharVocab.build(text)
    acts = record(_planted_model(vocab), vocab, text)
    feature = np.array([c in "aeiou" for c in text], dtype=float)
    ranking = find_neurons(acts, feature, top=3)
    assert ranking[0].neuron == 2 and ranking[0].correlation > 0.95
    with pytest.raises(ValueError, match="characters"):
        find_neurons(acts, feature[:-1])


def test_features():
    t = 'He said "hi (there)" and\n  left(a[1])'
    q = in_quotes(t)
    assert q[t.index('"') + 1] == 1 and q[0] == 0 and q[-1] == 0
    assert in_quotes("don't 'x'").tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    d = paren_depth(t)
    assert d[t.index("there")] == 1 and d[t.index("1")] == 2 and d[-1] == 1
    assert line_position(t)[t.index("left")] == 2
    assert indentation(t)[t.index("left")] == 2 and indentation(t)[0] == 0
    code = 'x = "s#"  # note\ny = 2\n'
    f = in_string_or_comment(code)
    assert f[code.index('"s')] == 1 and f[code.index("note")] == 1 and f[code.index("y")] == 0
    code = 'a = "x\x1cy"  # c\nb = 1\n'  # a separator str.splitlines would split at
    f = in_string_or_comment(code)
    assert f.tolist() == [0.0] * 4 + [1.0] * 5 + [0.0] * 2 + [1.0] * 3 + [0.0] * 7


def test_renderings(tmp_path, tiny_model):
    model, vocab = tiny_model
    text = "abc\ndef <x>"
    acts = record(model, vocab, text)
    html = neuron_html(text, acts.get("0/h")[:, 0], title="n0")
    assert html.count("<span style=\"background") == len(text) and "&lt;" in html and "&gt;" in html and "⏎" in html
    p = save_neuron_html(tmp_path / "n.html", text, acts.get("0/h")[:, 0], title="n0")
    assert open(p).read().startswith("<!DOCTYPE html>")
    ax = heatmap(acts, "1/h", neurons=[0, 1, 2], length=8)
    assert len(ax.get_yticklabels()) == 3
    tops = top_passages(acts, "0/h", 0, k=2, width=2)
    assert len(tops) == 2 and tops[0][0] >= tops[1][0]


def test_curly_quotes_close_with_their_partner_and_apostrophes_do_not_count():
    t = "a “b c” d ‘e’ don’t"
    q = in_quotes(t).tolist()
    assert q == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert in_quotes("x ” y").sum() == 0          # a closing mark never opens


def _bg(span: str) -> tuple[int, int, int]:
    h = span.split("background:")[1][1:7]
    return int(h[:2], 16), int(h[2:4], 16), int(h[4:], 16)


def test_colour_scale_is_symmetric_and_does_not_clip():
    import re

    html = neuron_html("abcd", np.array([2.0, -2.0, 1.0, 0.0]))
    spans = re.findall(r'<span style="background:#[0-9a-f]{6}" title="[^"]+">', html)
    pos, neg, half, zero = (_bg(s) for s in spans)
    assert pos == (67, 147, 195) and neg == (230, 97, 1)      # +2 and -2: full blue, full orange
    assert half == (161, 201, 225) and zero == (255, 255, 255)  # 1.0 is half way: no clipping
    assert "+2.00" in html and "−2.00" in html                 # the legend gives the scale
    explicit = re.findall(r'background:(#[0-9a-f]{6})" title', neuron_html("a", np.array([1.0]), scale=4))
    assert explicit == ["#d0e4f0"]
    # the scale comes from the characters shown, not from values beyond the text
    shown = re.findall(r'background:(#[0-9a-f]{6})" title', neuron_html("ab", np.array([1.0, -0.5, 9.0])))
    assert shown == ["#4393c3", "#f2b080"]


def test_heatmap_scale_covers_the_values(tiny_model):
    model, vocab = tiny_model
    acts = record(model, vocab, "abc\ndef abc")
    c = np.zeros_like(acts.arrays["0/c"])
    c[:, :3] = np.linspace(-2.2, 1.0, 3)[None, :]
    acts.arrays["0/c"] = c
    ax = heatmap(acts, "0/c", neurons=[0, 1, 2], length=5)
    assert ax.images[0].get_clim() == pytest.approx((-2.2, 2.2))
    # each row on its own scale: a small neuron beside a large one still reaches full colour
    c[:, 0], c[:, 1], c[:, 2] = 30.0 * np.linspace(-1, 1, len(c)), 0.3, 0.0
    ax = heatmap(acts, "0/c", neurons=[0, 1, 2], length=5, per_row=True)
    img = ax.images[0].get_array()
    assert img[1].max() == pytest.approx(1.0) and np.abs(img[0]).max() == pytest.approx(1.0)
    assert (img[2] == 0).all() and ax.images[0].get_clim() == pytest.approx((-1.0, 1.0))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].endswith("±30") and labels[1].endswith("±0.3")


def test_long_heatmap_wraps_into_panels_that_fit_a_page(tiny_model):
    model, vocab = tiny_model
    text = "abc\ndef abc " * 10                      # 120 characters, 110 drawn
    acts = record(model, vocab, text)
    ax = heatmap(acts, "0/h", neurons=[0, 1], length=110, chars_per_panel=60)
    panels = [a for a in ax.figure.axes if a.images]
    assert len(panels) == 2 and ax.figure.get_figwidth() <= 10
    shown = "".join(t.get_text() for p in panels for t in p.get_xticklabels())
    assert shown == text[:110].replace("\n", "⏎")        # every character once, in order
    assert {p.images[0].get_clim() for p in panels} == {ax.images[0].get_clim()}  # one scale


def test_most_active_picks_the_largest_absolute_value():
    from helpers.activations import Activations, most_active, most_active_table

    a = np.array([[0.1, -0.9, 0.5], [0.8, 0.2, -0.3], [0.0, 0.0, -0.4]])
    acts = Activations("ab\n", {"1/h": a})
    idx, val = most_active(acts, "1/h")
    assert idx.tolist() == [1, 0, 2] and val.tolist() == [-0.9, 0.8, -0.4]
    table = most_active_table(acts, "1/h")
    assert "⏎" in table and table.splitlines()[1].split() == ["1", "0", "2"]
    assert table.endswith("[0] 33%, [1] 33%, [2] 33%")


def test_lstm_diagram_names_every_gate_and_state():
    import matplotlib

    matplotlib.use("Agg")
    from helpers.lstm_figure import lstm_cell_diagram

    ax = lstm_cell_diagram()
    texts = " ".join(t.get_text() for t in ax.texts)
    for name in ("f\nσ", "i\nσ", "g\ntanh", "o\nσ", "$c_t$", "$h_t$", "$x_t$"):
        assert name in texts, name

