"""Run the notebook series: ``python -m helpers.notebooks run [--quick] [--inplace] [NAMES]``;
check that every number its text quotes has a source and one value:
``python -m helpers.notebooks check`` (:mod:`helpers.nbcheck`); write the recorded times
into the text: ``python -m helpers.notebooks tables --write`` (:mod:`helpers.timings`).

``--quick`` sets ``TEXTGEN_QUICK=1`` (small slices, few steps), as CI does.
``--inplace`` writes the outputs back into ``notebooks/`` (the committed full run,
a fresh kernel per notebook, so execution counts run 1..N in order); otherwise
executed copies go to ``--out`` (default ``generated/notebooks``).
``--full`` records each notebook's wall time, with its mode (``TEXTGEN_PRETRAINED``), date
and machine, in ``notebooks/records/timings.json``; quick runs record nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .paths import NOTEBOOK_DIR, ROOT, generated

__all__ = ["run_notebook", "merge_streams", "main"]


def merge_streams(nb) -> int:
    """Join consecutive ``stream`` outputs of the same name (stdout, stderr) in every code
    cell into one; returns how many outputs went. Text printed piece by piece (a sample
    streamed one character at a time, ``print(..., end="", flush=True)``) arrives as one
    output per flush: stored that way, a notebook holds hundreds of outputs for one cell
    and a renderer may draw each in a box of its own."""
    merged = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outs = []
        for o in cell.get("outputs", []):
            prev = outs[-1] if outs else None
            if (o.get("output_type") == "stream" and prev is not None
                    and prev.get("output_type") == "stream" and prev.get("name") == o.get("name")):
                prev["text"] = "".join(prev["text"]) + "".join(o["text"])
                merged += 1
            else:
                outs.append(o)
        cell["outputs"] = outs
    return merged


def run_notebook(path: Path, out: Path | None, quick: bool, timeout: int = 1800) -> float:
    """Execute one notebook top to bottom on a fresh kernel; returns seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old = os.environ.get("TEXTGEN_QUICK")
    os.environ["TEXTGEN_QUICK"] = "1" if quick else "0"
    done = False
    try:
        t = time.time()
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        dt = time.time() - t
        done = True
    finally:
        if old is None:
            os.environ.pop("TEXTGEN_QUICK", None)
        else:
            os.environ["TEXTGEN_QUICK"] = old
        # a copy is written also when a cell failed (its outputs say why); the committed
        # notebook itself only after a complete run
        if out is not None and (done or Path(out).resolve() != Path(path).resolve()):
            merge_streams(nb)
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out)
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.notebooks")
    ap.add_argument("command", choices=["run", "check", "tables"])
    ap.add_argument("names", nargs="*", help="notebook names or prefixes (default: all)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    ap.add_argument("--inplace", action="store_true", help="write outputs into notebooks/")
    ap.add_argument("--out", default=None)
    tables = ap.add_mutually_exclusive_group()
    tables.add_argument("--write", action="store_true",
                        help="tables: write the recorded times into README.md and the notebooks")
    tables.add_argument("--check", action="store_true",
                        help="tables: exit 1 if a generated time differs from timings.json")
    args = ap.parse_intermixed_args(argv)
    paths = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if args.names:
        paths = [p for p in paths if any(p.name.startswith(n) for n in args.names)]
    if args.command == "check":
        from .nbcheck import main as check

        return check(paths)
    if args.command == "tables":
        from .timings import TimingsError, write_tables

        try:
            stale = write_tables(names=args.names or None, check=not args.write)
        except TimingsError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        for p in stale:
            print(f"{'wrote' if args.write else 'differs'}: {p.relative_to(ROOT)}")
        return 1 if stale and not args.write else 0
    out_dir = Path(args.out) if args.out else generated() / "notebooks"
    for p in paths:
        out = p if args.inplace else out_dir / p.name
        dt = run_notebook(p, out, quick=args.quick)
        print(f"{p.name}: {dt:.0f} s ({'quick' if args.quick else 'full'})", flush=True)
        if args.full:
            from .timings import record
            from .workshop import _flag  # the switch read as the setup cell reads it

            record(p.name, dt, pretrained=_flag("TEXTGEN_PRETRAINED", True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
