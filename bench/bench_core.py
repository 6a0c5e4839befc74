"""Core benchmarks, each against the naive way in the same run, printing ratios.

    python bench/bench_core.py [--quick] [--skip-memory]

1. Training throughput (characters/s): our default model (Embedding -> 2 x LSTM(256)
   -> Dense logits, Adam, sparse targets) against the seeds' way with the same LSTM
   sizes (one-hot input -> 2 x LSTM(256) -> TimeDistributed softmax, RMSprop,
   one-hot targets), same batch and sequence length.
2. Sampling speed (characters/s) with the Shakespeare zoo model: one NumPy step per
   character carrying the state, against re-running ``model.predict`` on the whole
   100-character window per character (the seeds' way), and the Keras step model.
3. Peak memory (max RSS) of training on a generated 100 MB corpus, in a fresh process.

Results go to stdout and ``bench/results/core.json``. Timings vary between machines;
compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from helpers import datasets
from helpers.paths import ROOT


def corpus_text() -> str:
    """tiny-shakespeare from the data registry (downloaded once; TEXTGEN_MIRROR for a mirror)."""
    return datasets.fetch("tinyshakespeare").read_text(encoding="utf-8")


def bench_training(steps: int, batch: int = 64, seq: int = 128) -> dict:
    import keras

    from helpers.model import ModelConfig, build_model, count_params
    from helpers.train import TrainConfig, compile_model
    from helpers.vocab import CharVocab
    from helpers.windows import WindowDataset

    text = corpus_text()
    vocab = CharVocab.build(text)
    ids = vocab.encode(text)
    V = len(vocab)
    data = WindowDataset(ids, seq, batch, steps_per_epoch=steps + 3, seed=0)

    ours = build_model(ModelConfig(vocab_size=V, embed_dim=64, units=256, layers=2, dropout=0.1))
    compile_model(ours, TrainConfig(), total_steps=steps + 3)

    inp = keras.Input((seq, V))
    x = keras.layers.LSTM(256, return_sequences=True)(inp)
    x = keras.layers.Dropout(0.1)(x)
    x = keras.layers.LSTM(256, return_sequences=True)(x)
    x = keras.layers.Dropout(0.1)(x)
    out = keras.layers.TimeDistributed(keras.layers.Dense(V, activation="softmax"))(x)
    seed = keras.Model(inp, out)
    seed.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="categorical_crossentropy")
    eye = np.eye(V, dtype="float32")

    def run(model, one_hot: bool) -> float:
        def batch_at(i):
            xb, yb = data[i]
            return (eye[xb], eye[yb]) if one_hot else (xb, yb)

        for i in range(3):  # warm-up (tracing, compilation)
            model.train_on_batch(*batch_at(i))
        t = time.perf_counter()
        for i in range(3, steps + 3):
            model.train_on_batch(*batch_at(i))
        return steps * batch * seq / (time.perf_counter() - t)

    r_ours, r_seed = run(ours, False), run(seed, True)
    return {"ours_chars_per_s": r_ours, "seed_chars_per_s": r_seed, "ratio": r_ours / r_seed,
            "params_ours": count_params(ours), "params_seed": count_params(seed),
            "batch": batch, "seq_len": seq, "steps": steps}


def bench_sampling(n_chars: int, n_naive: int) -> dict:
    import keras

    from helpers import zoo
    from helpers.model import build_step_model, state_sizes

    m = zoo.load("shakespeare_char")
    gen = m.generator
    t = time.perf_counter()
    s = gen.generate("ROMEO:", length=n_chars, temperature=0.8, seed=0, stop_at_end=False)[0]
    fast = len(s.token_ids) / (time.perf_counter() - t)

    # the seeds' way: predict on the whole window for every new character
    vocab, model = m.vocab, m.model
    window = list(vocab.encode(s.full[:100]).astype("int32"))
    rng = np.random.default_rng(0)
    model.predict(np.array([window]), verbose=0)
    t = time.perf_counter()
    for _ in range(n_naive):
        logits = model.predict(np.array([window[-100:]]), verbose=0)[0, -1]
        p = np.exp((logits - logits.max()) / 0.8)
        window.append(int(rng.choice(len(p), p=p / p.sum())))
    naive = n_naive / (time.perf_counter() - t)

    # the Keras step model (shares weights; backend-compiled call)
    step = build_step_model(model)
    states = [np.zeros((1, n), "float32") for n in state_sizes(model)]
    tok = np.array([1], "int32")
    step([tok, *states])
    t = time.perf_counter()
    for _ in range(n_naive):
        out = step([tok, *states])
        states = [keras.ops.convert_to_numpy(v) for v in out[1:]]
        logits = keras.ops.convert_to_numpy(out[0])[0]
        tok = np.array([int(logits.argmax())], "int32")
    keras_step = n_naive / (time.perf_counter() - t)
    return {"numpy_step_chars_per_s": fast, "keras_step_chars_per_s": keras_step,
            "naive_window_chars_per_s": naive, "ratio_vs_naive": fast / naive,
            "model": repr(m)}


MEMORY_CHILD = r"""
import resource, sys, time
import numpy as np
from helpers.train import train
words = np.array(open(sys.argv[1]).read().split())
rng = np.random.default_rng(0)
parts, n = [], 0
while n < 100_000_000:
    chunk = " ".join(words[rng.integers(0, len(words), 200_000)]) + "\n"
    parts.append(chunk); n += len(chunk)
text = "".join(parts)[:100_000_000]
del parts
t = time.time()
r = train(text, sys.argv[2], {"units": 256, "layers": 2},
          {"epochs": 1, "steps_per_epoch": 20, "seq_len": 128, "batch_size": 64,
           "samples_per_epoch": 0, "val_max_tokens": 200_000, "verbose": 0})
# VmHWM is this process's own peak; ru_maxrss would include the parent's peak,
# which Linux carries over through fork and exec
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
peak_kb = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(text), peak_kb, time.time() - t)
"""


def bench_memory(tmp: Path) -> dict:
    src = datasets.fetch("tinyshakespeare")
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(src), str(tmp)],
                         capture_output=True, text=True, timeout=1800)
    if out.returncode:
        return {"error": out.stderr[-2000:]}
    chars, maxrss_kb, secs = out.stdout.split()[-3:]
    return {"corpus_chars": int(chars), "peak_rss_mb": round(int(maxrss_kb) / 1024, 1),
            "seconds": float(secs), "target_mb": 2048}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--only-memory", action="store_true", help="update just the memory figure")
    args = ap.parse_args()
    if args.only_memory:
        import tempfile

        path = ROOT / "bench" / "results" / "core.json"
        res = json.loads(path.read_text()) if path.exists() else {}
        with tempfile.TemporaryDirectory() as tmp:
            res["memory"] = bench_memory(Path(tmp))
        res.pop("maxrss_parent_mb", None)
        path.write_text(json.dumps(res, indent=1) + "\n")
        print(f"memory: {res['memory']}")
        return
    import keras

    res = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
           "backend": keras.backend.backend(), "keras": keras.__version__}
    res["training"] = bench_training(5 if args.quick else 40)
    tr = res["training"]
    print(f"training: ours {tr['ours_chars_per_s']:,.0f} chars/s vs seed one-hot "
          f"{tr['seed_chars_per_s']:,.0f} chars/s -> {tr['ratio']:.2f}x", flush=True)
    res["sampling"] = bench_sampling(300 if args.quick else 3000, 20 if args.quick else 100)
    sp = res["sampling"]
    print(f"sampling: numpy step {sp['numpy_step_chars_per_s']:,.0f} chars/s, keras step "
          f"{sp['keras_step_chars_per_s']:,.0f}, naive window {sp['naive_window_chars_per_s']:,.1f}"
          f" -> {sp['ratio_vs_naive']:.0f}x", flush=True)
    if not args.skip_memory:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            res["memory"] = bench_memory(Path(tmp))
        print(f"memory: {res['memory']}", flush=True)
    if not args.quick:
        (ROOT / "bench" / "results" / "core.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
