"""Training on corpora of 10 MB to 1 GB: the text read into memory against the encoded,
memory-mapped cache (helpers.corpus_cache).

    python bench/bench_scale.py [--sizes 10 100 1000] [--tmp /tmp] [--keep]

For each size, a corpus made by repeating tiny-shakespeare is written to ``--tmp``, and
``python -m helpers train big.txt --epochs 1 --steps-per-epoch 5 --units 64
--samples-per-epoch 0 --fresh`` runs three times, each in its own process:

* **in memory**: ``TEXTGEN_CORPUS_CACHE=0``, the path before the cache (the whole text
  read as a string, its vocabulary counted and the ids encoded in memory);
* **cache, first run**: the corpus encoded in chunks into a ``.npy`` (empty cache);
* **cache, rerun**: the same command again, which maps the cached file.

Each run records the process's peak resident memory (``os.wait4``), the seconds until the
corpus is ready (the ``# corpus ready in X s`` line of ``train``, counted from the start
of the command, after Keras is imported) and the wall time of the whole process. Writes
``bench/results/scale.json`` and ``bench/results/scale.png``; the temporary corpora, caches and
run folders are deleted at the end (unless ``--keep``). If the tiny-shakespeare download
is not cached, point ``TEXTGEN_MIRROR`` at a mirror (a folder works).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from helpers import datasets
from helpers.paths import ROOT
from helpers.textio import atomic_path, atomic_write_json

MODES = ("in memory", "cache, first run", "cache, rerun")
READY = re.compile(r"corpus ready in ([0-9.]+) s")


def make_corpus(path: Path, megabytes: int, source: bytes) -> Path:
    """``megabytes`` MB of ``source`` repeated (cut at the last whole copy that fits)."""
    target = megabytes * 10**6
    with open(path, "wb") as fh:
        written = 0
        while written + len(source) <= target:
            fh.write(source)
            written += len(source)
    return path


def run_once(corpus: Path, work: Path, mode: str) -> dict:
    """One ``train`` process: peak RSS (MB), seconds until the corpus is ready, wall time."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TEXTGEN_ENCODED": str(work / "encoded")}
    env["TEXTGEN_CORPUS_CACHE"] = "0" if mode == "in memory" else "1"
    if mode == "cache, first run":
        shutil.rmtree(work / "encoded", ignore_errors=True)
    cmd = [sys.executable, "-m", "helpers", "train", str(corpus), "--epochs", "1",
           "--steps-per-epoch", "5", "--units", "64", "--samples-per-epoch", "0",
           "--run-dir", str(work / "run"), "--fresh"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         cwd=ROOT)
    ready_s = ready_wall = None
    lines = []
    for raw in p.stdout:  # read as it comes, to time the "corpus ready" line
        line = raw.decode(errors="replace").rstrip()
        lines.append(line)
        m = READY.search(line)
        if m and ready_s is None:
            ready_s, ready_wall = float(m.group(1)), time.perf_counter() - t0
    # this child's own peak memory. Linux also counts in it the parent's memory at the
    # fork, so this script stays small (no Keras, no matplotlib) until the runs are over
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode != 0 or ready_s is None:
        raise SystemExit(f"{mode} on {corpus.name} failed ({p.returncode}):\n"
                         + "\n".join(lines[-30:]))
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KB on Linux
    return {"peak_rss_mb": round(usage.ru_maxrss * scale / 2**20, 1),
            "ready_s": ready_s, "ready_since_start_s": round(ready_wall, 2),
            "wall_s": round(wall, 2)}


def plot(results: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["megabytes"] for r in results]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for mode, style in zip(MODES, ("o-", "s--", "^:"), strict=True):
        axes[0].plot(sizes, [r[mode]["peak_rss_mb"] / 1024 for r in results], style, label=mode)
        axes[1].plot(sizes, [max(r[mode]["ready_s"], 0.01) for r in results], style,
                     label=mode)
    axes[0].set(xscale="log", xlabel="corpus (MB)", ylabel="peak RSS (GB)",
                title="memory of a 5-step training run")
    axes[1].set(xscale="log", yscale="log", xlabel="corpus (MB)",
                ylabel="seconds until the corpus is ready",
                title="time before training (drawn at 0.01 s or more)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000],
                    help="corpus sizes in MB")
    ap.add_argument("--tmp", default="/tmp", help="where the corpora and caches go")
    ap.add_argument("--keep", action="store_true", help="keep the temporary files")
    args = ap.parse_args()

    source = datasets.fetch("tinyshakespeare").read_bytes()
    work = Path(args.tmp) / "textgen_bench_scale"
    work.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for mb in args.sizes:
            corpus = make_corpus(work / f"big_{mb}MB.txt", mb, source)
            row = {"megabytes": mb, "bytes": corpus.stat().st_size}
            for mode in MODES:
                row[mode] = run_once(corpus, work, mode)
                print(f"{mb:>5} MB  {mode:17} {row[mode]}", flush=True)
            results.append(row)
            corpus.unlink()
            shutil.rmtree(work / "encoded", ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\n{'size':>7} | {'mode':17} | {'peak RSS':>9} | {'corpus ready':>12} | "
          f"{'ready from start':>16} | {'wall':>7}")
    for r in results:
        for mode in MODES:
            m = r[mode]
            print(f"{r['megabytes']:>4} MB | {mode:17} | {m['peak_rss_mb'] / 1024:>6.2f} GB | "
                  f"{m['ready_s']:>10.2f} s | {m['ready_since_start_s']:>14.2f} s | "
                  f"{m['wall_s']:>5.1f} s")
    print("\nratios, in memory / cache (first run, rerun):")
    for r in results:
        old = r["in memory"]
        # ready_s is printed to 0.01 s: a ratio against less than that would be noise
        ratios = {k: [round(old[k] / max(r[m][k], 0.01), 1) for m in MODES[1:]]
                  for k in ("peak_rss_mb", "ready_s", "wall_s")}
        r["ratios_in_memory_over_cache"] = ratios
        print(f"{r['megabytes']:>5} MB: peak RSS {ratios['peak_rss_mb']}, corpus ready "
              f"{ratios['ready_s']}, wall {ratios['wall_s']}")
    import keras

    out = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "python": platform.python_version(), "keras": keras.__version__,
                       "backend": keras.backend.backend()},
           "command": "python -m helpers train big.txt --epochs 1 --steps-per-epoch 5 "
                      "--units 64 --samples-per-epoch 0 --fresh",
           "results": results}
    atomic_write_json(ROOT / "bench" / "results" / "scale.json", out)
    plot(results, ROOT / "bench" / "results" / "scale.png")
    print("wrote bench/results/scale.json and bench/results/scale.png")


if __name__ == "__main__":
    main()
