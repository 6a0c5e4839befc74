"""Fine-tuned from a zoo model against trained from scratch, on texts the model never saw.

    python bench/bench_finetune.py [--minutes 5] [--texts shakespeare german] [--start novels_char]

For each text, the last 10 % is held out. Two runs of ``--minutes`` each, one after the
other on this machine, with the same architecture (the pretrained model's):

* **fine-tuned**: ``train(..., init_from=--start)``, learning rate 1e-3 (the CLI default
  for fine-tuning), new characters added to the vocabulary;
* **scratch**: random weights, learning rate 2e-3 (the package default), the same
  vocabulary as the fine-tuned run, so the losses are over the same tokens.

Both decay their learning rate over the budget ("cosine-time") and score the held-out
part every few steps. Every training setting is a flag (``helpers.settings``; ``--lr`` is
the scratch run's rate, ``--fine-tune-lr`` the fine-tuned run's), with this benchmark's
defaults below; the table reads the best loss reached by 1, 2 and 5 minutes of
training. ``--vocab-check`` adds two shorter fine-tuning runs on the German text: new
characters added against mapped to the unknown token (which chose the default).
Writes ``bench/results/finetune.json`` and ``bench/results/finetune.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from helpers import datasets
from helpers.finetune import LEARNING_RATE
from helpers.paths import ROOT
from helpers.settings import TrainConfig, add_flags, values_from_args

TEXTS = {
    "shakespeare": ("tinyshakespeare", "tiny-shakespeare (English verse drama)"),
    "german": ("gutenberg-19778", "Alice's Abenteuer im Wunderland (German prose)"),
}


def load_text(key: str) -> str:
    name, _ = TEXTS[key]
    path = datasets.fetch(name)
    text = path.read_text(encoding="utf-8-sig")
    if name.startswith("gutenberg-"):
        from helpers.gutenberg import strip_headers

        text = strip_headers(text.replace("\r\n", "\n"))
    return text


# both runs' settings (learning_rate: the scratch run's); --minutes sets max_minutes
TRAIN = {"epochs": 100000, "steps_per_epoch": 15, "seq_len": 128, "batch_size": 32,
         "learning_rate": 2e-3, "schedule": "cosine-time", "warmup_steps": 20,
         "samples_per_epoch": 0, "val_fraction": 0.1, "val_max_tokens": 30_000}


def best_by(history: list[dict], seconds: float) -> float | None:
    """The best validation loss among epochs finished within ``seconds`` of training."""
    vals = [h["val_loss"] for h in history if h["seconds"] <= seconds]
    return min(vals) if vals else None


def run(text: str, minutes: float, settings: dict, init_from: str | None, vocab=None,
        new_tokens="add", lr: float | None = None) -> dict:
    from helpers.model import config_of
    from helpers.train import train

    tc = {**settings, "max_minutes": minutes, "verbose": 0,
          **({"learning_rate": lr} if lr else {})}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        if init_from:
            r = train(text, tmp, train_config=tc, init_from=init_from, new_tokens=new_tokens)
        else:
            r = train(text, tmp, vocab["config"], tc, vocab=vocab["vocab"])
        wall = time.time() - t0
    return {"history": r.history, "best": r.best_val_loss, "wall_s": round(wall, 1),
            "vocab": len(r.vocab), "config": config_of(r.model).to_dict(), "vocab_obj": r.vocab}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--texts", nargs="+", default=list(TEXTS), choices=list(TEXTS))
    ap.add_argument("--start", default="novels_char")
    ap.add_argument("--vocab-check", action="store_true")
    ap.add_argument("--vocab-minutes", type=float, default=2.0)
    ap.add_argument("--out", default="finetune.json", help="file name in bench/results/")
    ap.add_argument("--fine-tune-lr", type=float, default=LEARNING_RATE,
                    help=f"the fine-tuned run's learning rate (default {LEARNING_RATE})")
    add_flags(ap.add_argument_group("training settings of both runs (--lr: the scratch "
                                     "run's)"), TrainConfig, defaults=TRAIN,
              skip=("max_minutes",))  # set by --minutes
    args = ap.parse_args()
    settings = values_from_args(TrainConfig, args, skip=("max_minutes",))
    import keras

    marks = [m for m in (1, 2, 5) if m <= args.minutes + 1e-9] or [args.minutes]
    results = {"machine": f"{os.cpu_count()} cores", "backend": keras.backend.backend(),
               "start": args.start, "minutes": args.minutes,
               "train": {**settings, "fine_tune_lr": args.fine_tune_lr}, "texts": {}}
    for key in args.texts:
        text = load_text(key)
        ft = run(text, args.minutes, settings, args.start, lr=args.fine_tune_lr)
        cfg = {k: v for k, v in ft["config"].items() if k != "vocab_size"}
        sc = run(text, args.minutes, settings, None,
                 vocab={"vocab": ft["vocab_obj"], "config": cfg})
        row = {"description": TEXTS[key][1], "chars": len(text), "vocab": ft["vocab"]}
        for name, r in (("fine-tuned", ft), ("scratch", sc)):
            row[name] = {"history": r["history"], "wall_s": r["wall_s"],
                         "at": {f"{m} min": best_by(r["history"], m * 60) for m in marks}}
        row["gain"] = {k: (None if row["scratch"]["at"][k] is None or row["fine-tuned"]["at"][k]
                           is None else round(row["scratch"]["at"][k] - row["fine-tuned"]["at"][k], 4))
                       for k in row["scratch"]["at"]}
        results["texts"][key] = row
        print(f"{key}: " + ", ".join(f"{k}: fine-tuned {row['fine-tuned']['at'][k]} vs scratch "
                                     f"{row['scratch']['at'][k]} (gain {row['gain'][k]})"
                                     for k in row["gain"]), flush=True)
    if args.vocab_check:
        text = load_text("german")
        check = {}
        for mode in ("add", "map"):
            r = run(text, args.vocab_minutes, settings, args.start, new_tokens=mode,
                    lr=args.fine_tune_lr)
            check[mode] = {"best": r["best"], "vocab": r["vocab"], "history": r["history"]}
            print(f"german, new tokens {mode}: best {r['best']:.4f} in {args.vocab_minutes} min "
                  f"(vocab {r['vocab']})", flush=True)
        results["vocab_check"] = check
    (ROOT / "bench" / "results" / args.out).write_text(json.dumps(results, indent=1) + "\n")
    plot(results, ROOT / "bench" / "results" / "finetune.png")


def plot(results: dict, out) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(results["texts"])
    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        row = results["texts"][key]
        for name, style in (("fine-tuned", "-"), ("scratch", "--")):
            h = row[name]["history"]
            ax.plot([x["seconds"] / 60 for x in h], [x["val_loss"] for x in h], style, label=name)
        ax.set_title(f"{row['description']}\nfrom {results['start']}, {results['backend']}, "
                     f"{results['machine']}", fontsize=9)
        ax.set_xlabel("minutes of training")
        ax.set_ylabel("held-out loss (nats/char)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
