"""Generate text from a trained model: temperature, top-k, top-p, greedy and beam search.

>>> gen = Generator(model, vocab)                               # doctest: +SKIP
>>> gen.generate("ROMEO:", length=200, temperature=0.8, seed=1)[0].text  # doctest: +SKIP

The prompt is read once to warm up the recurrent state; then each new token costs
one step of :class:`helpers.engine.NumpyRNN` (no re-reading of a window per
character as in the seeds). Several samples run side by side in one batch.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .engine import NumpyRNN, blas_single_thread
from .vocab import Vocab

__all__ = ["Sample", "Generator", "sample_from_logits", "truncation_mask", "check_sampling_args",
           "softmax", "probability_html", "token_label"]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def check_sampling_args(temperature: float, top_k: int | None = None,
                        top_p: float | None = None) -> None:
    """Raise ``ValueError`` with a clear message for impossible settings."""
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a number, got {temperature!r}") from None
    if not math.isfinite(t) or t <= 0:
        raise ValueError(
            f"temperature must be a positive, finite number (got {temperature!r}); "
            "use greedy=True for the most likely token at every step."
        )
    if top_k is not None and (int(top_k) != top_k or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and not (0 < float(top_p) <= 1):
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p!r}")


def truncation_mask(p: np.ndarray, top_k: int | None = None,
                    top_p: float | None = None) -> np.ndarray:
    """Which tokens of each row of ``p [B, V]`` survive top-k, then top-p (a bool array).

    Top-k keeps the ``top_k`` likeliest (ties at the k-th probability all stay); top-p
    keeps the smallest set of likeliest tokens whose probability reaches ``top_p``
    (of what top-k left). :func:`sample_from_logits` draws among these, and the chart in
    :func:`helpers.plots.next_token_chart` marks them, so both show the same cut-off.
    """
    p = np.atleast_2d(p)
    keep = np.ones(p.shape, dtype=bool)
    if top_k is not None and top_k < p.shape[-1]:
        kth = np.partition(p, -top_k, axis=-1)[:, -top_k][:, None]
        keep &= p >= kth
    if top_p is not None and top_p < 1:
        q = np.where(keep, p, 0.0)
        order = np.argsort(-q, axis=-1)
        sorted_q = np.take_along_axis(q, order, axis=-1)
        total = sorted_q.sum(axis=-1, keepdims=True)
        # a token stays while the mass *before* it is still short of top_p: the token
        # that crosses the line is kept, so at least one token always survives
        keep_sorted = np.cumsum(sorted_q, axis=-1) / total - sorted_q / total < top_p
        nucleus = np.zeros_like(keep_sorted)
        np.put_along_axis(nucleus, order, keep_sorted, axis=-1)
        keep &= nucleus
    return keep


def sample_from_logits(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                       top_p: float | None = None, rng: np.random.Generator | None = None,
                       greedy: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Draw one token per row of ``logits [B, V]``.

    Returns ``(ids [B], p [B])`` where ``p`` is the probability the model (at
    temperature 1, before truncation) gave to the chosen token.
    """
    logits = np.atleast_2d(logits)
    p_model = softmax(logits)
    if greedy:
        ids = logits.argmax(axis=-1)
        return ids, p_model[np.arange(len(ids)), ids]
    check_sampling_args(temperature, top_k, top_p)
    rng = rng or np.random.default_rng()
    p = softmax(logits, temperature)
    if top_k is not None or top_p is not None:
        p = np.where(truncation_mask(p, top_k, top_p), p, 0.0)
    p /= p.sum(axis=-1, keepdims=True)
    # inverse CDF: one uniform number per row, the first token whose cumulative
    # probability reaches it (notebook 05 writes this out for one row)
    u = rng.random((p.shape[0], 1))
    ids = (np.cumsum(p, axis=-1) < u).sum(axis=-1)
    ids = np.minimum(ids, p.shape[-1] - 1)
    return ids, p_model[np.arange(len(ids)), ids]


@dataclass
class Sample:
    """One generated text. ``probs[i]`` is how sure the model was of ``text[i]``'s token;
    ``alternatives[i]`` lists the likeliest tokens at that step with their probabilities
    (temperature 1, likeliest first), recorded while generating."""

    text: str
    prompt: str
    token_ids: list[int] = field(repr=False, default_factory=list)
    probs: list[float] = field(repr=False, default_factory=list)
    stopped_by: str = "length"  # "length" | "end" | "stop:<string>" | "beam"
    alternatives: list[list[tuple[str, float]]] = field(repr=False, default_factory=list)

    def __str__(self) -> str:
        return self.prompt + self.text

    @property
    def full(self) -> str:
        return self.prompt + self.text

    @property
    def stop_reason(self) -> str:
        """``stopped_by`` for people: a stop string as ``repr`` shows it (``'\\n\\n'``),
        so that printing it does not print the line breaks themselves."""
        if self.stopped_by.startswith("stop:"):
            return repr(self.stopped_by[len("stop:"):])
        return {"length": "the length limit", "end": "the end token",
                "beam": "beam search"}.get(self.stopped_by, self.stopped_by)


class Generator:
    """Sampling front end for a model + vocabulary pair.

    Args:
        model: a Keras model from ``build_model`` (or a ready :class:`NumpyRNN`).
        vocab: the vocabulary the model was trained with.
        documents: the model was trained on documents wrapped in start/end tokens:
            prompts then begin with the start token, and the end token stops a sample.
    """

    def __init__(self, model, vocab: Vocab, documents: bool = False):
        self.engine = model if isinstance(model, NumpyRNN) else NumpyRNN.from_model(model)
        if self.engine.vocab_size != len(vocab):
            raise ValueError(
                f"The vocabulary has {len(vocab)} tokens but the model expects "
                f"{self.engine.vocab_size}: they do not belong together. Load the vocab.json "
                "saved next to this model."
            )
        self.vocab = vocab
        self.documents = documents

    def __repr__(self) -> str:
        return f"Generator({self.engine!r}, vocab={len(self.vocab)}, documents={self.documents})"

    # --- prompt handling -------------------------------------------------------------
    def encode_prompt(self, prompt: str, unknown: str = "error") -> np.ndarray:
        """Encode a prompt. ``unknown="error"`` raises on tokens outside the vocabulary
        (naming them); ``"unk"`` maps them to the unknown token; ``"drop"`` removes them."""
        if unknown not in ("error", "unk", "drop"):
            raise ValueError("unknown must be 'error', 'unk' or 'drop'")
        missing = self.vocab.unknown(prompt)
        if missing and unknown == "error":
            shown = ", ".join(repr(m) for m in missing[:10])
            raise ValueError(
                f"The prompt has {len(missing)} token(s) the model never saw: {shown}. "
                "Pass unknown='unk' (--unknown unk) to map them to the unknown token, or 'drop' "
                "(--unknown drop) to remove them."
            )
        if missing and unknown == "drop":
            toks = [t for t in self.vocab.tokenize(prompt) if t in self.vocab.index]
            ids = np.array([self.vocab.index[t] for t in toks], dtype=np.int64)
        else:
            ids = self.vocab.encode(prompt, errors="unk").astype(np.int64)
        if self.documents and self.vocab.start_id is not None and (
                len(ids) == 0 or ids[0] != self.vocab.start_id):
            ids = np.concatenate([[self.vocab.start_id], ids])
        if len(ids) == 0:
            seed_tok = "\n" if "\n" in self.vocab.index else self.vocab.tokens[-1]
            ids = np.array([self.vocab.index[seed_tok]])
        return ids

    def next_logits(self, prompt: str = "", unknown: str = "error") -> np.ndarray:
        """The model's logits ``[V]`` for the token after ``prompt``: what every
        sampling rule starts from."""
        logits, _ = self._warm(self.encode_prompt(prompt, unknown), 1)
        return logits[0]

    def _warm(self, ids: np.ndarray, n: int):
        state = self.engine.initial_state(n)
        logits = None
        for t in ids:
            logits, state = self.engine.step(np.full(n, t), state)
        return logits, state

    # --- sampling ----------------------------------------------------------------
    def generate(
        self,
        prompt: str = "",
        length: int = 300,
        temperature: float = 1.0,
        n: int = 1,
        top_k: int | None = None,
        top_p: float | None = None,
        greedy: bool = False,
        seed: int | None = None,
        stop: str | Sequence[str] | None = None,
        stop_at_end: bool = True,
        unknown: str = "error",
        stream: bool | Callable[[str], None] = False,
        alternatives: int = 5,
    ) -> list[Sample]:
        """Generate ``n`` continuations of ``prompt`` of up to ``length`` tokens.

        ``stop``: string(s) that end a sample (the stop string is not kept);
        ``stop_at_end``: the end token ends a sample; ``seed``: reproducible output;
        ``stream``: print the first sample as it is generated (or pass a callback);
        ``alternatives``: how many of the likeliest tokens to record at every step
        (``Sample.alternatives``, shown on hover by :func:`probability_html`; 0: none).
        """
        if not greedy:
            check_sampling_args(temperature, top_k, top_p)
        if n < 1 or length < 0:
            raise ValueError("n must be >= 1 and length >= 0")
        from .settings import SampleConfig

        # the same ranges as the command line's (how many, how long: memory grows with both)
        SampleConfig(length=length, temperature=1.0 if greedy else temperature, top_k=top_k,
                     top_p=top_p, greedy=bool(greedy), num=n)
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        rng = np.random.default_rng(seed)
        ids = self.encode_prompt(prompt, unknown)
        out_ids = [[] for _ in range(n)]
        out_p = [[] for _ in range(n)]
        out_alt = [[] for _ in range(n)]
        k_alt = min(max(0, int(alternatives)), len(self.vocab))
        texts = [""] * n
        stopped = ["length"] * n
        alive = np.ones(n, dtype=bool)
        end_id = self.vocab.end_id if stop_at_end else None
        prompt_tokens = self.vocab.tokenize(prompt) if prompt else []
        first_prev = prompt_tokens[-1] if prompt_tokens else None  # spacing after the prompt
        emit = (lambda s: (sys.stdout.write(s), sys.stdout.flush())) if stream is True else stream
        with blas_single_thread():
            logits, state = self._warm(ids, n)
            for _ in range(length):
                tok, p = sample_from_logits(logits, temperature, top_k, top_p, rng, greedy)
                if k_alt:
                    # recorded now, while the logits are at hand: recomputing them later
                    # would mean running the whole sample through the model again
                    p_model = softmax(logits)
                    kth = np.partition(p_model, -k_alt, axis=-1)[:, -k_alt]
                for b in np.flatnonzero(alive):
                    t = int(tok[b])
                    if end_id is not None and t == end_id:
                        alive[b], stopped[b] = False, "end"
                        continue
                    prev = self.vocab.tokens[out_ids[b][-1]] if out_ids[b] else first_prev
                    out_ids[b].append(t)
                    out_p[b].append(float(p[b]))
                    if k_alt:
                        out_alt[b].append(_likeliest(p_model[b], kth[b], k_alt,
                                                     self.vocab.tokens))
                    # one piece per token (for words, spacing depends on the previous one)
                    piece = self.vocab.piece(prev, self.vocab.tokens[t])
                    texts[b] += piece
                    if emit and b == 0:
                        emit(piece)
                    for s in stops:
                        if s and texts[b].endswith(s):
                            texts[b] = texts[b][: -len(s)]
                            alive[b], stopped[b] = False, f"stop:{s}"
                            break
                if not alive.any():
                    break
                logits, state = self.engine.step(tok, state)
        if emit:
            emit("\n")
        return [Sample(texts[b], prompt, out_ids[b], out_p[b], stopped[b], out_alt[b])
                for b in range(n)]

    def beam_search(self, prompt: str = "", length: int = 100, width: int = 5,
                    unknown: str = "error") -> Sample:
        """The (approximately) most likely continuation: keep the ``width`` best
        partial sequences by total log-probability at every step."""
        if width < 1:
            raise ValueError("width must be >= 1")
        ids = self.encode_prompt(prompt, unknown)
        logits, state = self._warm(ids, 1)
        beams = [([], 0.0, [s[0] for s in state], logits[0])]
        end_id = self.vocab.end_id
        finished = []
        for _ in range(length):
            cands = []
            for toks, score, st, lg in beams:
                logp = np.log(softmax(lg[None])[0] + 1e-12)
                for t in np.argsort(-logp)[:width]:
                    cands.append((toks + [int(t)], score + float(logp[t]), st))
            cands.sort(key=lambda c: -c[1])
            cands = cands[:width]
            beams = []
            live = [c for c in cands if c[0][-1] != end_id]
            finished += [c for c in cands if c[0][-1] == end_id]
            if not live:
                break
            tok = np.array([c[0][-1] for c in live])
            st = [np.stack([c[2][k] for c in live]) for k in range(len(live[0][2]))]
            lg, st = self.engine.step(tok, st)
            beams = [(c[0], c[1], [s[i] for s in st], lg[i]) for i, c in enumerate(live)]
        pool = finished + [(b[0], b[1]) for b in beams]
        best = max(pool, key=lambda c: c[1] / max(1, len(c[0])))
        toks = [t for t in best[0] if t != end_id]
        return Sample(self.vocab.decode(toks), prompt, toks, [], "beam")


def _likeliest(p: np.ndarray, kth: float, k: int, tokens) -> list[tuple[str, float]]:
    """The ``k`` likeliest tokens of one row, likeliest first, ties in vocabulary order
    (what a stable ``argsort`` of the whole row gives, without sorting the whole row:
    only the tokens at or above the k-th probability ``kth`` are sorted)."""
    cand = np.flatnonzero(p >= kth)
    top = cand[np.argsort(-p[cand], kind="stable")][:k]
    return [(tokens[j], float(p[j])) for j in top]


# how a token is named where it cannot be shown as itself (hover text, chart labels)
_TOKEN_NAMES = {"\n": "⏎", " ": "␣", "\t": "⇥", "\x02": "START", "\x03": "END", "\x04": "UNK"}


def token_label(token: str) -> str:
    """A token as a short readable label: ``⏎`` for a newline, ``␣`` for a space,
    START/END/UNK for the special characters, other control characters escaped."""
    if token in _TOKEN_NAMES:
        return _TOKEN_NAMES[token]
    return token if token.isprintable() else repr(token)[1:-1]


def _hover(p: float, alternatives: list[tuple[str, float]]) -> str:
    """``p=0.412 · top 5: 'e' 0.412, 'a' 0.203, ...`` (plain text; escaped by the caller).
    Labels are quoted as ``repr`` quotes them, so a quote character stays readable."""
    text = f"p={p:.3f}"
    if alternatives:
        alts = ", ".join(f"{token_label(t)!r} {q:.3f}" for t, q in alternatives)
        text += f" · top {len(alternatives)}: {alts}"
    return text


def probability_html(sample: Sample, vocab: Vocab | None = None) -> str:
    """HTML of a sample with each generated token coloured by how sure the model
    was (orange: an unlikely choice, white: a toss-up at p = 0.5, blue: near certain; the
    colour-blind-safe scale of :func:`helpers.activations.neuron_html`). Hovering shows the
    probability and, when the sample recorded them (``Generator.generate`` does), the
    likeliest alternatives at that step."""
    import html as _html

    from .activations import _colour

    def colour(p: float) -> str:
        # p = 0 -> -1 (orange), 0.5 -> 0 (white), 1 -> +1 (blue); NaN (a diverged model)
        # -> grey, and a value out of range is clipped to the end of the scale: no crash
        return _colour(2 * float(p) - 1)

    parts = [f"<span style='opacity:.6'>{_html.escape(sample.prompt)}</span>"]
    toks = [vocab.tokens[t] for t in sample.token_ids] if vocab is not None else list(sample.text)
    alts = sample.alternatives or [[] for _ in sample.probs]
    for tok, p, alt in zip(toks, sample.probs, alts, strict=False):
        shown = "⏎<br>" if tok == "\n" else _html.escape(tok if vocab is None or vocab.kind == "char"
                                                         else " " + tok)
        # quote=True escapes both quote characters: the alternatives may hold either
        title = _html.escape(_hover(p, alt), quote=True)
        parts.append(f'<span style="background:{colour(p)}" title="{title}">{shown}</span>')
    return ("<div style='font-family:monospace;white-space:pre-wrap;line-height:1.5;color:#000'>"
            + "".join(parts) + "</div>")
