"""Run a list of training configurations on tiny-shakespeare and keep one JSON per run.

    python bench/bench_runs.py bench/plans/cpu_80s.json            # one after the other
    python bench/bench_runs.py bench/plans/gpu.json --parallel 4   # side by side (a GPU)
    python bench/bench_runs.py --table                             # tables and charts

A plan is ``{"defaults": {"budget_s", "score_windows", "model": {...}, "train": {...}},
"runs": [{"name", ...overrides}]}``. Each run is a fresh process whose clock starts when
it is launched: its ``budget_s`` covers Python and Keras start-up, reading the corpus,
building the model and training (the learning rate decays over what is left of it), so
an 80-second run is what someone gets 80 seconds after pressing enter. The final score,
after the budget, covers the whole validation split (nanoGPT's split: the last 10%) in
windows of ``score_windows`` from a zero state, and with the state carried through.

Each run writes ``bench/results/<device>/<name>.json``: its curve (validation loss on the
first ``val_max_tokens`` characters against seconds since launch, with the step count
and the epoch's training loss), best, final scores,
steps, the full configuration and the device. Losers are kept. ``--table`` prints a
Markdown table per device and draws ``bench/results/<device>.png``.
"""

from __future__ import annotations

import time

T_LAUNCH = time.time()  # before anything heavy is imported: the run's clock

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RUNS = BENCH / "results"


def slug(device: str) -> str:
    """A folder name for a device as ``helpers.machine.device_name`` describes it."""
    if device.startswith("CPU") or "cores" in device:  # the core count tells CPUs apart here
        return f"cpu-{os.cpu_count()}-cores"
    named = re.search(r"\(([^)]*)\)", device)  # "cuda:0 (NVIDIA H100 ...)" -> the name
    return re.sub(r"[^a-z0-9]+", "-", (named.group(1) if named else device).lower()).strip("-")


def expand(plan: dict) -> list[dict]:
    """Each run: the plan's defaults with the run's overrides (model/train merged)."""
    base = plan.get("defaults", {})
    runs = []
    for r in plan["runs"]:
        spec = {**base, **{k: v for k, v in r.items() if k not in ("model", "train")}}
        spec["model"] = {**base.get("model", {}), **r.get("model", {})}
        spec["train"] = {**base.get("train", {}), **r.get("train", {})}
        runs.append(spec)
    names = [r["name"] for r in runs]
    if len(set(names)) != len(names):
        raise SystemExit(f"error: run names repeat in the plan: {names}")
    return runs


def run_one(spec: dict, t_launch: float) -> dict:
    """Train one configuration within its budget, counted from ``t_launch``."""
    import keras

    from helpers import datasets
    from helpers.evaluate import text_loss
    from helpers.machine import device_name
    from helpers.train import train
    from helpers.windows import split_ids

    text = datasets.fetch("tinyshakespeare").read_text(encoding="utf-8")
    val_text = split_ids(text, 0.1)[1]  # the split train() makes: nanoGPT's last 10%
    curve: list[list[float]] = []
    steps = [0]

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps[0] += 1

        def on_epoch_end(self, epoch, logs=None):
            if logs and "val_loss" in logs:  # seconds, validation loss, steps, training loss
                curve.append([round(time.time() - t_launch, 2), round(float(logs["val_loss"]), 5),
                              steps[0], round(float(logs.get("loss", float("nan"))), 5)])

    ready = time.time() - t_launch
    left = spec["budget_s"] - ready
    if left <= 5:
        raise SystemExit(f"error: start-up took {ready:.0f} s of a {spec['budget_s']} s budget")
    tc = {"schedule": "cosine-time", "samples_per_epoch": 0, "verbose": 0, "epochs": 100_000,
          **spec["train"], "max_minutes": left / 60}
    with tempfile.TemporaryDirectory() as tmp:
        r = train(text, tmp, spec["model"], tc, callbacks=[Watch()])
    trained = time.time() - t_launch
    w = spec.get("score_windows", 160)
    windows = text_loss(r.model, r.vocab, val_text, seq_len=w)["nats"]
    carried = text_loss(r.model, r.vocab, val_text, carry_state=True)["nats"]
    return {
        "name": spec["name"], "device": device_name(), "backend": keras.backend.backend(),
        "keras": keras.__version__, "spec": spec, "params": int(r.model.count_params()),
        "startup_s": round(ready, 2), "trained_s": round(trained, 1),
        "scored_s": round(time.time() - t_launch - trained, 1), "steps": steps[0],
        "curve": curve, "best_val_subset": min((c[1] for c in curve), default=None),
        f"val_windows_{w}": round(windows, 4), "val_state_carried": round(carried, 4),
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(t_launch)),
    }


def launch(specs: list[dict], parallel: int, out: Path) -> None:
    """Each spec in a fresh process, at most ``parallel`` at a time."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    waiting, running = list(specs), []
    while waiting or running:
        while waiting and len(running) < parallel:
            spec = waiting.pop(0)
            (out / "logs").mkdir(exist_ok=True)
            log = (out / "logs" / f"{spec['name']}.log").open("w")
            # a plan may compare Keras backends at equal wall time
            backend = {"KERAS_BACKEND": spec["backend"]} if "backend" in spec else {}
            p = subprocess.Popen([sys.executable, __file__, "--one", json.dumps(spec),
                                  "--out", str(out)],
                                 stdout=log, stderr=subprocess.STDOUT, env={**env, **backend},
                                 cwd=ROOT)
            running.append((p, spec, log))
            print(f"started {spec['name']}", flush=True)
        time.sleep(1)
        for item in list(running):
            p, spec, log = item
            if p.poll() is not None:
                log.close()
                running.remove(item)
                lines = (out / "logs" / f"{spec['name']}.log").read_text().splitlines()
                said = [x for x in lines if x.startswith(("error:", f"{spec['name']}:"))]
                print(f"finished {spec['name']} (exit {p.returncode}): "
                      f"{(said or lines[-1:] or [''])[-1]}", flush=True)


def load_all(out: Path) -> dict[str, list[dict]]:
    by_device: dict[str, list[dict]] = {}
    for f in sorted(out.glob("*/*.json")):
        r = json.loads(f.read_text())
        by_device.setdefault(f.parent.name, []).append(r)
    return by_device


def table(rows: list[dict]) -> str:
    """A Markdown table of one device's runs; the settings column shows only what
    differs between them (backend included)."""
    def settings(r):
        s = r["spec"]
        return {"backend": r["backend"], **s["model"], **s["train"]}

    keys = sorted({k for r in rows for k in settings(r)})
    varies = [k for k in keys if len({json.dumps(settings(r).get(k)) for r in rows}) > 1]
    w = next((k for k in rows[0] if k.startswith("val_windows_")), "val_windows_160")
    out = [f"device: {rows[0]['device']}, Keras {rows[0]['keras']}", "",
           f"| run | budget | start-up | steps | best (subset) | whole split, windows of "
           f"{w[12:]} | state carried | settings that differ |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["spec"]["budget_s"], r.get(w, 9))):
        diff = ", ".join(f"{k}={settings(r)[k]}" for k in varies
                         if settings(r).get(k) is not None)
        out.append(f"| {r['name']} | {r['spec']['budget_s']} s | {r['startup_s']:.0f} s | "
                   f"{r['steps']} | {r['best_val_subset']:.3f} | **{r.get(w, float('nan')):.3f}** "
                   f"| {r['val_state_carried']:.3f} | {diff} |")
    return "\n".join(out)


def plot(device: str, rows: list[dict], out: Path) -> Path:
    """Validation loss against seconds since launch, one panel per budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.plots import loss_curves

    budgets = sorted({r["spec"]["budget_s"] for r in rows})
    fig, axes = plt.subplots(1, len(budgets), figsize=(6 * len(budgets), 4), squeeze=False)
    for ax, b in zip(axes[0], budgets, strict=True):
        loss_curves({r["name"]: [{"seconds": c[0], "val_loss": c[1]} for c in r["curve"]]
                     for r in rows if r["spec"]["budget_s"] == b and r["curve"]}, ax=ax)
        ax.set(title=f"{b} s budget, {device}", xlabel="seconds since launch")
        ax.set_ylim(top=min(ax.get_ylim()[1], 2.5))  # the part where the runs differ
        ax.legend(fontsize=7)
    path = out / f"{device}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("plan", nargs="?", help="a plan JSON file")
    ap.add_argument("--parallel", type=int, default=1, help="runs at once (1 on a CPU)")
    ap.add_argument("--only", nargs="+", help="run only these names of the plan")
    ap.add_argument("--table", action="store_true", help="print the tables, draw the charts")
    ap.add_argument("--budget", type=float, help="override every run's budget_s (a smoke test)")
    ap.add_argument("--out", type=Path, default=RUNS, help="where the runs go (bench/results)")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a child: one spec as JSON
    args = ap.parse_args()
    if args.one:
        from helpers.textio import atomic_write_json

        spec = json.loads(args.one)
        res = run_one(spec, T_LAUNCH)
        dest = args.out / slug(res["device"]) / f"{spec['name']}.json"
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(dest, res)
        w = spec.get("score_windows", 160)
        print(f"{spec['name']}: {res['steps']} steps, windows-{w} {res[f'val_windows_{w}']:.4f}, "
              f"carried {res['val_state_carried']:.4f} nats/char ({res['device']})")
        return
    if args.plan:
        specs = expand(json.loads(Path(args.plan).read_text()))
        if args.only:
            specs = [s for s in specs if s["name"] in args.only]
        for s in specs:
            if args.budget:
                s["budget_s"] = args.budget
        args.out.mkdir(parents=True, exist_ok=True)
        launch(specs, args.parallel, args.out.resolve())
    if args.table or not args.plan:
        for device, rows in load_all(args.out).items():
            print(table(rows), "\n")
            print(f"chart: {plot(device, rows, args.out)}\n")
        ref = args.out / "nanogpt_cpu.json"  # the reference, run beside on the same CPU
        if ref.exists():
            r = json.loads(ref.read_text())
            for run in r["runs"]:
                print(f"nanoGPT baby ({r['date']}, {r['device']}): {run['iters']:,} iterations, "
                      f"{run['wall_s']:.0f} s from the command: {run['val_windows_64']:.3f} "
                      "(windows of 64)")


if __name__ == "__main__":
    main()
