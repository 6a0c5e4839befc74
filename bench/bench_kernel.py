"""Time per training step of the ten-minute CPU networks: Keras's recurrent loop against
the fused kernel, on each backend, in float32 and bfloat16.

    python bench/bench_kernel.py [--cells lstm gru] [--units 256 384] [--steps 12]

On a CPU no Keras backend hands a recurrent layer's whole sequence to one kernel, as
cuDNN does on a GPU: JAX runs ``lax.scan``, TensorFlow ``tf.while_loop``, torch a Python
loop of small products. :mod:`helpers.fused_rnn` routes Keras-on-torch's layers to
ATen's fused CPU kernel (oneDNN's for the LSTM). This script measures, one configuration
per process and one after the other, on the shapes of the ten-minute CPU runs (2 layers of
``--units``, batches of 32 x 128, Adam with clipnorm 1, dropout 0.2 after each layer):

- the reference: the same network written in plain ``torch.nn`` (the fastest this machine
  has installed), in float32 and under bfloat16 autocast;
- the project's own model through Keras (inside ``fit``): JAX, TensorFlow, torch with
  Keras's loop (the naive way), torch with :func:`~helpers.fused_rnn.fused_cpu_rnn`, and
  that again with ``precision="mixed_bfloat16"``.

It prints milliseconds per step and each one's speed-up over Keras's loop on torch, and
writes ``bench/results/kernel.json``. bfloat16 pays only on CPUs with bfloat16 matrix
units (Intel AMX, listed as ``amx_bf16`` in ``/proc/cpuinfo``); elsewhere it is emulated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from helpers.settings import CELLS, MAX_WIDTH

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "kernel.json"
VOCAB = 65  # tiny-shakespeare's characters; the size barely matters to the step time


def _shapes(cell: str, units: int) -> dict:
    """The ten-minute CPU runs' shapes (bench/plans/cpu_600s_*.json)."""
    return {"cell": cell, "units": units, "layers": 2, "embed_dim": 64, "batch": 32,
            "seq_len": 128, "dropout": 0.2}


def _timed(step, warmup: int, steps: int) -> list[float]:
    for _ in range(warmup):  # tracing / compilation and the allocator's first passes
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return times


def worker_keras(cell: str, units: int, warmup: int, steps: int,
                 precision: str = "float32") -> dict:
    """The project's own model and compile through one Keras backend, timed inside ``fit``
    (as training runs it); on torch inside :func:`helpers.fused_rnn.fused_cpu_rnn`, as
    ``train()`` runs it, unless ``TEXTGEN_BENCH_LOOP`` is set (Keras's own loop)."""
    import keras
    import numpy as np

    from helpers.fused_rnn import fused_cpu_rnn
    from helpers.model import build_model
    from helpers.settings import ModelConfig, TrainConfig
    from helpers.train import compile_model

    s = _shapes(cell, units)
    model = build_model(ModelConfig(vocab_size=VOCAB, cell=cell, units=s["units"],
                                    layers=s["layers"], embed_dim=s["embed_dim"],
                                    dropout=s["dropout"]),
                        precision=None if precision == "float32" else precision)
    compile_model(model, TrainConfig(learning_rate=5e-3, schedule="constant"), 1000)
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (s["batch"] * steps, s["seq_len"])).astype("int32")
    y = rng.integers(0, VOCAB, (s["batch"] * steps, s["seq_len"])).astype("int32")
    loop = bool(os.environ.get("TEXTGEN_BENCH_LOOP"))
    with fused_cpu_rnn() if not loop else nullcontext() as fused:
        fit = dict(batch_size=s["batch"], epochs=1, verbose=0, shuffle=False)
        model.fit(x[: s["batch"] * warmup], y[: s["batch"] * warmup], **fit)  # tracing
        t = time.perf_counter()
        model.fit(x, y, **fit)
        per_step = (time.perf_counter() - t) / steps
    how = " + fused_cpu_rnn" if fused else ""
    return {"engine": f"keras {keras.__version__} on {keras.backend.backend()}{how}", **s,
            "precision": precision, "ms_per_step": 1000 * per_step}


def worker_torch_native(cell: str, units: int, warmup: int, steps: int,
                        precision: str = "float32") -> dict:
    """The same network written with torch.nn: the multi-layer RNN is one ATen call."""
    import torch

    s = _shapes(cell, units)
    torch.manual_seed(0)
    rnn_cls = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    emb = torch.nn.Embedding(VOCAB, s["embed_dim"])
    # nn.GRU's own dropout sits between layers only; the cost of one more mask is noise
    rnn = rnn_cls(s["embed_dim"], s["units"], num_layers=s["layers"], batch_first=True,
                  dropout=s["dropout"])
    head = torch.nn.Linear(s["units"], VOCAB)
    params = [*emb.parameters(), *rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, 5e-3)
    x = torch.randint(0, VOCAB, (s["batch"], s["seq_len"]))
    y = torch.randint(0, VOCAB, (s["batch"], s["seq_len"]))

    def step():
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision != "float32"):
            logits = head(rnn(emb(x))[0])
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, VOCAB),
                                                 y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    times = _timed(step, warmup, steps)
    return {"engine": f"torch {torch.__version__} nn.{rnn_cls.__name__}", **s,
            "precision": precision, "ms_per_step": 1000 * statistics.median(times)}


# (label, worker, KERAS_BACKEND, precision, Keras's own loop)
CONFIGS = [
    ("torch.nn (reference)", "torch-native", None, "float32", False),
    ("torch.nn, bfloat16 autocast (reference)", "torch-native", None, "mixed_bfloat16", False),
    ("keras on jax", "keras", "jax", "float32", False),
    ("keras on tensorflow", "keras", "tensorflow", "float32", False),
    ("keras on torch, its loop", "keras", "torch", "float32", True),
    ("keras on torch + fused_cpu_rnn", "keras", "torch", "float32", False),
    ("keras on torch + fused_cpu_rnn, mixed_bfloat16", "keras", "torch", "mixed_bfloat16", False),
]
NAIVE = "keras on torch, its loop"


def run_worker(kind: str, cell: str, units: int, backend: str | None, precision: str,
               loop: bool, warmup: int, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TEXTGEN_BENCH_LOOP", None)
    if backend:
        env["KERAS_BACKEND"] = backend
    if loop:
        env["TEXTGEN_BENCH_LOOP"] = "1"
    cmd = [sys.executable, __file__, "--worker", kind, "--cells", cell, "--units", str(units),
           "--precision", precision, "--warmup", str(warmup), "--steps", str(steps)]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        tail = out.stderr.strip().splitlines()[-1:] or ["(no message)"]
        return {"error": tail[0]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # the sizes to compare (several values each, where ModelConfig takes one): the
    # settings' own choices and limits
    ap.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    ap.add_argument("--units", nargs="+", type=int, default=[256],
                    help=f"units per layer (1 to {MAX_WIDTH})")
    ap.add_argument("--steps", type=int, default=12, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--worker", choices=["keras", "torch-native"], help=argparse.SUPPRESS)
    ap.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not all(1 <= u <= MAX_WIDTH for u in args.units):
        ap.error(f"--units takes whole numbers from 1 to {MAX_WIDTH}")
    if args.worker:
        fn = worker_keras if args.worker == "keras" else worker_torch_native
        print(json.dumps(fn(args.cells[0], args.units[0], args.warmup, args.steps,
                            args.precision)))
        return

    from helpers.machine import device_name
    from helpers.textio import atomic_write_json

    rows = []
    for cell, units in [(c, u) for c in args.cells for u in args.units]:
        print(f"\n2 x {cell.upper()}({units}): ms per training step (speed-up over {NAIVE!r})",
              flush=True)
        measured = {}
        for label, kind, backend, precision, loop in CONFIGS:
            row = {"label": label, "cell": cell, "units": units,
                   **run_worker(kind, cell, units, backend, precision, loop, args.warmup,
                                args.steps)}
            measured[label] = row.get("ms_per_step")
            rows.append(row)
            if "error" in row:
                print(f"  {label:<48} error: {row['error']}", flush=True)
                continue
            naive = measured.get(NAIVE)
            speedup = f"{naive / row['ms_per_step']:5.2f}x" if naive else "  (later)"
            print(f"  {label:<48} {row['ms_per_step']:6.0f}  {speedup}", flush=True)
        naive = measured.get(NAIVE)
        for row in rows:
            if (row["cell"], row["units"]) == (cell, units) and naive and row.get("ms_per_step"):
                row["speedup_over_keras_loop"] = naive / row["ms_per_step"]
    atomic_write_json(OUT, {"device": device_name(), "date": time.strftime("%Y-%m-%d"),
                            "steps": args.steps, "results": rows})
    print(f"\nwrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
