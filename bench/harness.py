"""The bench's one procedure: train each configuration of a plan within a wall-clock
budget, score it, keep one JSON per run.

``bench_runs.py`` runs a plan file (``plans/*.json``), ``bench_cpu.py`` a plan it builds
from its flags; both take the model and training settings as flags derived from
:mod:`helpers.settings` (:func:`add_settings_flags`), so no setting is retyped here.

A plan is ``{"defaults": {"budget_s", "score_windows", "corpus", "backend", "model":
{...}, "train": {...}}, "runs": [{"name", ...overrides}]}``; ``model`` and ``train`` are
:class:`~helpers.settings.ModelConfig` and :class:`~helpers.settings.TrainConfig` fields.
``corpus`` is a data-registry name (default ``tinyshakespeare``) or a text file (from the
repository root). Each run is a fresh process (:func:`launch`, one after the other or
side by side) whose clock starts when it starts: its ``budget_s`` covers Python and Keras
start-up, reading the corpus, building the model and training (the learning rate decays
over what is left of it), so an 80-second run is what someone gets 80 seconds after
pressing enter. The final score, after the budget, covers the whole validation split
(nanoGPT's split: the last 10%) in windows of ``score_windows`` from a zero state, and
with the state carried through.

Each run writes ``<out>/<device>/<name>.json`` (``out`` is ``bench/results`` unless
said): its curve (validation loss on the first ``val_max_tokens`` characters against
seconds since launch, with the step count and the epoch's training loss), best, final
scores, steps, the full configuration and the device; its output goes to
``<out>/logs/<name>.log``. Losers are kept. :func:`report` prints a Markdown table per
device and draws ``<out>/<device>.png``.

    python bench/harness.py --one SPEC_JSON --out DIR    # one run: what launch() starts
"""

from __future__ import annotations

import time

T_LAUNCH = time.time()  # before anything heavy is imported: a run's clock

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
RESULTS = BENCH / "results"
MIN_TRAINING_S = 5  # a budget that leaves less than this after start-up is refused

from helpers.settings import ModelConfig, TrainConfig, add_flags, values_from_args  # noqa: E402

# what every run gets unless its plan says otherwise: decay over the budget, no samples
TRAIN_BASE = {"schedule": "cosine-time", "samples_per_epoch": 0, "epochs": 100_000}


def add_settings_flags(ap: argparse.ArgumentParser, model: dict | None = None,
                       train: dict | None = None, explicit_only: bool = False) -> None:
    """Every model and training setting as a flag (``--units``, ``--lr``, ...), from
    :func:`helpers.settings.add_flags`; ``model``/``train`` are a script's own defaults.
    With ``explicit_only`` only the flags given land in ``args`` (overrides of a plan)."""
    add_flags(ap.add_argument_group("model settings (helpers.settings.ModelConfig)"),
              ModelConfig, defaults=model, explicit_only=explicit_only)
    add_flags(ap.add_argument_group("training settings (helpers.settings.TrainConfig)"),
              TrainConfig, defaults=train, explicit_only=explicit_only,
              skip=("max_minutes",))  # the run's budget_s sets it


def settings_from_args(args: argparse.Namespace) -> tuple[dict, dict]:
    """The model and training settings that :func:`add_settings_flags` put into ``args``."""
    return (values_from_args(ModelConfig, args),
            values_from_args(TrainConfig, args, skip=("max_minutes",)))


def expand(plan: dict, model: dict | None = None, train: dict | None = None,
           budget: float | None = None) -> list[dict]:
    """Each run of ``plan``: its defaults with the run's overrides (``model``/``train``
    merged), then ``model``/``train``/``budget`` given here (a command line's) over all."""
    base = plan.get("defaults", {})
    runs = []
    for r in plan["runs"]:
        spec = {**base, **{k: v for k, v in r.items() if k not in ("model", "train")}}
        spec["model"] = {**base.get("model", {}), **r.get("model", {}), **(model or {})}
        spec["train"] = {**base.get("train", {}), **r.get("train", {}), **(train or {})}
        if budget:
            spec["budget_s"] = budget
        runs.append(spec)
    names = [r.get("name") for r in runs]
    if len(set(names)) != len(names):
        raise SystemExit(f"error: run names repeat in the plan: {names}")
    for spec in runs:
        check(spec)
    return runs


def check(spec: dict) -> None:
    """Refuse a run whose settings :mod:`helpers.settings` refuses, before any process
    starts (``SystemExit`` with the run's name and the setting's own message)."""
    from helpers.outputs import OutputError, check_name
    from helpers.settings import SettingsError

    try:
        check_name(spec.get("name"), "a run's name")  # it names the run's files
        if not spec.get("budget_s", 0) > MIN_TRAINING_S:
            raise SettingsError(f"budget_s must be a number of seconds > {MIN_TRAINING_S}; "
                                f"not {spec.get('budget_s')!r}")
        corpus = spec.get("corpus", "tinyshakespeare")
        from helpers import datasets

        if not (ROOT / corpus).is_file() and corpus not in datasets.names():
            raise SettingsError(f"corpus {corpus!r} is neither a text file nor one of the "
                                f"data registry's: {', '.join(datasets.names())}")
        ModelConfig.from_dict({"vocab_size": 2, **spec["model"]})
        TrainConfig.from_dict({**TRAIN_BASE, **spec["train"], "max_minutes": 1.0})
    except (SettingsError, OutputError, TypeError) as e:
        raise SystemExit(f"error: run {spec.get('name')}: {e}") from None


def slug(device: str) -> str:
    """A folder name for a device as ``helpers.machine.device_name`` describes it."""
    if device.startswith("CPU") or "cores" in device:  # the core count tells CPUs apart here
        return f"cpu-{os.cpu_count()}-cores"
    named = re.search(r"\(([^)]*)\)", device)  # "cuda:0 (NVIDIA H100 ...)" -> the name
    return re.sub(r"[^a-z0-9]+", "-", (named.group(1) if named else device).lower()).strip("-")


def corpus_text(corpus: str) -> str:
    """A plan's corpus: a text file (from the repository root), else a data-registry name."""
    path = ROOT / corpus
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from helpers import datasets

    return datasets.fetch(corpus).read_text(encoding="utf-8")


def run_one(spec: dict, t_launch: float) -> dict:
    """Train one configuration within its budget, counted from ``t_launch``, and score it."""
    import keras

    from helpers.evaluate import text_loss
    from helpers.machine import device_name
    from helpers.train import train
    from helpers.windows import split_ids

    text = corpus_text(spec.get("corpus", "tinyshakespeare"))
    # the split train() makes: nanoGPT's last 10% unless the plan says otherwise (cut
    # from the text: a character vocabulary has one id per character, so it is the same)
    val_text = split_ids(text, spec["train"].get("val_fraction", 0.1))[1]
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
    if left <= MIN_TRAINING_S:
        raise SystemExit(f"error: start-up took {ready:.0f} s of a {spec['budget_s']} s budget")
    tc = {**TRAIN_BASE, **spec["train"], "verbose": 0, "max_minutes": left / 60}
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


def launch(specs: list[dict], parallel: int = 1, out: Path = RESULTS) -> list[Path]:
    """Each spec in a fresh process, at most ``parallel`` at a time; the JSON files written
    (a run that failed writes none: its log says why)."""
    out = Path(out).resolve()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    waiting, running, written = list(specs), [], []
    while waiting or running:
        while waiting and len(running) < parallel:
            spec = waiting.pop(0)
            log = (out / "logs" / f"{spec['name']}.log").open("w")
            # a plan may compare Keras backends at equal wall time
            backend = {"KERAS_BACKEND": spec["backend"]} if "backend" in spec else {}
            p = subprocess.Popen([sys.executable, __file__, "--one", json.dumps(spec),
                                  "--out", str(out)],
                                 stdout=log, stderr=subprocess.STDOUT, env={**env, **backend},
                                 cwd=ROOT)
            running.append((p, spec, log))
            print(f"started {spec['name']}", flush=True)
        time.sleep(0.2)
        for item in list(running):
            p, spec, log = item
            if p.poll() is not None:
                log.close()
                running.remove(item)
                lines = (out / "logs" / f"{spec['name']}.log").read_text().splitlines()
                said = [x for x in lines if x.startswith(("error:", f"{spec['name']}: "))]
                print(f"finished {spec['name']} (exit {p.returncode}): "
                      f"{(said or lines[-1:] or [''])[-1]}", flush=True)
                written += [x.split(" -> ", 1)[1] for x in said if " -> " in x]
    return [Path(x) for x in written]


def load_all(out: Path = RESULTS) -> dict[str, list[dict]]:
    """The runs under ``out``, by device folder (other JSON there, without a run's
    ``spec``, is not a run of this harness)."""
    by_device: dict[str, list[dict]] = {}
    for f in sorted(Path(out).glob("*/*.json")):
        r = json.loads(f.read_text())
        if isinstance(r, dict) and "spec" in r and "curve" in r:
            by_device.setdefault(f.parent.name, []).append(r)
    return by_device


def table(rows: list[dict]) -> str:
    """A Markdown table of one device's runs; the settings column shows only what
    differs between them (backend included) and that a run's plan gave."""
    def settings(r):
        s = r["spec"]
        return {"backend": r["backend"], **s["model"], **s["train"]}

    def windows(r):
        return r["spec"].get("score_windows", 160)

    keys = sorted({k for r in rows for k in settings(r)})
    varies = [k for k in keys if len({json.dumps(settings(r).get(k)) for r in rows}) > 1]
    sizes = sorted({windows(r) for r in rows})
    shown = f"windows of {sizes[0]}" if len(sizes) == 1 else "windows (of each run's size)"
    out = [f"device: {rows[0]['device']}, Keras {rows[0]['keras']}", "",
           f"| run | budget | start-up | steps | best (subset) | whole split, {shown} "
           "| state carried | settings that differ |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["spec"]["budget_s"],
                                         r.get(f"val_windows_{windows(r)}", 9))):
        diff = ", ".join(f"{k}={settings(r)[k]}" for k in varies
                         if settings(r).get(k) is not None)
        best = "–" if r["best_val_subset"] is None else f"{r['best_val_subset']:.3f}"
        score = r.get(f"val_windows_{windows(r)}", float("nan"))
        size = "" if len(sizes) == 1 else f" ({windows(r)})"
        out.append(f"| {r['name']} | {r['spec']['budget_s']} s | {r['startup_s']:.0f} s | "
                   f"{r['steps']} | {best} | **{score:.3f}**{size} "
                   f"| {r['val_state_carried']:.3f} | {diff} |")
    return "\n".join(out)


def plot(device: str, rows: list[dict], out: Path = RESULTS) -> Path:
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
    path = Path(out) / f"{device}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def report(out: Path = RESULTS, names: set[str] | None = None, chart: bool = True) -> None:
    """Print a table per device (only the runs ``names`` when given), draw its chart (all
    its runs), and the nanoGPT reference run beside on the same CPU where ``out`` has it."""
    for device, rows in load_all(out).items():
        chosen = [r for r in rows if names is None or r["name"] in names]
        if not chosen:
            continue
        print(table(chosen), "\n")
        if chart:  # every run of the device, as --table draws it
            print(f"chart: {plot(device, rows, out)}\n")
    ref = Path(out) / "nanogpt_cpu.json"
    if ref.exists():
        r = json.loads(ref.read_text())
        for run in r["runs"]:
            print(f"nanoGPT baby ({r['date']}, {r['device']}): {run['iters']:,} iterations, "
                  f"{run['wall_s']:.0f} s from the command: {run['val_windows_64']:.3f} "
                  "(windows of 64)")


def main() -> None:
    """One run in this process: what :func:`launch` starts for each spec."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--one", required=True, help="one run's spec, as JSON")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where the run goes")
    args = ap.parse_args()
    from helpers.textio import atomic_write_json

    spec = json.loads(args.one)
    res = run_one(spec, T_LAUNCH)
    dest = args.out / slug(res["device"]) / f"{spec['name']}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(dest, res)
    w = spec.get("score_windows", 160)
    print(f"{spec['name']}: {res['steps']} steps, windows-{w} {res[f'val_windows_{w}']:.4f}, "
          f"carried {res['val_state_carried']:.4f} nats/char ({res['device']}) -> {dest}")


if __name__ == "__main__":
    main()
