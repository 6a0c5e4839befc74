"""The notebooks' wall times, kept in one file and written into the text from it.

``python -m helpers.notebooks run --full`` records each notebook's time in
``notebooks/records/timings.json`` (merged by notebook and mode: *pretrained*, the default,
or *own* with ``TEXTGEN_PRETRAINED=0``, which trains), and
``python -m helpers.notebooks tables --write`` puts those times where the text shows them:
the README's series table (between its markers) and each notebook's "**Time:**" line.
Nowhere else quotes a notebook's time, so a rerun cannot leave an old number behind;
``python -m helpers.notebooks check`` fails when a shown time differs from the file.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .errors import TextgenError
from .machine import device_name
from .paths import NOTEBOOK_DIR, ROOT
from .textio import atomic_write_json, atomic_write_text

__all__ = ["TimingsError", "TIMINGS", "TRAINING", "ROW_LINK", "load", "record", "entries", "duration",
           "minutes", "time_line", "series_block", "write_tables"]

TIMINGS = NOTEBOOK_DIR / "records" / "timings.json"
# the notebooks where USE_PRETRAINED = False trains a model, so their time has two modes
TRAINING = ("01", "02", "04")
SERIES_START = "<!-- series times: python -m helpers.notebooks tables --write -->"
SERIES_END = "<!-- end of series times -->"
_TIME_LINE = re.compile(r"^\*\*Time:\*\*.*$", re.M)
# a table row that starts with a link to a notebook: the row is about that notebook
ROW_LINK = re.compile(r"^\|\s*\[[^\]]*\]\((?:notebooks/)?(\d\d)_[\w]+\.ipynb\)")


class TimingsError(TextgenError, KeyError):
    """A notebook without a recorded time, or a README without the series markers."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def load(path: Path = TIMINGS) -> dict:
    """The timings file as a dict (``{"notebooks": {}}`` when there is none yet)."""
    if not Path(path).exists():
        return {"notebooks": {}}
    return json.loads(Path(path).read_text(encoding="utf-8"))


def record(name: str, seconds: float, pretrained: bool, path: Path = TIMINGS) -> None:
    """Merge one full run's time into the timings file (atomic: a crash keeps the old one)."""
    data = load(path)
    entry = data.setdefault("notebooks", {}).setdefault(Path(name).stem, {})
    entry["pretrained" if pretrained else "own"] = {
        "seconds": round(seconds), "date": time.strftime("%Y-%m-%d"), "machine": device_name()}
    data["notebooks"] = dict(sorted(data["notebooks"].items()))
    data["note"] = ("Written by `python -m helpers.notebooks run --full` (each entry its own run); "
                    "`python -m helpers.notebooks tables --write` puts the times into the text.")
    atomic_write_json(path, data)


def duration(seconds: float) -> str:
    """Seconds as the text shows them: "23 s" under three minutes, else "3.2 min"."""
    return f"{seconds:.0f} s" if seconds < 180 else f"{seconds / 60:.1f} min"


def _machine(entry: dict) -> str:
    m = re.match(r"CPU \((\d+) cores", entry.get("machine", ""))
    return f"a {m.group(1)}-core CPU" if m else entry.get("machine", "?").split(",")[0]


def entries(data: dict, number: str) -> tuple[dict, dict | None]:
    """Notebook ``number``'s (pretrained, own) entries; own is None where it does not train."""
    for stem, entry in data["notebooks"].items():
        if stem.startswith(number + "_"):
            return entry["pretrained"], entry.get("own") if number in TRAINING else None
    raise TimingsError(f"notebook {number} has no time in notebooks/records/timings.json: "
                       f"run `python -m helpers.notebooks run --full {number}`")


def time_line(data: dict, number: str) -> str:
    """The generated "**Time:**" line of notebook ``number`` ("04")."""
    pre, own = entries(data, number)
    line = (f"**Time:** {duration(pre['seconds'])} for a full run on {_machine(pre)} "
            f"(measured {pre['date']})")
    if own:
        line += f"; {duration(own['seconds'])} with `USE_PRETRAINED = False`, which trains"
    return line + (". In *quick mode* (`TEXTGEN_QUICK=1`, what CI runs) every step is cut to "
                   "a small slice.")


def minutes(seconds: float) -> str:
    """A total as "5 min 35 s"."""
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s} s" if s else f"{m} min"


def series_block(data: dict, rows: list[str]) -> str:
    """The README's series table with its time columns (3 and 4) from ``data``, and the
    line under it that gives the machine and the time of the whole series."""
    out = ["| notebook | topic | full run, pretrained (default) | training your own | GPU? |",
           "|---|---|---|---|---|"]
    total_pre = total_own = 0
    machines, dates = set(), set()
    for row in rows:
        m = ROW_LINK.match(row)
        if not m:
            continue
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        pre, own = entries(data, m.group(1))
        total_pre += pre["seconds"]
        total_own += (own or pre)["seconds"]
        for entry in (pre, own) if own else (pre,):  # every run the table's times come from
            machines.add(_machine(entry))
            dates.add(entry["date"])
        cells[2] = duration(pre["seconds"])
        cells[3] = f"{duration(own['seconds'])} in all" if own else "(no training)"
        out.append("| " + " | ".join(cells) + " |")
    out += ["", f"Full runs on {' and '.join(sorted(machines))} "
            f"({', '.join(sorted(dates))}), with the data from a local mirror: the whole series "
            f"takes {minutes(total_pre)} with the pretrained models, "
            f"{minutes(total_own)} training your own."]
    return "\n".join(out)


def _rewrite_readme(text: str, data: dict) -> str:
    if SERIES_START not in text or SERIES_END not in text:
        raise TimingsError(f"README.md has no series markers ({SERIES_START} ... {SERIES_END})")
    head, rest = text.split(SERIES_START, 1)
    block, tail = rest.split(SERIES_END, 1)
    return f"{head}{SERIES_START}\n{series_block(data, block.splitlines())}\n{SERIES_END}{tail}"


def _rewrite_notebook(nb: dict, data: dict, number: str) -> bool:
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and _TIME_LINE.search(src):
            new = _TIME_LINE.sub(lambda _: time_line(data, number), src, count=1)
            if new != src:
                one = len(cell["source"]) == 1  # keep the cell's own layout of its source
                cell["source"] = [new] if one else new.splitlines(keepends=True)
                return True
            return False
    return False


def write_tables(root: Path = ROOT, names: list[str] | None = None,
                 check: bool = False) -> list[Path]:
    """Write the times of ``notebooks/records/timings.json`` into the README's series table
    and the notebooks' "**Time:**" lines (``names``: notebook prefixes, default all). With
    ``check``, write nothing and return the files that differ."""
    data = load(root / "notebooks" / "records" / "timings.json")
    stale = []
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = _rewrite_readme(text, data)
    if new != text:
        stale.append(readme)
        if not check:
            atomic_write_text(readme, new)
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if names and not any(path.name.startswith(n) for n in names):
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        if _rewrite_notebook(nb, data, path.name[:2]):
            stale.append(path)
            if not check:
                atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return stale
