"""The static site of the series (``make site``), read in a real browser.

The site is built once from the committed notebooks and READMEs into a temporary folder,
served on 127.0.0.1, and every page is opened in Debian's Chromium driven by Playwright:
it must load without console errors or failed requests, ask for nothing outside the
site (CI has no internet: any other request is aborted and counted), show every image
and every output of the notebooks, keep the colours of the probability and neuron HTML
outputs (05, 07), and link only to pages and anchors that exist. A full-page screenshot
of each notebook page goes to ``generated/site_screens/``.

``make setup-dev`` installs Chromium as root; elsewhere this test skips and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import pytest

from helpers import paths

from .conftest import ROOT
from .httpserve import serve_folder

pytestmark = pytest.mark.site
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (the [dev] extra installs it: make setup-dev)")

NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
COLOURED = {"05", "07"}  # notebooks with probability / neuron HTML outputs
TRANSPARENT_OR_WHITE = {"rgba(0, 0, 0, 0)", "transparent", "rgb(255, 255, 255)"}


def _chromium() -> str:
    """Debian's chromium, or skip where it cannot be installed (not root, no apt-get);
    as root it must be there, since `make setup-dev` installs it."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Debian's chromium is not installed and this user cannot install it "
                    "(needs root and apt-get: apt-get install chromium)")
    pytest.fail("chromium is not installed: `make setup-dev` installs it as root "
                "(apt-get install -y chromium)")


def _expected(nb_path: Path) -> dict:
    """What the page of a notebook must show: its code cells with outputs, its images."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    kinds = [k for c in cells for o in c.get("outputs", []) for k in o.get("data", {})]
    return {"with_outputs": sum(bool(c.get("outputs")) for c in cells),
            "png": kinds.count("image/png"), "svg": kinds.count("image/svg+xml"),
            "html": kinds.count("text/html")}


_PAGE_FACTS = """() => {
  const imgs = [...document.images].map(i => ({src: i.currentSrc || i.src,
      complete: i.complete, width: i.naturalWidth}));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id)
      .concat([...document.querySelectorAll('a[name]')].map(a => a.name));
  const nb = document.querySelector('.jupyter-wrapper');
  const q = s => nb ? nb.querySelectorAll(s).length : 0;
  const spans = nb ? [...nb.querySelectorAll('.jp-RenderedHTMLCommon span[style*="background"]')]
      .map(s => getComputedStyle(s).backgroundColor) : [];
  return {imgs, links, ids, spans,
      // nbconvert's template nests one .jp-CodeCell in another: count the outer ones
      cells_with_outputs: nb ? [...nb.querySelectorAll('.jp-CodeCell')]
          .filter(c => !c.parentElement.closest('.jp-CodeCell'))
          .filter(c => c.querySelector('.jp-OutputArea-output')).length : 0,
      png: q('.jp-RenderedImage img[src^="data:image/png"]'),
      svg: q('.jp-RenderedSVG svg'),
      html: q('.jp-RenderedHTMLCommon.jp-OutputArea-output'),
      text: document.body.innerText.length,
      // TeX drawn as MathML: its boxes, and any TeX left over in the text
      math: nb ? [...nb.querySelectorAll('math')].map(m => m.getBoundingClientRect().height) : [],
      raw_tex: nb ? (nb.innerText.match(/[$][$]|[\\\\](sigma|frac|odot|tanh)(?![a-z])/g) || []).length : 0};
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site (the same command as `make site`); yields its folder and stats."""
    out = tmp_path_factory.mktemp("site") / "site"
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "build.py"), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return out, {"build_s": time.perf_counter() - t0, "log": run.stdout + run.stderr}


@pytest.fixture(scope="module")
def chromium() -> str:
    return _chromium()


@pytest.fixture(scope="module")
def crawl(chromium, site):
    """Open every page of the site in Chromium; yields what each page showed and did."""
    folder, _ = site
    screens = paths.generated() / "site_screens"
    screens.mkdir(parents=True, exist_ok=True)
    pages = sorted(p.parent.relative_to(folder).as_posix() for p in folder.rglob("index.html"))
    with serve_folder(folder) as (base, requests), sync_api.sync_playwright() as pw:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root: no user namespaces
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=args)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        outside: list[str] = []

        def only_loopback(route):
            if route.request.url.startswith(base + "/"):
                route.continue_()
            else:  # the site must be self-contained: CI has no internet
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_loopback)
        report: dict[str, dict] = {}
        for rel in pages:
            url = f"{base}/{rel}/" if rel != "." else f"{base}/"
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m, e=errors: m.type == "error" and e.append(m.text))
            page.on("pageerror", lambda exc, e=errors: e.append(f"uncaught: {exc}"))
            page.on("requestfailed", lambda r, e=errors: e.append(f"failed: {r.url}"))
            page.on("response", lambda r, e=errors: r.status >= 400
                    and e.append(f"HTTP {r.status}: {r.url}"))
            response = page.goto(url, wait_until="networkidle")
            facts = page.evaluate(_PAGE_FACTS)
            facts.update(url=url, status=response.status, errors=errors)
            if rel.startswith("notebooks/"):
                shot = screens / f"{Path(rel).name}.png"
                page.screenshot(path=str(shot), full_page=True)
                facts["screenshot"] = shot
            report[rel] = facts
            page.close()
        links = sorted({urldefrag(u).url for f in report.values() for u in f["links"]
                        if u.startswith(base + "/")})
        statuses = {u: context.request.get(u).status for u in links}
        browser.close()
    yield {"base": base, "pages": report, "outside": outside, "links": statuses,
           "requests": requests}


def test_site_builds_every_page(site):
    """Without a browser too: a page per notebook, its download byte for byte, the READMEs."""
    folder, stats = site
    for nb in NOTEBOOKS:
        assert (folder / "notebooks" / nb.stem / "index.html").is_file(), f"{nb.name}: no page"
        assert (folder / "notebooks" / nb.stem / nb.name).read_bytes() == nb.read_bytes()
    for page in ("index.html", "zoo/index.html", "bench/index.html"):
        assert (folder / page).is_file(), f"{page} is missing"
    assert "0 warnings" in stats["log"], stats["log"]
    assert stats["build_s"] < 120, f"the site took {stats['build_s']:.0f} s to build"


def test_browser_opened_every_page(site, crawl):
    folder, _ = site
    built = {p.parent.relative_to(folder).as_posix() for p in folder.rglob("index.html")}
    assert set(crawl["pages"]) == built and len(built) >= len(NOTEBOOKS) + 3


def test_every_page_loads_without_errors(crawl):
    for f in crawl["pages"].values():
        assert f["status"] == 200, f"{f['url']}: HTTP {f['status']}"
        assert not f["errors"], f"{f['url']}: {f['errors']}"
        assert f["text"] > 200, f"{f['url']} shows almost no text"


def test_no_request_leaves_the_site(crawl):
    assert not crawl["outside"], f"requests outside 127.0.0.1: {sorted(set(crawl['outside']))}"


def test_every_image_renders(crawl):
    n = 0
    for f in crawl["pages"].values():
        for img in f["imgs"]:
            n += 1
            assert img["complete"] and img["width"] > 0, f"{f['url']}: image not shown: " \
                f"{img['src'][:120]}"
    assert n >= sum(_expected(nb)["png"] for nb in NOTEBOOKS)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_page_shows_every_output(crawl, nb):
    f = crawl["pages"][f"notebooks/{nb.stem}"]
    want = _expected(nb)
    assert f["cells_with_outputs"] == want["with_outputs"], f"{nb.name}: outputs missing"
    assert f["png"] == want["png"], f"{nb.name}: {f['png']} of {want['png']} PNG plots shown"
    assert f["svg"] == want["svg"], f"{nb.name}: {f['svg']} of {want['svg']} SVG outputs shown"
    assert f["html"] >= want["html"], f"{nb.name}: HTML outputs missing"
    shot = f["screenshot"]
    assert shot.stat().st_size > 20_000, f"{shot} looks empty"


@pytest.mark.parametrize("nb", [p for p in NOTEBOOKS if p.name[:2] in COLOURED],
                         ids=lambda p: p.stem)
def test_probability_and_neuron_outputs_are_coloured(crawl, nb):
    spans = crawl["pages"][f"notebooks/{nb.stem}"]["spans"]
    coloured = [c for c in spans if c not in TRANSPARENT_OR_WHITE]
    assert len(coloured) >= 50, f"{nb.name}: {len(coloured)} coloured spans of {len(spans)}"
    assert len(set(coloured)) >= 5, f"{nb.name}: hardly any shades: {sorted(set(coloured))}"


def test_every_internal_link_resolves(crawl):
    broken = {u: s for u, s in crawl["links"].items() if s != 200}
    assert not broken, f"broken links: {broken}"
    assert len(crawl["links"]) >= len(crawl["pages"])


def test_every_anchor_exists(crawl):
    """A link to `page#x` (or `#x` on its own page) finds an element with id x there."""
    base = crawl["base"]
    ids = {urljoin(base + "/", "" if rel == "." else rel + "/"): set(f["ids"])
           for rel, f in crawl["pages"].items()}
    missing = []
    for f in crawl["pages"].values():
        for link in f["links"]:
            url, frag = urldefrag(link)
            if frag and url in ids and frag not in ids[url]:
                missing.append(f"{f['url']} -> {link}")
    assert not missing, f"anchors that do not exist: {missing}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_formulas_are_drawn_not_shown_as_tex(crawl, nb):
    """Every $...$ of a notebook's Markdown becomes drawn mathematics (MathML, no script
    from elsewhere): as many formulas as the notebook has, each with a height, no TeX left."""
    import re

    md = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"]
                   if c["cell_type"] == "markdown")
    md = re.sub(r"```.*?```|`[^`\n]*`", "", md, flags=re.S)
    expected = len(re.findall(r"\$\$.+?\$\$", md, re.S))
    expected += len(re.findall(r"(?<![\w$])\$(?=\S)[^$\n]+?(?<=\S)\$(?![\w$])",
                               re.sub(r"\$\$.+?\$\$", "", md, flags=re.S)))
    f = crawl["pages"][f"notebooks/{nb.stem}"]
    assert len(f["math"]) == expected, f"{nb.name}: {len(f['math'])} formulas drawn of {expected}"
    assert all(h > 5 for h in f["math"]), f"{nb.name}: a formula has no height: {f['math']}"
    assert f["raw_tex"] == 0, f"{nb.name}: TeX shown as text"

