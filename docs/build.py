"""Build the static site of the series into ``site/`` (``make site``).

MkDocs with mkdocs-jupyter and the Material theme renders the READMEs and the committed
notebooks, in order, without executing anything. The sources live all over the
repository, so they are first copied into a temporary docs folder, keeping their paths
(every relative link written for GitHub then works on the site as well):

- the pages: README.md (the home page), the notebooks ``notebooks/NN_*.ipynb``,
  ARCHITECTURE.md, zoo/README.md and bench/README.md, and every other Markdown file of
  the repository that one of them links to (the model cards of zoo/, say);
- every other file they link to or show (bench's PNG charts), as it is.

Interactive widgets need a running kernel, so a widget output becomes a short note and
the notebook's widget state is dropped (which would otherwise make nbconvert load the
widget renderer from a CDN). The download link beside each notebook page gives the
committed notebook, byte for byte.

``SOURCE_DATE_EPOCH`` (default: the time of the last commit) dates the build, so the same
commit builds the same site.

    python docs/build.py [--out site] [--strict]
"""

from __future__ import annotations

import argparse
import logging
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).resolve().with_name("mkdocs.yml")
NOTEBOOKS = "notebooks/[0-9][0-9]_*.ipynb"
TOP_PAGES = ["README.md", "ARCHITECTURE.md", "zoo/README.md", "bench/README.md"]
MAX_ASSET = 5 * 2**20  # a link to a larger file (a model, say) is left out of the site
WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("<p><em>An interactive widget is here when the notebook runs in Jupyter; "
               "this static page cannot run it.</em></p>")
# relative targets of Markdown links and images, and of HTML src/href attributes
_LINK = re.compile(r"""\]\(\s*<?([^)\s>]+)|(?:src|href)\s*=\s*["']([^"']+)["']""")


def _relative(target: str) -> str:
    """The path of a link target if it is relative (without #anchor or ?query), else ''."""
    t = target.split("#")[0].split("?")[0]
    return "" if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", t) or t.startswith("/") else t


def _targets(text: str) -> list[str]:
    """Relative paths a text links to."""
    return [t for m in _LINK.finditer(text) if (t := _relative(m.group(1) or m.group(2)))]


def _site_url(rel: str) -> str:
    """Where a repository file ends up on the site (MkDocs' directory URLs)."""
    p = PurePosixPath(rel)
    if p.suffix == ".ipynb" or (p.suffix == ".md" and p.name not in ("README.md", "index.md")):
        return f"{p.with_suffix('')}/"
    if p.suffix == ".md":
        return "" if str(p.parent) == "." else f"{p.parent}/"
    return rel


def _relink(text: str, src: Path) -> str:
    """Links of a notebook's Markdown cell, made relative to the notebook's page: MkDocs
    rewrites the links of Markdown pages, but nbconvert renders notebooks itself, and a
    page sits one folder deeper than its notebook (``notebooks/01_gutenberg/``)."""
    page = _site_url(src.relative_to(ROOT).as_posix())

    def fix(m: re.Match) -> str:
        target = m.group(1) or m.group(2)
        path = _relative(target)
        file = (src.parent / path).resolve()
        if not path or not file.is_relative_to(ROOT) or not file.is_file():
            return m.group(0)
        url = _site_url(file.relative_to(ROOT).as_posix())
        new = posixpath.relpath(url or ".", page) + ("/" if url.endswith("/") or not url
                                                     else "")
        return m.group(0).replace(path, new, 1)

    return _LINK.sub(fix, text)


_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\w$])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\w$])", re.S)


def _math_to_mathml(text: str) -> str:
    """``$...$`` and ``$$...$$`` outside code as MathML, which the browser draws itself:
    the site loads nothing from elsewhere, so no MathJax (a notebook in Jupyter renders
    the same TeX with its own MathJax)."""
    from latex2mathml.converter import convert

    def one(m: re.Match) -> str:
        block = m.group(1) is not None
        tex = (m.group(1) if block else m.group(2)).strip()
        mathml = convert(tex, display="block" if block else "inline")
        return f'<div class="math">{mathml}</div>' if block else mathml

    out, pos = [], 0
    for code in _CODE.finditer(text):  # leave code spans and fences alone
        out.append(_MATH.sub(one, text[pos:code.start()]))
        out.append(code.group(0))
        pos = code.end()
    out.append(_MATH.sub(one, text[pos:]))
    return "".join(out)


def _notebook_for_site(src: Path) -> tuple[str, list[str]]:
    """The notebook as Jupyter shows it, for the site: consecutive prints joined into one
    output and progress bars at their last state (nbconvert would show each flush and
    each ``\\r`` update on a line of its own), links made relative to its page, TeX as
    MathML, widgets replaced by a note. Returns its JSON and the targets of its Markdown cells' links."""
    import nbformat
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb = nbformat.reads(src.read_text(encoding="utf-8"), as_version=4)
    nb.metadata.pop("widgets", None)
    CoalesceStreamsPreprocessor().preprocess(nb, {})
    links = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            links += _targets(cell.source)
            cell.source = _math_to_mathml(_relink(cell.source, src))
        for out in cell.get("outputs", []):
            if WIDGET in out.get("data", {}):
                out.data = {"text/html": WIDGET_NOTE, "text/plain": "(widget)"}
    return nbformat.writes(nb), links


def stage(docs: Path) -> list:
    """Copy the site's sources into ``docs``; returns MkDocs' ``nav``."""
    notebooks = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob(NOTEBOOKS))
    todo = [p for p in TOP_PAGES if (ROOT / p).is_file()] + notebooks
    done: set[str] = set()
    while todo:
        rel = todo.pop(0)
        if rel in done:
            continue
        done.add(rel)
        src, dst = ROOT / rel, docs / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".ipynb"):
            text, links = _notebook_for_site(src)
            dst.write_text(text, encoding="utf-8")
        elif rel.endswith(".md"):
            shutil.copyfile(src, dst)
            links = _targets(src.read_text(encoding="utf-8"))
        else:
            shutil.copyfile(src, dst)
            continue
        for target in links:
            path = (src.parent / target).resolve()
            if not path.is_relative_to(ROOT) or not path.is_file():
                continue  # outside the repository, a folder, or broken: the tests say so
            if path.suffix != ".md" and path.stat().st_size > MAX_ASSET:
                continue
            todo.append(path.relative_to(ROOT).as_posix())

    shutil.copyfile(CONFIG.with_name("textgen.css"), docs / "textgen.css")
    pages = sorted(d for d in done if d.endswith(".md"))
    nav: list = [{"Home": "README.md"}, {"Notebooks": notebooks}]
    if "ARCHITECTURE.md" in done:
        nav.append({"Architecture": "ARCHITECTURE.md"})
    zoo = [p for p in pages if p.startswith("zoo/")]
    if zoo:
        nav.append({"Model zoo": sorted(zoo, key=lambda p: (p != "zoo/README.md", p))})
    if "bench/README.md" in done:
        nav.append({"Benchmarks": "bench/README.md"})
    listed = {"README.md", "ARCHITECTURE.md", "bench/README.md", *zoo}
    other = [p for p in pages if p not in listed]
    if other:
        nav.append({"More": other})
    return nav


def _commit_time() -> str:
    try:
        return subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip() or "0"
    except (OSError, subprocess.CalledProcessError):
        return "0"


class _Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def build(out: Path, strict: bool = False) -> dict:
    """Build the site into ``out`` (emptied first). Returns ``{"pages", "notebooks",
    "seconds", "warnings"}``; with ``strict``, a warning (a broken link) fails the build."""
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    t0 = time.perf_counter()
    out = Path(out).resolve()
    warnings = _Warnings()
    log = logging.getLogger("mkdocs")
    log.addHandler(warnings)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = epoch or _commit_time()
    try:
        with tempfile.TemporaryDirectory(prefix="textgen-site-") as tmp:
            docs = Path(tmp) / "docs"
            nav = stage(docs)
            config = load_config(str(CONFIG), docs_dir=str(docs), site_dir=str(out),
                                 nav=nav, strict=strict)
            # MkDocs empties its output folder: keep the in-browser site (`make lite`,
            # site/lite/) aside while it builds, so the two builds can run in any order
            lite, kept = out / "lite", Path(tmp) / "lite"
            if lite.is_dir():
                shutil.move(str(lite), kept)
            try:
                mkdocs_build(config)
            finally:
                if kept.is_dir():
                    shutil.move(str(kept), lite)
    finally:
        log.removeHandler(warnings)
        if epoch is None:
            del os.environ["SOURCE_DATE_EPOCH"]
    # the download beside each page: the committed notebook itself, widgets and all
    for nb in ROOT.glob(NOTEBOOKS):
        copy = out / "notebooks" / nb.stem / nb.name
        if copy.parent.is_dir():
            shutil.copyfile(nb, copy)
    pages = sorted(p for p in out.rglob("index.html"))
    return {"pages": len(pages),
            "notebooks": len(list(out.glob("notebooks/*/index.html"))),
            "seconds": round(time.perf_counter() - t0, 1),
            "warnings": warnings.messages}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "site", help="output folder")
    ap.add_argument("--strict", action="store_true", help="fail on any warning")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # nbconvert warns for every plot without alt text (and fills in a generic one)
    logging.getLogger("traitlets").addFilter(
        lambda r: not r.getMessage().startswith("Alternative text is missing"))
    try:
        info = build(args.out, strict=args.strict)
    except SystemExit:
        raise
    except Exception as e:  # mkdocs' Abort (strict mode) and configuration errors
        print(f"site build failed: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {info['pages']} pages ({info['notebooks']} notebooks) in "
          f"{info['seconds']} s, {len(info['warnings'])} warnings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
