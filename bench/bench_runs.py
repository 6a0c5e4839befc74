"""Run a plan of training configurations on tiny-shakespeare and keep one JSON per run.

    python bench/bench_runs.py bench/plans/cpu_80s.json            # one after the other
    python bench/bench_runs.py bench/plans/gpu_5min.json --parallel 9   # side by side (a GPU)
    python bench/bench_runs.py bench/plans/cpu_80s.json --only 80s_base --budget 40 --units 64
    python bench/bench_runs.py --table                             # tables and charts

The procedure, the plan's format and what each run writes are :mod:`harness`'s
(``bench/harness.py``): each run a fresh process clocked from its start, scored on the
whole validation split, one JSON per run in ``bench/results/<device>/``. Model and
training flags (``--units``, ``--lr``, ``--seq-len``, ..., every field of
``helpers.settings``' ModelConfig and TrainConfig) override those settings in every run
of the plan; ``--budget`` overrides every run's ``budget_s`` (a smoke test).
``--table`` prints a Markdown table per device and draws ``bench/results/<device>.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import harness


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("plan", nargs="?", help="a plan JSON file")
    ap.add_argument("--parallel", type=int, default=1, help="runs at once (1 on a CPU)")
    ap.add_argument("--only", nargs="+", help="run only these names of the plan")
    ap.add_argument("--table", action="store_true", help="print the tables, draw the charts")
    ap.add_argument("--budget", type=float, help="override every run's budget_s (a smoke test)")
    ap.add_argument("--out", type=Path, default=harness.RESULTS,
                    help="where the runs go (bench/results)")
    harness.add_settings_flags(ap, explicit_only=True)  # only the flags given override
    args = ap.parse_args(argv)
    if args.plan:
        model, train = harness.settings_from_args(args)
        specs = harness.expand(json.loads(Path(args.plan).read_text()), model, train,
                               args.budget)
        if args.only:
            missing = sorted(set(args.only) - {s["name"] for s in specs})
            if missing:
                raise SystemExit(f"error: no run named {', '.join(missing)} in {args.plan}")
            specs = [s for s in specs if s["name"] in args.only]
        written = harness.launch(specs, args.parallel, args.out)
        if not args.table:  # the table of these runs (--table: of all, and the charts)
            harness.report(args.out, names={s["name"] for s in specs}, chart=False)
    if args.table or not args.plan:
        harness.report(args.out)
    if args.plan and len(written) < len(specs):  # each failed run's log says why
        raise SystemExit(f"error: {len(specs) - len(written)} of {len(specs)} runs failed; "
                         f"their logs are in {args.out / 'logs'}")


if __name__ == "__main__":
    main()
