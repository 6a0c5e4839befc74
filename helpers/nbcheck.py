"""Numbers quoted in a notebook's text must come from somewhere.

A sentence such as "the validation loss is about 1.9" goes stale the day the notebook is
rerun and prints 2.058. :func:`unsourced_numbers` finds every decimal number in the
markdown of a notebook (outside code) and looks for it in its *sources*:

- the outputs of the notebook's code cells, and the code cells themselves (a number
  quoted from a variable or a plotted reference line);
- any repository file the same markdown cell names in backticks (``bench/README.md``,
  ``notebooks/records/04_training.json``), and the card and ``meta.json`` of any zoo
  model the cell names (``novels_char``).

A quoted number matches a source number when the source, rounded to as many decimals as
the quote shows, gives the quote (2.0580 supports "2.06" and "2.1", not "1.9").
Integers are not checked (counts and sizes are everywhere and rarely go stale the same
way), nor the "**Time:**" line of a header (wall times of separate runs), nor the
exercises (their numbers are settings to try, not results).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .paths import ROOT

__all__ = ["Unsourced", "unsourced_numbers", "main"]

# a decimal number that is not part of a version (3.15.1), a word (x1.5) or an exponent
_NUMBER = re.compile(r"(?<![\w.])[-−+]?\d+\.\d+(?![\w.]*\d)(?!e[-+]?\d)")
_FENCE = re.compile(r"```.*?```", re.S)
_INLINE = re.compile(r"`[^`\n]*`")
_PATH = re.compile(r"`([\w./-]+\.(?:md|json|csv|txt))`")
_SKIP_LINE = re.compile(r"^\s*\*\*Time:\*\*.*$", re.M)


@dataclass(frozen=True)
class Unsourced:
    """A number in a markdown cell that no source supports."""

    notebook: str
    cell: int
    number: str
    context: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell}: {self.number} in {self.context!r}"


def _numbers(text: str) -> list[str]:
    return [m.group(0).replace("−", "-").lstrip("+") for m in _NUMBER.finditer(text)]


def _output_text(cell: dict) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if "text" in o:
            parts.append("".join(o["text"]))
        for kind in ("text/plain", "text/html", "text/markdown"):
            if kind in o.get("data", {}):
                parts.append("".join(o["data"][kind]))
    return "\n".join(parts)


def _zoo_texts(text: str, root: Path) -> list[str]:
    out = []
    zoo = root / "zoo"
    if zoo.is_dir():
        for d in sorted(p for p in zoo.iterdir() if p.is_dir()):
            if re.search(rf"\b{re.escape(d.name)}\b", text):
                out += [f.read_text(encoding="utf-8") for f in (d / "README.md", d / "meta.json")
                        if f.exists()]
    return out


def _supports(quote: str, pool: list[float], exact: set[str]) -> bool:
    if quote in exact:
        return True
    decimals = len(quote.split(".")[1])
    q = float(quote)
    # half a unit of the last shown digit, and a hair for float noise
    tol = 0.5 * 10 ** -decimals + 1e-9
    return any(abs(v - q) <= tol for v in pool)


def unsourced_numbers(path: Path, root: Path = ROOT) -> list[Unsourced]:
    """Decimal numbers in ``path``'s markdown that none of its sources supports."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    code_pool = []
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            code_pool.append("".join(c["source"]))
            code_pool.append(_output_text(c))
    shared = "\n".join(code_pool)
    problems = []
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "markdown":
            continue
        src = "".join(c["source"])
        if src.lstrip().startswith("## Exercises"):
            continue
        prose = _SKIP_LINE.sub("", _INLINE.sub(" ", _FENCE.sub(" ", src)))
        quotes = _numbers(prose)
        if not quotes:
            continue
        extra = [(root / p).read_text(encoding="utf-8") for p in _PATH.findall(src)
                 if (root / p).is_file()]
        pool_text = "\n".join([shared, *extra, *_zoo_texts(src, root)])
        found = _numbers(pool_text)
        exact = set(found)
        pool = [float(x) for x in found]
        for q in quotes:
            if not _supports(q, pool, exact):
                at = prose.find(q)
                problems.append(Unsourced(Path(path).name, i, q,
                                          " ".join(prose[max(0, at - 50):at + 30].split())))
    return problems


def main(paths: list[Path]) -> int:
    """Print every unsourced number; exit status 1 if there is one."""
    problems = [p for path in paths for p in unsourced_numbers(path)]
    for p in problems:
        print(p)
    print(f"{len(problems)} unsourced number(s) in {len(paths)} notebook(s)")
    return 1 if problems else 0
