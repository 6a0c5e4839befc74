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
from helpers.settings import ModelConfig, TrainConfig, add_flags, values_from_args

NANOGPT = {"seconds": [79, 623], "val_loss": [1.898, 1.555],
           "source": "../shared/BASELINES.md (nanoGPT baby config, PyTorch CPU, 2 threads)"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=float, nargs="+", default=[80, 600])
    ap.add_argument("--out", default="results_cpu.json")
    # every model and training setting is a flag (helpers.settings); these are the
    # bench's own defaults, where it differs from the package's
    add_flags(ap.add_argument_group("model"), ModelConfig,
              defaults={"cell": "gru", "units": 256, "layers": 2, "dropout": 0.1})
    add_flags(ap.add_argument_group("training"), TrainConfig,
              defaults={"learning_rate": 5e-3, "steps_per_epoch": 100, "epochs": 100000,
                        "schedule": "cosine-time", "warmup_steps": 50, "samples_per_epoch": 0,
                        "val_max_tokens": 20_000},  # the final score uses all
              skip=("max_minutes",))  # set by --budgets
    args = ap.parse_args()
    import keras

    from helpers.evaluate import text_loss
    from helpers.train import train
    from helpers.windows import split_ids

    text = datasets.fetch("tinyshakespeare").read_text(encoding="utf-8")
    val_text = split_ids(text, 0.1)[1]  # the split train() makes: nanoGPT's last 10%
    runs = []
    for budget in args.budgets:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            tc = {**values_from_args(TrainConfig, args, skip=("max_minutes",)),
                  "max_minutes": budget / 60, "verbose": 0}
            r = train(text, tmp, values_from_args(ModelConfig, args), tc)
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
