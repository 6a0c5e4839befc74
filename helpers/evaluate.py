"""Measure models and what they write.

* :func:`text_loss` - cross-entropy of a model on any text (nats and bits per token,
  perplexity), in non-overlapping windows or with the state carried through.
* :class:`NgramIndex` / :func:`novelty` - how much of a sample is copied from the
  training corpus: the longest copied substring (a suffix array of the corpus) and the
  share of n-grams seen in training (hashed n-grams, NumPy, O(corpus) per n), not an
  O(n*m) scan.
* :func:`distinct_n`, :func:`nearest_tfidf_distance`, :func:`compile_rate`.
"""

from __future__ import annotations

import bisect
import math
import os
import warnings
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence

import keras
import numpy as np

from .engine import NumpyRNN
from .fused_rnn import fused_cpu_rnn
from .vocab import Vocab
from .windows import SequentialWindows

__all__ = ["text_loss", "NgramIndex", "novelty", "distinct_n", "nearest_tfidf_distance",
           "compile_rate", "compare_temperatures"]

LN2 = math.log(2.0)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def text_loss(model: keras.Model, vocab: Vocab, text: str, seq_len: int = 256,
              batch_size: int = 32, carry_state: bool = False, streams: int = 64) -> dict:
    """Cross-entropy of ``model`` on ``text``.

    ``carry_state=False``: non-overlapping windows of ``seq_len``, each from a zero
    state (the usual validation number). ``carry_state=True``: the text is cut into
    ``streams`` long pieces read token by token with the state carried (lower,
    since the model always has context).
    Returns nats and bits per token, perplexity and the token count.
    """
    ids = vocab.encode(text, errors="unk").astype(np.int64)
    if len(ids) < 2:
        raise ValueError("The text is too short to score (need at least 2 tokens).")
    total, count = 0.0, 0
    if carry_state:
        eng = NumpyRNN.from_model(model)
        n = (len(ids) - 1) // streams
        if n < 1:
            streams, n = 1, len(ids) - 1
        x = ids[: streams * n].reshape(streams, n)
        y = ids[1: streams * n + 1].reshape(streams, n)
        state = eng.initial_state(streams)
        for t in range(n):
            logits, state = eng.step(x[:, t], state)
            total -= float(_log_softmax(logits)[np.arange(streams), y[:, t]].sum())
        count = streams * n
    else:
        seq_len = min(seq_len, len(ids) - 1)
        data = SequentialWindows(ids, seq_len, batch_size)
        with fused_cpu_rnn():  # torch on a CPU: the recurrent layers' fused kernel
            for i in range(len(data)):
                x, y = data[i]
                logits = keras.ops.convert_to_numpy(model(x, training=False))
                lp = _log_softmax(logits.astype(np.float64))
                total -= float(np.take_along_axis(lp, y[..., None], axis=-1).sum())
                count += y.size
    nats = total / count
    return {"nats": nats, "bits": nats / LN2, "perplexity": math.exp(nats), "tokens": count,
            "carry_state": carry_state}


# --- copying / novelty -------------------------------------------------------------
_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
_BASE_INV = pow(_BASE, -1, 1 << 64)


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64) + np.uint64(1)


def _prefix(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Powers ``B**k`` and prefix sums ``S[k] = sum_{j<=k} c_j * B**-j`` (mod 2**64),
    so that the hash of ``codes[i:i+n]`` is ``B**(i+n-1) * (S[i+n-1] - S[i-1])``:
    O(len) once, then O(len) for every n (numpy's uint64 arithmetic wraps mod 2**64)."""
    n = len(codes)
    with np.errstate(over="ignore"):
        pw = np.full(n, _BASE, dtype=np.uint64)
        pw[0] = 1
        pw = np.cumprod(pw, dtype=np.uint64)
        inv = np.full(n, _BASE_INV, dtype=np.uint64)
        inv[0] = 1
        inv = np.cumprod(inv, dtype=np.uint64)
        S = np.cumsum(codes * inv, dtype=np.uint64)
    return pw, np.concatenate([[np.uint64(0)], S])


def _ngram_hashes(codes: np.ndarray, n: int, pre=None) -> np.ndarray:
    """64-bit polynomial hashes of every n-gram, vectorised, in O(len(codes))."""
    if len(codes) < n or n < 1:
        return np.zeros(0, dtype=np.uint64)
    pw, S = pre if pre is not None else _prefix(codes)
    m = len(codes) - n + 1
    with np.errstate(over="ignore"):
        return pw[n - 1: n - 1 + m] * (S[n: n + m] - S[:m])


class NgramIndex:
    """What a corpus contains: hashed n-gram sets (built lazily per n and cached) answer
    "was this n-gram seen?"; a suffix array (built once, on first use) finds the longest
    substring of a text that occurs in the corpus."""

    def __init__(self, corpus: str):
        if not corpus:
            raise ValueError("The corpus is empty.")
        self.corpus = corpus
        self.codes = _codes(corpus)
        self._pre = _prefix(self.codes)
        self._sets: dict[int, np.ndarray] = {}
        self._bytes: bytes | None = None
        self._sa: np.ndarray | None = None
        self._sa_seq: array | None = None

    def __repr__(self) -> str:
        return f"NgramIndex(chars={len(self.corpus):,}, cached_n={sorted(self._sets)})"

    def hashes(self, n: int) -> np.ndarray:
        if n not in self._sets:
            self._sets[n] = np.unique(_ngram_hashes(self.codes, n, self._pre))
        return self._sets[n]

    def seen(self, text: str, n: int) -> np.ndarray:
        """Boolean per n-gram of ``text``: does it occur in the corpus?"""
        h = _ngram_hashes(_codes(text), n)
        table = self.hashes(n)  # sorted (np.unique): a binary search per n-gram, not a re-sort
        if not len(table):
            return np.zeros(len(h), dtype=bool)
        pos = np.minimum(np.searchsorted(table, h), len(table) - 1)
        return table[pos] == h

    def suffix_array(self) -> np.ndarray:
        """The corpus' suffix array over its UTF-8 bytes (libdivsufsort: about 0.1 s/MB)."""
        if self._sa is None:
            from pydivsufsort import divsufsort

            self._bytes = self.corpus.encode("utf-8")
            self._sa = divsufsort(np.frombuffer(self._bytes, dtype=np.uint8).copy())
        return self._sa

    def longest_copied(self, text: str, max_n: int = 2000) -> tuple[int, str]:
        """Length and text of the longest substring of ``text`` found in the corpus
        (:meth:`longest_copy` also says where it is in both).

        For every start in ``text``, the longest prefix that occurs in the corpus is found
        by a binary search among the sorted suffixes of the corpus (it is shared with one
        of the two suffixes next to where the prefix would be inserted): O(len(text) x
        log(len(corpus))) comparisons, milliseconds for a 1,000-character sample.
        """
        found = self.longest_copy(text, max_n)
        return found["length"], found["text"]

    def longest_copy(self, text: str, max_n: int = 2000) -> dict:
        """The longest substring of ``text`` that occurs in the corpus, and where:
        ``{"length", "text", "sample_start", "corpus_start", "corpus_line"}`` (character
        offsets; the corpus position is one of its occurrences)."""
        self.suffix_array()
        if self._sa_seq is None:  # Python ints index a bytes object faster than NumPy's
            self._sa_seq = array("q", self._sa.astype(np.int64).tobytes())
        sa, corpus = self._sa_seq, self._bytes
        n = len(sa)
        t = text.encode("utf-8")
        best, best_text, where = 0, "", (0, 0)

        def first_geq(q: bytes, lo: int = 0) -> int:  # the first suffix >= q (loop in C)
            m = len(q)
            return bisect.bisect_left(sa, q, lo, n, key=lambda p: corpus[p:p + m])

        for i in range(len(t)):
            if t[i] & 0xC0 == 0x80 or len(t) - i <= best:
                continue  # not the start of a character, or cannot beat the best
            # a copy of best + 1 characters starting here needs these best + 1 bytes in the
            # corpus: one short search rules out most starts
            short = t[i:i + best + 1]
            k = first_geq(short)
            if k >= n or corpus[sa[k]:sa[k] + len(short)] != short:
                continue
            q = t[i:i + 4 * max_n]
            lo = first_geq(q, k)  # q starts with short: its place is at or after k
            for k in (lo - 1, lo):
                if 0 <= k < n:
                    common = os.path.commonprefix([q, corpus[sa[k]:sa[k] + len(q)]])
                    # a match may end inside a multi-byte character: whole characters only
                    chars = common.decode("utf-8", "ignore")
                    if len(chars) > best:
                        best, best_text, where = len(chars), chars, (i, int(sa[k]))
        # byte offsets to character offsets (once, for the winner only)
        sample_start = len(t[:where[0]].decode("utf-8", "ignore"))
        before = corpus[:where[1]].decode("utf-8", "ignore")
        return {"length": min(best, max_n), "text": best_text[:max_n],
                "sample_start": sample_start, "corpus_start": len(before),
                "corpus_line": before.count("\n") + 1}


def novelty(sample: str, index: NgramIndex, n: int = 8) -> dict:
    """How much of ``sample`` is copied: longest copied substring and the share of
    its ``n``-grams that occur in the corpus (1.0 = every n-gram was seen)."""
    seen = index.seen(sample, n)
    longest, text = index.longest_copied(sample)
    return {"longest_copied": longest, "longest_copied_text": text,
            f"seen_{n}gram_share": float(seen.mean()) if len(seen) else 0.0,
            "chars": len(sample)}


def distinct_n(texts: Sequence[str] | str, n: int = 2, words: bool = True) -> float:
    """Share of distinct n-grams among all n-grams (1.0 = no repetition)."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    grams: Counter = Counter()
    for t in texts:
        toks = t.split() if words else list(t)
        grams.update(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def nearest_tfidf_distance(samples: Sequence[str], documents: Sequence[str]) -> list[float]:
    """Cosine distance (1 - similarity) of each sample's word TF-IDF vector to its
    nearest document, as in the tweets seed (0 = a copy, 1 = nothing in common)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(lowercase=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        D = vec.fit_transform(list(documents))
        S = vec.transform(list(samples))
    sims = (S @ D.T).toarray()
    return [float(1 - row.max()) if row.size else 1.0 for row in sims]


def compile_rate(snippets: Iterable[str]) -> float:
    """Share of code snippets that compile as Python."""
    from .pysource import compiles

    snippets = list(snippets)
    return sum(compiles(s) for s in snippets) / len(snippets) if snippets else 0.0


def compare_temperatures(generator, corpus_index: NgramIndex, temperatures=(0.3, 0.6, 0.9, 1.2),
                         prompt: str = "", n: int = 4, length: int = 300, seed: int = 0,
                         documents: Sequence[str] | None = None) -> list[dict]:
    """One row of metrics per temperature: mean longest copy, seen 8-gram share,
    distinct-2, mean model confidence, and (with ``documents``) TF-IDF distance."""
    rows = []
    for t in temperatures:
        samples = generator.generate(prompt, length=length, temperature=t, n=n, seed=seed,
                                     unknown="unk", alternatives=0)
        texts = [s.text for s in samples]
        nov = [novelty(x, corpus_index) for x in texts if len(x) > 8]
        row = {
            "temperature": t,
            "longest_copied": float(np.mean([v["longest_copied"] for v in nov])) if nov else 0.0,
            "seen_8gram_share": float(np.mean([v["seen_8gram_share"] for v in nov])) if nov else 0.0,
            "distinct_2": distinct_n(texts, 2),
            "mean_confidence": float(np.mean([np.mean(s.probs) for s in samples if s.probs])),
        }
        if documents is not None:
            row["tfidf_distance"] = float(np.mean(nearest_tfidf_distance(texts, documents)))
        rows.append(row)
    return rows
