"""Scale and speed in one run: a large corpus, copy detection, the first character.

    python bench/bench_speed.py [--sizes 10 100 1000] [--repeats 5]

Runs, one after the other on this machine, the three benchmarks that measure where the
cost once grew faster than the work, each against the old or naive way in the same run:

1. ``bench_scale.py``: training on corpora of ``--sizes`` MB, the text in memory against
   the memory-mapped cache (peak memory, seconds until the corpus is ready);
2. ``bench_novelty.py``: the longest copied passage of a 1,000-character sample, suffix
   array against the naive substring search (index build per MB, ms per sample);
3. ``bench_startup.py``: ``python -m helpers sample`` to its first character, reading the
   ``.keras`` file without Keras against loading it with Keras.

Then prints one table against the goals. Each script also writes its own
``bench/results/*.json``; this one adds ``bench/results/speed.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from helpers.paths import ROOT

BENCH = ROOT / "bench"


def run(script: str, *args: str) -> None:
    print(f"\n=== {script} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(BENCH / script), *args], check=True, cwd=ROOT)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["10", "100", "1000"])
    ap.add_argument("--repeats", default="5")
    args = ap.parse_args()
    run("bench_scale.py", "--sizes", *args.sizes)
    run("bench_novelty.py")
    run("bench_startup.py", "--repeats", args.repeats)

    scale = json.loads((BENCH / "results" / "scale.json").read_text())["results"]
    novelty = json.loads((BENCH / "results" / "novelty.json").read_text())
    startup = json.loads((BENCH / "results" / "startup.json").read_text())["medians"]
    big = scale[-1]
    new, old = startup["numpy (no Keras)"], startup["keras"]
    rows = [
        (f"train on {big['megabytes']} MB: peak RSS", "< 1 GB",
         f"{big['in memory']['peak_rss_mb'] / 1024:.2f} GB",
         f"{big['cache, rerun']['peak_rss_mb'] / 1024:.2f} GB"),
        (f"train on {big['megabytes']} MB: rerun, corpus ready (from the command)", "< 5 s",
         f"{big['in memory']['ready_since_start_s']:.1f} s",
         f"{big['cache, rerun']['ready_since_start_s']:.1f} s"),
        ("copy detection: index build", "< 1 s per MB", "(none)",
         f"{novelty['index_build_s_per_mb']:.2f} s per MB"),
        ("copy detection: 1,000-character sample", "< 10 ms",
         f"{novelty.get('naive_ms_per_sample', float('nan')):,.0f} ms (naive)",
         f"{novelty['suffix_array_ms_per_sample']:.1f} ms"),
        ("`sample` to its first character", "< 1 s", f"{old['first']:.2f} s",
         f"{new['first']:.2f} s"),
    ]
    print(f"\n{'what':62} | {'goal':>13} | {'old way':>18} | {'now':>16}")
    for r in rows:
        print(f"{r[0]:62} | {r[1]:>13} | {r[2]:>18} | {r[3]:>16}")
    (BENCH / "results" / "speed.json").write_text(json.dumps(
        [dict(zip(("what", "goal", "old", "now"), r, strict=True)) for r in rows], indent=1) + "\n")


if __name__ == "__main__":
    main()
