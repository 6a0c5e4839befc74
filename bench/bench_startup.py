"""Start-up of ``python -m helpers sample``: reading the zoo model without Keras against
loading it with Keras, in the same run, printing the ratio.

    python bench/bench_startup.py [--repeats 5] [--zoo shakespeare_char]

Each repeat starts a fresh process for both paths, alternating, and measures

* first character: from starting the process to the first generated character arriving
  on its stdout (``--prompt ROMEO: --length 1``, unbuffered output),
* wall time of the whole ``make demo`` command (2 samples of 500 characters) and the
  tokens/s it reports for sampling alone.

The Keras path is the command as it was before sampling went backend-free: the same
``helpers.cli.main``, with Keras started first (``quiet_backend_start``) and the model
loaded by ``zoo.load(..., backend=True)``. Results go to stdout and
``bench/results/startup.json``; timings vary between machines, compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERAS_PATH = """
import sys
from helpers import zoo
from helpers.cli import main
from helpers.machine import quiet_backend_start

quiet_backend_start()
load, load_run = zoo.load, zoo.load_run
zoo.load = lambda *a, **k: load(*a, **{**k, "backend": True})
zoo.load_run = lambda *a, **k: load_run(*a, **{**k, "backend": True})
sys.exit(main(sys.argv[1:]))
"""
PATHS = {
    "numpy (no Keras)": [sys.executable, "-u", "-m", "helpers"],
    "keras": [sys.executable, "-u", "-c", KERAS_PATH],
}


def first_character(cmd: list[str], zoo: str, prompt: str) -> tuple[float, float]:
    """Seconds from start to the first generated character, and to the exit."""
    args = ["sample", "--zoo", zoo, "--prompt", prompt, "--length", "1", "--seed", "0"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd + args, cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    first = None
    for line in p.stdout:
        if first is None and line.startswith(prompt):  # the sample: prompt + 1 character
            first = time.perf_counter() - t0
    p.wait()
    total = time.perf_counter() - t0
    if p.returncode or first is None:
        raise SystemExit(f"{cmd[-1][:40]!r} failed (exit status {p.returncode})")
    return first, total


def demo(cmd: list[str], zoo: str) -> tuple[float, float, str]:
    """Wall time of the ``make demo`` command, the tokens/s it reports, and its text."""
    args = ["sample", "--zoo", zoo, "--prompt", "ROMEO:", "--temperature", "0.7", "--num",
            "2", "--length", "500", "--seed", "0"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd + args, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    rate = re.search(r"\(([\d,]+) tokens/s\)", r.stderr)
    return wall, float(rate.group(1).replace(",", "")) if rate else float("nan"), r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--zoo", default="shakespeare_char")
    args = ap.parse_args()
    runs: dict[str, dict[str, list[float]]] = {k: {"first": [], "exit": [], "demo": [],
                                                   "tokens_per_s": []} for k in PATHS}
    texts = {}
    for i in range(args.repeats):
        for name, cmd in PATHS.items():  # alternating, so both see the same machine load
            first, total = first_character(cmd, args.zoo, "ROMEO:")
            wall, rate, texts[name] = demo(cmd, args.zoo)
            for key, value in (("first", first), ("exit", total), ("demo", wall),
                               ("tokens_per_s", rate)):
                runs[name][key].append(value)
            print(f"repeat {i + 1} {name:17} first character {first:6.2f} s, "
                  f"demo {wall:6.2f} s, {rate:,.0f} tokens/s", flush=True)
    same = len(set(texts.values())) == 1
    med = {k: {m: statistics.median(v) for m, v in r.items()} for k, r in runs.items()}
    new, old = med["numpy (no Keras)"], med["keras"]
    print(f"\nmedians of {args.repeats} ({args.zoo}):")
    print(f"{'path':17} {'first char':>10} {'exit':>7} {'demo':>7} {'tokens/s':>9}")
    for k, m in med.items():
        print(f"{k:17} {m['first']:9.2f}s {m['exit']:6.2f}s {m['demo']:6.2f}s "
              f"{m['tokens_per_s']:9,.0f}")
    print(f"first character {old['first'] / new['first']:.1f}x sooner, the demo command "
          f"{old['demo'] / new['demo']:.1f}x faster; identical text: {same}")
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                      f"Python {platform.python_version()}",
           "zoo": args.zoo, "repeats": args.repeats, "runs": runs, "medians": med,
           "ratio_first_character": old["first"] / new["first"],
           "ratio_demo": old["demo"] / new["demo"], "identical_text": same}
    (ROOT / "bench" / "results" / "startup.json").write_text(json.dumps(out, indent=1))
    if not same:
        raise SystemExit("the two paths printed different text")


if __name__ == "__main__":
    main()
