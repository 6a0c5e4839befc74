"""Copy detection: the longest passage of a sample found in the corpus, with the suffix
array of ``helpers.evaluate.NgramIndex`` against the naive way.

    python bench/bench_novelty.py [--samples 10] [--naive 2]

The corpus is tiny-shakespeare (1.1 MB); the samples are 1,000 characters each from the
``shakespeare_char`` zoo model at temperature 0.8 (read without Keras). The naive way is
what one writes first: for every start in the sample, a binary search over the length
with Python's substring test (``sample[i:i + L] in corpus``), which scans the corpus on
every test. Both must find the same length (the script stops if not). Writes
``bench/results/novelty.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from helpers import datasets, zoo
from helpers.evaluate import NgramIndex
from helpers.paths import ROOT


def naive_longest(sample: str, corpus: str) -> int:
    """Longest substring of ``sample`` in ``corpus`` by substring tests (the naive way)."""
    best = 0
    for i in range(len(sample)):
        lo, hi = best, len(sample) - i  # only lengths that would beat the best
        if hi <= best or sample[i:i + best + 1] not in corpus:
            continue
        lo = best + 1
        while lo < hi:  # the longest L with sample[i:i+L] in corpus
            mid = (lo + hi + 1) // 2
            if sample[i:i + mid] in corpus:
                lo = mid
            else:
                hi = mid - 1
        best = lo
    return best


def measure(corpus: str, samples: list[str], naive: int) -> dict:
    t0 = time.perf_counter()
    idx = NgramIndex(corpus)
    idx.suffix_array()
    build = time.perf_counter() - t0
    ours, lengths = [], []
    for s in samples:
        t0 = time.perf_counter()
        found = idx.longest_copy(s)
        ours.append(time.perf_counter() - t0)
        lengths.append(found["length"])
    slow = []
    for s, n in zip(samples[:naive], lengths, strict=False):
        t0 = time.perf_counter()
        m = naive_longest(s, corpus)
        slow.append(time.perf_counter() - t0)
        if m != n:
            raise SystemExit(f"the two ways disagree: {n} against {m}")
    mb = len(corpus.encode("utf-8")) / 1e6
    res = {"corpus_mb": round(mb, 2), "index_build_s": round(build, 3),
           "index_build_s_per_mb": round(build / mb, 3),
           "suffix_array_ms_per_sample": round(1000 * statistics.median(ours), 1),
           "longest_copies": lengths}
    if slow:
        res["naive_ms_per_sample"] = round(1000 * statistics.median(slow), 1)
        res["ratio"] = round(statistics.median(slow) / statistics.median(ours), 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--naive", type=int, default=2, help="samples also timed the naive way")
    args = ap.parse_args()
    corpus = datasets.fetch("tinyshakespeare").read_text(encoding="utf-8")
    m = zoo.load("shakespeare_char", backend=False)
    samples = [s.full for s in m.generate("ROMEO:", length=1000, temperature=0.8,
                                          n=args.samples, seed=0)]
    res = measure(corpus, samples, args.naive)
    print(json.dumps(res, indent=1))
    (ROOT / "bench" / "results" / "novelty.json").write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
