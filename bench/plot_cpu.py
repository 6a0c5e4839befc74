"""Plot the first CPU runs of ``bench_cpu.py`` on one loss-vs-time chart.

    python bench/plot_cpu.py            # reads bench/results/cpu_budgets/*.json

Those runs came before the bench's harness (``bench/harness.py``), one file per command;
later runs are drawn by ``python bench/bench_runs.py --table``. Writes
``bench/results/cpu_loss_vs_time.png`` (validation loss during training, scored on the
first 20,000 validation characters, against wall-clock seconds) with nanoGPT's
"baby" configuration from ../shared/BASELINES.md for reference, and prints a table of
the final scores over the whole validation split.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def label(cfg: dict, run: dict, file: str) -> str:
    how = "carried state" if cfg.get("carry_state") else "random windows"
    if cfg.get("carry_reset"):
        how += f", reset {cfg['carry_reset']:g}"
    if "fixed_lanes" in file:
        how += ", fixed lanes"
    return (f"{cfg['layers']}×{cfg['cell'].upper()}({cfg['units']}), lr {cfg['lr']:g}, "
            f"seq {cfg['seq_len']}, {how}, {cfg['schedule']}, {run['budget_s']:.0f} s")


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    ax.set_prop_cycle(color=plt.cm.tab20.colors[::2] + plt.cm.tab20.colors[1::2])
    nanogpt = None
    print("| run | whole validation split, windows of 160 | state carried |")
    print("|---|---|---|")
    for path in sorted((RESULTS / "cpu_budgets").glob("*.json")):
        res = json.loads(path.read_text())
        cfg, nanogpt = res["config"], res["nanogpt"]
        cfg.setdefault("seq_len", 128)
        cfg.setdefault("schedule", "cosine-time")
        for run in res["runs"]:
            name, h = label(cfg, run, path.name), run["history"]
            style = "-" if cfg.get("carry_state") else "--"
            ax.plot([x["seconds"] for x in h], [x["val_loss"] for x in h], style, marker=".",
                    label=name)
            print(f"| {name} ({path.name}) | {run['val_loss_windows_160']:.4f} | "
                  f"{run['val_loss_state_carried']:.4f} |")
    if nanogpt:
        ax.plot(nanogpt["seconds"], nanogpt["val_loss"], "k*", ms=12,
                label="nanoGPT baby (BASELINES.md)")
    ax.set_xlabel("training time on this CPU (s)")
    ax.set_ylabel("validation loss, first 20k chars (nats/char)")
    ax.set_ylim(1.4, 2.4)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(RESULTS / "cpu_loss_vs_time.png", dpi=110)
    print(f"wrote {RESULTS / 'cpu_loss_vs_time.png'}")


if __name__ == "__main__":
    main()
