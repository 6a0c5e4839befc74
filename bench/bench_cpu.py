"""Best validation loss reachable on this CPU in a fixed time, against nanoGPT.

    python bench/bench_cpu.py [--budgets 80 600] [--cell gru] [--units 256] [--lr 5e-3]

A plan built from the flags, one run per wall-clock budget, one after the other (or
``--parallel N`` side by side), run by the bench's harness (``bench/harness.py``, as
``bench_runs.py`` runs a plan file): tiny-shakespeare with nanoGPT's split (first 90%
train, last 10% validation), the learning rate decayed over the budget ("cosine-time"),
scored over the whole validation split in windows of 160 characters (as
../shared/BASELINES.md did) and with the state carried through. Every model and training
setting is a flag (``helpers.settings``); the defaults below are this benchmark's where
they differ from the package's. ``--carry-state`` trains with truncated backpropagation
through time (contiguous streams, state carried between batches).

Each run writes ``bench/results/<device>/<name>_<budget>s.json`` (``--name``, default
``cpu``); the command prints the table of its runs (``bench_runs.py --table`` prints all
and draws the charts). The budget counts from the start of each run's process, start-up
included. The first runs of this benchmark counted from the start of training and wrote
one file per command; ``bench/results/cpu_budgets/`` keeps them and ``plot_cpu.py`` draws
them.

The reference, nanoGPT's CPU "baby" configuration, is not part of this project. To run
it beside on the same machine: clone github.com/karpathy/nanoGPT, run
``python data/shakespeare_char/prepare.py``, then ``python train.py
config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
--log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
--max_iters=2000 --lr_decay_iters=2000 --dropout=0.0`` (and ``--max_iters=15000`` for the
10-minute point). ../shared/BASELINES.md records what it gave on this kind of machine:
1.898 after 79 s and 1.555 after 623 s; ``bench/results/nanogpt_cpu.json`` what it gave
run beside this harness.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import harness

# this benchmark's settings where they differ from the package's defaults
MODEL = {"cell": "gru", "units": 256, "layers": 2, "dropout": 0.1}
TRAIN = {"learning_rate": 5e-3, "steps_per_epoch": 100, "epochs": 100_000,
         "schedule": "cosine-time", "warmup_steps": 50, "samples_per_epoch": 0,
         "val_max_tokens": 20_000}  # scored during training; the final score uses all


def plan_from_args(args: argparse.Namespace) -> dict:
    """The plan these flags describe: one run per budget, the same settings each."""
    model, train = harness.settings_from_args(args)
    corpus = Path(args.corpus)  # a file from here, or a data-registry name
    corpus = str(corpus.resolve()) if corpus.is_file() else args.corpus
    return {"defaults": {"score_windows": 160, "corpus": corpus,
                         "model": model, "train": train},
            "runs": [{"name": f"{args.name}_{b:g}s", "budget_s": b} for b in args.budgets]}


def parser() -> argparse.ArgumentParser:
    """The command line: the runs, and every model and training setting as a flag."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", type=float, nargs="+", default=[80, 600],
                    help="seconds per run, from the start of its process")
    ap.add_argument("--name", default="cpu", help="the runs are called NAME_<budget>s")
    ap.add_argument("--corpus", default="tinyshakespeare",
                    help="a data-registry name or a text file")
    ap.add_argument("--parallel", type=int, default=1, help="runs at once (1 on a CPU)")
    ap.add_argument("--out", type=Path, default=harness.RESULTS,
                    help="where the runs go (bench/results)")
    harness.add_settings_flags(ap, MODEL, TRAIN)
    return ap


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    plan = plan_from_args(args)
    specs = harness.expand(plan)
    written = harness.launch(specs, args.parallel, args.out)
    harness.report(args.out, names={s["name"] for s in specs}, chart=False)
    if len(written) < len(specs):  # each failed run's log says why
        raise SystemExit(f"error: {len(specs) - len(written)} of {len(specs)} runs failed; "
                         f"their logs are in {args.out / 'logs'}")


if __name__ == "__main__":
    main()
