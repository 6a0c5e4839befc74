"""Best validation loss reachable on this CPU in a fixed time, against nanoGPT.

    python bench/bench_cpu.py [--budgets 80 600] [--cell gru] [--units 256]

Trains on tiny-shakespeare with nanoGPT's split (first 90% train, last 10% validation)
for each wall-clock budget, with the learning rate decayed over the budget
("cosine-time"), and scores the whole validation split in windows of 160 characters
(as ../shared/BASELINES.md did) and with the state carried through. Writes
``bench/<--out>`` (default ``results_cpu.json``) and redraws ``bench/cpu_loss_vs_time.png``
with every ``results_cpu*.json`` (``plot_cpu.py``). ``--carry-state`` trains with truncated
backpropagation through time (contiguous streams, state carried between batches).

The reference, nanoGPT's CPU "baby" configuration, is not part of this project. To run
it beside on the same machine: clone github.com/karpathy/nanoGPT, run
``python data/shakespeare_char/prepare.py``, then ``python train.py
config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
--log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
--max_iters=2000 --lr_decay_iters=2000 --dropout=0.0`` (and ``--max_iters=15000`` for the
10-minute point). ../shared/BASELINES.md records what it gave on this kind of machine:
1.898 after 79 s and 1.555 after 623 s.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from helpers import datasets
from helpers.paths import ROOT

NANOGPT = {"seconds": [79, 623], "val_loss": [1.898, 1.555],
           "source": "../shared/BASELINES.md (nanoGPT baby config, PyTorch CPU, 2 threads)"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=float, nargs="+", default=[80, 600])
    ap.add_argument("--cell", default="gru")
    ap.add_argument("--units", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--steps-per-epoch", type=int, default=100)
    ap.add_argument("--carry-state", action="store_true",
                    help="truncated BPTT: contiguous streams, state carried between batches")
    ap.add_argument("--carry-reset", type=float, default=0.0,
                    help="with --carry-state: chance a stream's state is zeroed before a batch")
    ap.add_argument("--schedule", default="cosine-time", choices=["cosine-time", "constant"])
    ap.add_argument("--val-tokens", type=int, default=20_000,
                    help="validation tokens scored during training (the final score uses all)")
    ap.add_argument("--out", default="results_cpu.json")
    args = ap.parse_args()
    import keras

    from helpers.evaluate import text_loss
    from helpers.train import train

    text = datasets.fetch("tinyshakespeare").read_text(encoding="utf-8")
    val_text = text[int(round(len(text) * 0.9)):]
    runs = []
    for budget in args.budgets:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            r = train(text, tmp, {"cell": args.cell, "units": args.units, "layers": args.layers,
                                  "dropout": args.dropout},
                      {"epochs": 100000, "steps_per_epoch": args.steps_per_epoch,
                       "val_max_tokens": args.val_tokens, "seq_len": args.seq_len,
                       "batch_size": args.batch_size, "learning_rate": args.lr,
                       "schedule": args.schedule, "warmup_steps": 50,
                       "carry_state": args.carry_state, "carry_reset": args.carry_reset,
                       "max_minutes": budget / 60, "samples_per_epoch": 0, "verbose": 0})
            wall = time.time() - t0
        w160 = text_loss(r.model, r.vocab, val_text, seq_len=160)
        carried = text_loss(r.model, r.vocab, val_text, carry_state=True)
        runs.append({"budget_s": budget, "wall_s": round(wall, 1),
                     "best_val_loss_during_training": r.best_val_loss,
                     "val_loss_windows_160": w160["nats"], "val_loss_state_carried": carried["nats"],
                     "history": r.history})
        print(f"budget {budget:.0f} s: windows-160 {w160['nats']:.4f}, carried "
              f"{carried['nats']:.4f} nats/char (nanoGPT: {NANOGPT})", flush=True)
    res = {"machine": f"{os.cpu_count()} cores", "backend": keras.backend.backend(),
           "config": vars(args), "runs": runs, "nanogpt": NANOGPT}
    (ROOT / "bench" / args.out).write_text(json.dumps(res, indent=1) + "\n")
    from plot_cpu import main as plot_all  # every results_cpu*.json on one chart

    plot_all()
    print(json.dumps({k: v for k, v in res.items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
