"""Every number the text quotes comes from one file, and says the same thing everywhere.

``python -m helpers.notebooks check`` runs :func:`check_repository`, five checks over the
notebooks' markdown, ``README.md``, ``bench/README.md``, ``zoo/README.md`` (and, for links,
``ARCHITECTURE.md`` and the model cards):

1. **unsourced**: a decimal number in the notebooks, ``README.md`` or ``bench/README.md``
   that its sources do not support (:func:`unsourced_numbers`, below);
2. **fact**: a quote of a registered quantity (:mod:`helpers.facts`: each names its
   source file and key, and the phrasings that quote it) that differs from the source;
3. **two values**: one registered quantity quoted with two different values;
4. **time**: a notebook's wall time quoted other than ``notebooks/records/timings.json``
   says, or a generated place (the README's series table, a "**Time:**" line) not as
   ``python -m helpers.notebooks tables --write`` writes it (:mod:`helpers.timings`);
5. **link**: a relative link that leaves the repository or names a missing file, or a
   path in backticks that leaves it (``../elsewhere/notes.md``): a reader of the repository has
   nothing outside it. ``http(s)`` links are fine.

Where the numbers come from: ``python -m helpers.notebooks run --full`` writes the times,
the bench scripts write ``bench/results*``, ``zoo`` export writes ``meta.json``; the text
is regenerated from them (``python -m helpers.notebooks tables --write``,
``python -m helpers zoo --write-tables``) or quotes them where this check can find them.

**Unsourced numbers.** A sentence such as "the validation loss is about 1.9" goes stale
the day the notebook is rerun and prints 2.058. :func:`unsourced_numbers` finds every
decimal number in the markdown of a notebook (outside code) and looks for it in its
*sources*:

- the outputs of the notebook's code cells, and the code cells themselves (a number
  quoted from a variable or a plotted reference line);
- any repository file the same markdown cell names in backticks (``bench/README.md``,
  ``notebooks/records/04_training.json``), and the card and ``meta.json`` of any zoo
  model the cell names (``novels_char``).

A quoted number matches a source number when the source, rounded to as many decimals as
the quote shows, gives the quote (2.0580 supports "2.06" and "2.1", not "1.9").
Integers are not checked (counts and sizes are everywhere and rarely go stale the same
way), nor the "**Time:**" line of a header (check 4 owns it), nor the exercises (their
numbers are settings to try, not results). In ``README.md`` and ``bench/README.md``
(:func:`unsourced_in_markdown`) the unit is the paragraph: its sources are the files it
names (in backticks or links; ``results/cpu_budgets/*.json`` as a pattern) and the zoo models it
names; ``bench/README.md`` also has every result file under ``bench/results/``. Versions
("Python 3.10", "TensorFlow 2.21") and generated blocks are not quotes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import facts, timings
from .paths import ROOT

__all__ = ["Unsourced", "Problem", "unsourced_numbers", "unsourced_in_markdown",
           "check_repository", "main"]

# a decimal number that is not part of a version (3.15.1), a word (x1.5) or an exponent
_NUMBER = re.compile(r"(?<![\w.])[-−+]?\d+\.\d+(?![\w.]*\d)(?!e[-+]?\d)")
_FENCE = re.compile(r"```.*?```", re.S)
_INLINE = re.compile(r"`[^`\n]*`")
_PATH = re.compile(r"`([\w./*-]+\.(?:md|json|csv|txt))`|\]\(([\w./-]+\.(?:md|json|csv|txt))\)")
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
    from .zoo import CARD, META

    out = []
    zoo = root / "zoo"
    if zoo.is_dir():
        for d in sorted(p for p in zoo.iterdir() if p.is_dir()):
            if re.search(rf"\b{re.escape(d.name)}\b", text):
                out += [f.read_text(encoding="utf-8") for f in (d / CARD, d / META)
                        if f.exists()]
    return out


def _named_files(text: str, root: Path, base: Path) -> list[str]:
    """The texts of the files ``text`` names: backticked paths from the repository root
    (``results/cpu_budgets/*.json`` as a pattern, ``bench/`` assumed when only there), links from
    ``base``."""
    out = []
    for tick, link in _PATH.findall(text):
        if link:
            files = [(base / link).resolve()]
        else:
            files = sorted(root.glob(tick)) or sorted((root / "bench").glob(tick))
        out += [f.read_text(encoding="utf-8") for f in files if f.is_file()]
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
        extra = _named_files(src, root, Path(path).parent)
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




# --- the repository's markdown ---------------------------------------------------------------

FACT_DOCS = ("README.md", "bench/README.md", "zoo/README.md")
NUMBER_DOCS = ("README.md", "bench/README.md")
LINK_DOCS = ("README.md", "ARCHITECTURE.md", "bench/README.md", "zoo/README.md",
             "zoo/*/README.md")
# blocks another command writes from its source (checked by comparing with that command)
_GENERATED = re.compile(r"<!-- (zoo table|series times):.*?<!-- end of \1 -->", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_VERSION = re.compile(r"(?:Python|TensorFlow|Keras|PyTorch|torch|JAX|Elasticsearch|"
                      r"gutenbergpy|[Vv]ersion|≥|>=)\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\**\)?\s+(?=[A-Z`*(\[])")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_TICK_OUT = re.compile(r"`(\.\./[^`\s]*)`")
_DURATION = re.compile(r"(?P<plus>\+\s*|\badd\s+)?(?:about\s+)?(?P<n>\d+(?:\.\d+)?)\s*"
                       r"(?P<u>s|seconds?|min|minutes?)\b")


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`check_repository`: where, which check, and what."""

    where: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.kind}] {self.message}"


def _blank(match: re.Match) -> str:
    """Blank out a match but keep its line breaks, so line numbers stay right."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _paragraphs(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each paragraph or table, fenced code blanked."""
    text = _FENCE.sub(_blank, text)
    out, start, lines = [], None, []
    for i, line in enumerate(text.split("\n") + [""], 1):
        if line.strip():
            start = start or i
            lines.append(line)
        elif lines:
            out.append((start, "\n".join(lines)))
            start, lines = None, []
    return out


def _units(para: str) -> list[str]:
    """A paragraph as the units a quote is read in: its sentences, or, for a table, each
    cell after its column's header ("nanoGPT (BASELINES.md): 1.555 (623 s)")."""
    rows = [r for r in para.split("\n") if r.lstrip().startswith("|")]
    if rows and len(rows) == len(para.split("\n")):
        cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
        head = cells[0]
        body = [r for r in cells[1:] if not all(set(c) <= set("-: ") for c in r)]
        return [f"{head[j] if j < len(head) else ''}: {c}" for r in body
                for j, c in enumerate(r) if c]
    items = re.split(r"\n(?=\s*(?:[-*]|\d+\.)\s)", para)  # list items end a sentence
    return [s for item in items for s in _SENTENCE_END.split(" ".join(item.split()))]


def _docs(root: Path, names: tuple[str, ...]) -> list[tuple[str, Path]]:
    out = []
    for name in names:
        for p in sorted(root.glob(name)):
            out.append((p.relative_to(root).as_posix(), p))
    return out


def _texts(root: Path, docs: tuple[str, ...]) -> list[tuple[str, Path, str]]:
    """(where, folder, markdown) of each document and of each notebook's markdown cell."""
    out = [(rel, p.parent, p.read_text(encoding="utf-8")) for rel, p in _docs(root, docs)]
    for nb_path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for i, c in enumerate(nb["cells"]):
            if c["cell_type"] == "markdown":
                out.append((f"{nb_path.name} cell {i}", nb_path.parent, "".join(c["source"])))
    return out


def _where(where: str, line: int) -> str:
    return f"{where}:{line}" if where.endswith(".md") else where


def _close(quote: str, value: float) -> bool:
    decimals = len(quote.split(".")[1]) if "." in quote else 0
    return abs(value - float(quote)) <= 0.5 * 10 ** -decimals + 1e-9


def fact_problems(root: Path = ROOT) -> list[Problem]:
    """Quotes of registered quantities that differ from their source, and quantities
    quoted with two values."""
    problems, quoted = [], {}
    texts = _texts(root, FACT_DOCS)
    for fact in facts.FACTS:
        value = facts.source_value(fact, root)
        pats = fact.patterns()
        for where, _, text in texts:
            text = _COMMENT.sub(" ", _GENERATED.sub(_blank, text))
            for line, para in _paragraphs(text):
                for unit in _units(para):
                    for pat in pats:
                        for m in pat.finditer(unit):
                            q = m.group("v")
                            loc = _where(where, line)
                            quoted.setdefault(fact.name, {}).setdefault(q, []).append(loc)
                            if not _close(q, value):
                                problems.append(Problem(loc, "fact", (
                                    f"{fact.name} ({fact.what}) quoted as {q}; "
                                    f"{fact.source} [{fact.key}] says {value:g}: "
                                    f"{' '.join(unit[max(0, m.start() - 60):m.end() + 10].split())!r}"
                                )))
    for name, values in quoted.items():
        # a shorter quote that rounds the same value ("1.45" and "1.452") is one value
        distinct = sorted(values, key=lambda q: (-len(q), q))
        kept = []
        for q in distinct:
            if not any(_close(q, float(k)) for k in kept):
                kept.append(q)
        if len(kept) > 1:
            problems.append(Problem(name, "two values", "; ".join(
                f"{q} in {', '.join(dict.fromkeys(values[q]))}" for q in kept)))
    return problems


def _duration_quotes(text: str) -> list[tuple[str, float, str, str]]:
    """(kind, seconds per unit, number, raw) for each duration: kind "plus" ("+ 8 min",
    "add 3 minutes") or "plain"."""
    out = []
    for m in _DURATION.finditer(text):
        unit = 1 if m.group("u").startswith("s") else 60
        out.append(("plus" if m.group("plus") else "plain", unit, m.group("n"), m.group(0)))
    return out


def _time_mentions(number: str, text: str, column: str) -> list[tuple[str, str, float, str]]:
    """(mode, number, unit, raw) for the times of one notebook in a Time line (column
    "time") or a table cell under ``column``: mode "pretrained", "own" or "own-extra"."""
    out = []
    if column == "time":
        first = True
        for kind, unit, n, raw in _duration_quotes(text):
            pos = text.find(raw)
            if kind == "plus":
                out.append(("own-extra", n, unit, raw))
            elif "False" in text[pos:pos + len(raw) + 40]:
                out.append(("own", n, unit, raw))
            elif first:
                out.append(("pretrained", n, unit, raw))
            first = False
        return out
    col = column.lower()
    mode = "pretrained" if "pretrained" in col else "own" if "training" in col else None
    if mode is None:
        return out
    for kind, unit, n, raw in _duration_quotes(text):
        out.append(("own-extra" if kind == "plus" else mode, n, unit, raw))
        if mode == "pretrained":
            break  # "178 s (2 min of it fine-tuning)": the first is the notebook's time
    return out


_TOTAL = re.compile(r"(?P<m>\d+) (?:minutes?|min) (?:and )?(?P<s>\d+) (?:seconds|s)\b")
_LIST = re.compile(r"(?<![\d.])(?P<nb>0\d) (?P<n>\d+) s\b")


def time_problems(root: Path = ROOT) -> list[Problem]:
    """Notebook times quoted other than ``notebooks/records/timings.json`` says, and
    generated places that differ from what ``tables --write`` would write."""
    data = timings.load(root / "notebooks" / "records" / "timings.json")
    problems = []

    def expect(nb: str, mode: str) -> float | None:
        try:
            pre, own = timings.entries(data, nb)
        except timings.TimingsError:
            return None
        if mode == "pretrained":
            return pre["seconds"]
        if own is None:
            return None
        return own["seconds"] - (pre["seconds"] if mode == "own-extra" else 0)

    def compare(loc: str, nb: str, mode: str, n: str, unit: float, raw: str) -> None:
        want = expect(nb, mode)
        if want is not None and not _close(n, want / unit):
            problems.append(Problem(loc, "time", (
                f"notebook {nb}'s time ({mode}) quoted as {raw!r}; timings.json says "
                f"{timings.duration(want)}")))

    for where, _, text in _texts(root, FACT_DOCS):
        m = re.match(r"(\d\d)_\S+\.ipynb cell \d+$", where)
        own_nb = m.group(1) if m else None
        for line, para in _paragraphs(_COMMENT.sub(_blank, text)):
            loc = _where(where, line)
            rows = para.split("\n")
            for t in (r for r in rows if own_nb and r.startswith("**Time:**")):
                for mode, n, unit, raw in _time_mentions(own_nb, t, "time"):
                    compare(loc, own_nb, mode, n, unit, raw)
            if rows[0].lstrip().startswith("|"):
                head = [c.strip() for c in rows[0].strip().strip("|").split("|")]
                for r in rows[1:]:
                    m = timings.ROW_LINK.match(r.strip())
                    if not m:
                        continue
                    cells = [c.strip() for c in r.strip().strip("|").split("|")]
                    for j, c in enumerate(cells[:len(head)]):
                        for mode, n, unit, raw in _time_mentions(m.group(1), c, head[j]):
                            compare(loc, m.group(1), mode, n, unit, raw)
        # prose outside the generated blocks (those are compared with what they would be)
        for line, para in _paragraphs(_GENERATED.sub(_blank, text)):
            loc = _where(where, line)
            if para.lstrip().startswith("|"):
                continue
            flat = " ".join(para.split())
            if " · " in flat:  # "00 11 s · 01 12 s · ..."
                for m in _LIST.finditer(flat):
                    compare(loc, m.group("nb"), "pretrained", m.group("n"), 1, m.group(0))
            for sentence in _units(para):
                if re.search(r"series|in all", sentence):
                    for m in _TOTAL.finditer(sentence):
                        total = sum(e["pretrained"]["seconds"] for e in data["notebooks"].values())
                        shown = int(m.group("m")) * 60 + int(m.group("s"))
                        if shown != total:
                            problems.append(Problem(loc, "time", (
                                f"the whole series quoted as {m.group(0)!r}; timings.json "
                                f"gives {timings.minutes(total)}")))
    try:
        stale = timings.write_tables(root, check=True)
    except timings.TimingsError as e:
        return problems + [Problem("README.md", "time", str(e))]
    for p in stale:
        problems.append(Problem(p.relative_to(root).as_posix(), "time", (
            "a generated time differs from notebooks/records/timings.json: run "
            "`python -m helpers.notebooks tables --write`")))
    return problems


def link_problems(root: Path = ROOT) -> list[Problem]:
    """Relative links that leave the repository or name a missing file, and backticked
    paths that leave it."""
    problems = []
    root = root.resolve()
    for where, base, text in _texts(root, LINK_DOCS):
        text = _COMMENT.sub(" ", text)
        for line, para in _paragraphs(text):
            loc = _where(where, line)
            for m in _LINK.finditer(para):
                target = m.group(1)
                if re.match(r"(?:https?|mailto):", target) or target.startswith("#"):
                    continue
                if re.match(r"\w+:", target) or target.startswith("/"):
                    problems.append(Problem(loc, "link", f"{target} is not in the repository"))
                    continue
                path = (base / target.split("#")[0]).resolve()
                if not path.is_relative_to(root):
                    problems.append(Problem(loc, "link", f"{target} leaves the repository"))
                elif not path.exists():
                    problems.append(Problem(loc, "link", f"{target}: no such file"))
            for m in _TICK_OUT.finditer(_FENCE.sub(" ", para)):
                if not (base / m.group(1)).resolve().is_relative_to(root):
                    problems.append(Problem(loc, "link", f"`{m.group(1)}` leaves the repository"))
    return problems


def unsourced_in_markdown(path: Path, root: Path = ROOT) -> list[Unsourced]:
    """Decimal numbers in a markdown file's prose that no source supports (per paragraph:
    the files and zoo models it names; for ``bench/README.md`` also the bench's results)."""
    path = Path(path)
    text = _FENCE.sub(_blank, _COMMENT.sub(" ", _GENERATED.sub(_blank, path.read_text("utf-8"))))
    text = _INLINE.sub(" ", text)
    default = []
    if path.resolve() == (root / "bench" / "README.md").resolve():
        for pattern in ("bench/results/**/*.json", "bench/results/logs/**/*.txt",
                        "bench/plans/*.json"):
            default += [f.read_text(encoding="utf-8") for f in sorted(root.glob(pattern))]
    default_numbers = _numbers("\n".join(default))
    raw = _FENCE.sub(_blank, path.read_text(encoding="utf-8"))
    # a section (heading to heading) names its sources once, usually under its table
    sections, current = {}, ""
    for line, para in _paragraphs(raw):
        if para.startswith("#"):
            current = para
        sections.setdefault(current, []).append((line, para))
    problems = []
    for paras in sections.values():
        named = "\n".join(p for _, p in paras)
        found = default_numbers + _numbers("\n".join(
            _named_files(named, root, path.parent) + _zoo_texts(named, root)))
        pool = [float(x) for x in found]
        exact = set(found)
        lines = {line for line, _ in paras}
        quotes = []
        for line, para in _paragraphs(text):
            if line not in lines:
                continue
            for m in _NUMBER.finditer(para):
                if not _VERSION.search(para[max(0, m.start() - 20):m.start()]):
                    unit = re.match(r"\s*(GB|MB|KB|ms|s)\b", para[m.end():])
                    quotes.append((line, para, m.group(0).replace("−", "-").lstrip("+"),
                                   unit.group(1) if unit else ""))
        # a number of another unit ("0.89 GB" from 906.9 MB, "6.0 ms" from 0.006 s)
        scaled = pool + [v / 1000 for v in pool] + [v / 1024 for v in pool] + \
            [v * 1000 for v in pool]
        sourced = [float(q) for _, _, q, u in quotes
                   if _supports(q, scaled if u else pool, exact)]
        # a difference of two sourced quotes of the section ("ahead by 0.063") is sourced
        diffs = [abs(a - b) for a in sourced for b in sourced]
        for line, para, q, u in quotes:
            if not _supports(q, (scaled if u else pool) + diffs, exact):
                at = para.find(q)
                problems.append(Unsourced(path.relative_to(root).as_posix(), line, q,
                                          " ".join(para[max(0, at - 50):at + 30].split())))
    return problems


def check_repository(root: Path = ROOT, notebooks: list[Path] | None = None) -> list[Problem]:
    """All five checks (see the module's docstring) over the repository at ``root``."""
    if notebooks is None:
        notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    problems = [Problem(f"{u.notebook} cell {u.cell}", "unsourced", f"{u.number} in {u.context!r}")
                for nb in notebooks for u in unsourced_numbers(nb, root)]
    for name in NUMBER_DOCS:
        problems += [Problem(f"{u.notebook}:{u.cell}", "unsourced",
                             f"{u.number} in {u.context!r}")
                     for u in unsourced_in_markdown(root / name, root)]
    return problems + fact_problems(root) + time_problems(root) + link_problems(root)


def main(paths: list[Path] | None = None, root: Path = ROOT) -> int:
    """Print every problem; exit status 1 if there is one."""
    problems = check_repository(root, paths)
    for p in problems:
        print(p)
    counts = {}
    for p in problems:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no problem"
    print(f"{summary} (notebooks, README.md, bench/README.md, zoo/README.md)")
    return 1 if problems else 0
