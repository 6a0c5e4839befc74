"""The browser build (``make lite``): JupyterLite on Pyodide, run for real, offline.

The site is built once per session (``lite/build.py``, the command of ``make lite``) into
``.lite-cache/``, served on 127.0.0.1 and opened in Debian's Chromium driven by
Playwright. Every request that leaves 127.0.0.1 is aborted and counted: there must be
none. Each lite notebook is opened and all its cells are run in the browser's Python;
then its outputs must hold no error, the samples must be the very text that CPython
samples here with the same helpers, model and seed, and the plots and the coloured HTML
must be there. The time from opening the page to the first sample and the speed of
sampling in the browser against CPython are printed (``pytest -s``).

Where the site cannot be built (no jupyterlite in this environment, no npm, no
registry) or Chromium is missing, the test skips and says why; ``make test`` installs
both (the ``[dev]`` extra, ``make browser``), so CI runs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT
from .httpserve import serve_folder
from .test_site import _chromium

pytestmark = pytest.mark.site
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (the [dev] extra installs it: make setup-dev)")

NOTEBOOKS = sorted((ROOT / "lite" / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 240  # one notebook, all cells, on a busy 2-core machine
FIRST_SAMPLE = ("ROMEO:", "--- novels_word")  # what the first sample of a notebook prints

# what the notebooks print, computed here under CPython: (notebook, model, prompt, kwargs)
SAMPLES = [
    ("01_sampling", "shakespeare_char", "ROMEO:", {"length": 400, "temperature": 0.7, "seed": 0}),
    ("03_words", "novels_word", "It is a truth", {"length": 60, "temperature": 0.7, "seed": 4}),
    ("03_words", "novels_char", "It is a truth", {"length": 300, "temperature": 0.7, "seed": 4}),
]


def _build_module():
    spec = importlib.util.spec_from_file_location("lite_build", ROOT / "lite" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_carrier(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"carrier/assets/pyodide/{name}", data)
        zf.writestr("carrier/assets/pyodide/pyodide.asm.wasm", b"not checked: npm's is used")
    return path


def test_build_refuses_a_package_file_unlike_the_lock(tmp_path):
    """No network: the check of the carrier's files against npm's pyodide-lock.json."""
    build = _build_module()
    good, bad = b"a wheel", b"another wheel"
    lock = {"packages": {
        "a": {"name": "a", "file_name": "a-1-py3-none-any.whl", "depends": ["b"],
              "sha256": hashlib.sha256(good).hexdigest()},
        "b": {"name": "b", "file_name": "b-1-py3-none-any.whl", "depends": [],
              "sha256": hashlib.sha256(good).hexdigest()}}}
    ok = build.checked_files(_fake_carrier(tmp_path / "ok.whl", {
        "a-1-py3-none-any.whl": good, "b-1-py3-none-any.whl": good}), lock)
    assert sorted(ok) == ["a-1-py3-none-any.whl", "b-1-py3-none-any.whl"]
    with pytest.raises(build.BuildError, match="sha256"):
        build.checked_files(_fake_carrier(tmp_path / "bad.whl", {
            "a-1-py3-none-any.whl": good, "b-1-py3-none-any.whl": bad}), lock)
    with pytest.raises(build.BuildError, match="not in npm"):
        build.checked_files(_fake_carrier(tmp_path / "extra.whl", {
            "a-1-py3-none-any.whl": good, "c-1-py3-none-any.whl": good}), lock)
    assert [e["name"] for e in build.closure(lock, ["a"])] == ["a", "b"]
    with pytest.raises(build.BuildError, match="not in pyodide-lock"):
        build.closure(lock, ["numpy"])


def test_zoo_wheel_keeps_the_bundle_bytes(tmp_path):
    """A zoo model travels as a wheel whose files are the bundle's, byte for byte (so
    zoo.load checks meta.json's sha256 in the browser), and the helpers wheel holds
    every module of helpers/."""
    build = _build_module()
    whl = build.zoo_wheel(tmp_path, "tweets_char")
    with zipfile.ZipFile(whl) as zf:
        for f in ("model.keras", "vocab.json", "meta.json"):
            assert zf.read(f"textgen_zoo/tweets_char/{f}") == \
                (ROOT / "zoo" / "tweets_char" / f).read_bytes()
        assert "Name: textgen-zoo-tweets-char" in zf.read(
            f"{whl.name.split('-py3')[0]}.dist-info/METADATA").decode()
    with zipfile.ZipFile(build.helpers_wheel(tmp_path)) as zf:
        names = set(zf.namelist())
    assert {f"helpers/{p.name}" for p in (ROOT / "helpers").glob("*.py")} <= names


def _weights(net) -> list:
    return [net.embedding, net.dense_W, net.dense_b,
            *[a for c in net.cells for a in (c.W, c.U, c.b)]]


@pytest.mark.parametrize("model", ["shakespeare_char", "novels_word", "tweets_char"])
def test_pyfive_reads_the_weights_h5py_reads(monkeypatch, tmp_path, model):
    """The browser has no h5py: kerasfile falls back to pyfive, which must read every
    array of a zoo model exactly as h5py does, and refuse a damaged file in one line."""
    pytest.importorskip("pyfive", reason="pyfive is not installed (the [lite] extra)")
    pytest.importorskip("h5py")
    from helpers import kerasfile

    path = ROOT / "zoo" / model / "model.keras"
    ref = kerasfile.load_engine(path)
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    assert kerasfile._hdf5().__name__ == "pyfive"
    net = kerasfile.load_engine(path)
    assert repr(net) == repr(ref)
    for a, b in zip(_weights(net), _weights(ref), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and (a == b).all()
    # the same archive with its weights file cut short
    bad = tmp_path / "truncated.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data[: len(data) // 3] if info.filename.endswith(".h5")
                         else data)
    with pytest.raises(kerasfile.KerasFileError, match="truncated.keras"):
        kerasfile.load_engine(bad)


def _build_site(out: Path, cache: Path) -> dict:
    """Build the site with lite/build.py; skip, saying why, where this cannot be done."""
    try:
        import jupyterlite_core  # noqa: F401
        import jupyterlite_pyodide_kernel  # noqa: F401
    except ImportError:
        pytest.skip("jupyterlite is not installed: the [lite] extra (in [dev]) installs it")
    if not shutil.which("npm"):
        pytest.skip("npm is not installed (make browser installs it as root: apt-get "
                    "install npm); the build fetches the Pyodide runtime with it")
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, str(ROOT / "lite" / "build.py"), "--out", str(out),
                          "--cache", str(cache)], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    if res.returncode:
        log = res.stdout + res.stderr
        if "pip download" in log and ("network" in log.lower() or "connection" in log.lower()):
            pytest.skip(f"the site cannot be built here (no registry?):\n{log[-2000:]}")
        pytest.fail(f"lite/build.py failed:\n{log[-4000:]}")
    info = json.loads((out / "lite-build.json").read_text(encoding="utf-8"))
    info["build_s"] = time.perf_counter() - t0
    print(f"\nlite site built in {info['build_s']:.0f} s: " + ", ".join(
        f"{k} {v / 1e6:.1f} MB" for k, v in info["sizes"].items()))
    return info


@pytest.fixture(scope="session")
def lite_site() -> tuple[Path, dict]:
    chromium = _chromium()  # first: without a browser there is nothing to build it for
    cache = Path(os.environ.get("TEXTGEN_LITE_CACHE", ROOT / ".lite-cache"))
    out = cache / "site"
    info = _build_site(out, cache)
    info["chromium"] = chromium
    return out, info


_STATE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const panel = w && w.content && w.content.model ? w : null;
  if (!panel) return null;
  const status = panel.sessionContext && panel.sessionContext.session
      && panel.sessionContext.session.kernel ? panel.sessionContext.session.kernel.status : null;
  return {status, nb: panel.content.model.toJSON()};
}"""


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _stdout(cell: dict) -> str:
    return "".join("".join(o["text"]) if isinstance(o.get("text"), list) else o.get("text", "")
                   for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")


def _run_notebook(context, base: str, name: str) -> dict:
    """Open ``name`` in JupyterLite's notebook app, run all cells, wait for the last;
    returns the notebook with its outputs, the DOM facts and timings."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    t0 = time.perf_counter()
    page.goto(f"{base}/notebooks/index.html?path={name}.ipynb")
    page.wait_for_function("() => { const w = window.jupyterapp && window.jupyterapp.shell"
                           ".currentWidget; return w && w.sessionContext && w.sessionContext"
                           ".session && w.sessionContext.session.kernel && w.sessionContext"
                           ".session.kernel.status === 'idle'; }", timeout=120_000)
    kernel_s = time.perf_counter() - t0
    # not awaited (no return): the command's promise settles only after the last cell
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    first_output_s = None
    deadline = time.monotonic() + CELL_TIMEOUT_S
    while True:
        state = page.evaluate(_STATE)
        cells = _code_cells(state["nb"])
        if first_output_s is None and any(c.get("execution_count") and any(
                s in _stdout(c) for s in FIRST_SAMPLE) for c in cells):
            first_output_s = time.perf_counter() - t0
        done = all(c.get("execution_count") for c in cells) and state["status"] == "idle"
        if done or time.monotonic() > deadline:
            break
        page.wait_for_timeout(300)
    dom = page.evaluate("""() => ({
      imgs: [...document.querySelectorAll('.jp-OutputArea-output img')]
          .filter(i => i.complete && i.naturalWidth > 0).length,
      spans: [...document.querySelectorAll('.jp-RenderedHTMLCommon span[style*="background"]')]
          .map(s => getComputedStyle(s).backgroundColor)
          .filter(c => !['rgba(0, 0, 0, 0)', 'transparent', 'rgb(255, 255, 255)'].includes(c))
          .length})""")
    page.close()
    return {"nb": state["nb"], "done": done, "errors": errors, "dom": dom,
            "kernel_s": kernel_s, "first_sample_s": first_output_s,
            "total_s": time.perf_counter() - t0}


@pytest.fixture(scope="session")
def browser_runs(lite_site) -> dict:
    folder, info = lite_site
    with serve_folder(folder) as (base, requests), sync_api.sync_playwright() as pw:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root: no user namespaces
        browser = pw.chromium.launch(executable_path=info["chromium"], headless=True, args=args)
        # service workers allowed: JupyterLite's gives the kernel its files (/drive);
        # Chromium still routes and reports every request, the worker's included
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        outside: list[str] = []
        seen: list[str] = []
        context.on("request", lambda r: seen.append(r.url))

        def only_loopback(route):
            if route.request.url.startswith(base + "/"):
                route.continue_()
            else:  # the site must be self-contained: nothing from outside at run time
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_loopback)
        runs = {nb.stem: _run_notebook(context, base, nb.stem) for nb in NOTEBOOKS}
        browser.close()
    outside += [u for u in seen if not u.startswith((base + "/", "data:", "blob:"))]
    for name, r in runs.items():
        print(f"{name}: kernel ready {r['kernel_s']:.1f} s, first sample "
              f"{r['first_sample_s'] or float('nan'):.1f} s, all cells {r['total_s']:.1f} s "
              "after opening the page")
    return {"runs": runs, "outside": outside, "requests": requests}


def test_site_is_small_and_checked(lite_site):
    folder, info = lite_site
    assert info["sizes"]["total"] < 150e6, info["sizes"]
    assert info["checked"] >= 30  # every package file of the carrier checked against the lock
    lock = json.loads((folder / "static" / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["info"]["version"] == "0.27.7"
    cfg = json.loads((folder / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = cfg["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    assert kernel["disablePyPIFallback"] is True
    assert kernel["pyodideUrl"].startswith("./static/pyodide/")
    assert all(u.startswith("./") for u in kernel["pipliteUrls"])


def test_no_request_leaves_the_site(browser_runs):
    assert not browser_runs["outside"], \
        f"requests outside 127.0.0.1: {sorted(set(browser_runs['outside']))}"
    assert any("pyodide.asm.wasm" in r for r in browser_runs["requests"])


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_the_browser(browser_runs, nb):
    r = browser_runs["runs"][nb.stem]
    assert r["done"], f"{nb.name}: not every cell ran within {CELL_TIMEOUT_S} s"
    assert not r["errors"], r["errors"]
    for i, cell in enumerate(_code_cells(r["nb"])):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", \
                f"{nb.name}, code cell {i}: {out.get('ename')}: {out.get('evalue')}"
    kinds = [k for c in _code_cells(r["nb"]) for o in c.get("outputs", [])
             for k in o.get("data", {})]
    if nb.stem in ("01_sampling", "02_neurons"):
        assert "image/png" in kinds and r["dom"]["imgs"] >= 1, f"{nb.name}: no plot shown"
    assert "text/html" in kinds and r["dom"]["spans"] > 20, \
        f"{nb.name}: the coloured HTML is missing ({r['dom']['spans']} coloured spans)"


@pytest.mark.parametrize("nb,model,prompt,kw", SAMPLES, ids=[f"{s[0]}-{s[1]}" for s in SAMPLES])
def test_browser_samples_the_cpython_text(browser_runs, nb, model, prompt, kw):
    from helpers import zoo

    expected = zoo.load(model, backend=False).generate(prompt, **kw)[0].full
    printed = "\n".join(_stdout(c) for c in _code_cells(browser_runs["runs"][nb]["nb"]))
    assert expected in printed, f"{nb}: the {model} sample differs from CPython's:\n" \
        f"expected:\n{expected}\n--- printed:\n{printed[:3000]}"


def test_speed_against_cpython(browser_runs):
    """Reports characters/s in the browser and here (not a timed assertion)."""
    from helpers import zoo

    printed = "\n".join(_stdout(c) for c in _code_cells(browser_runs["runs"]["01_sampling"]["nb"]))
    found = re.search(r"([\d,]+) characters/s in this browser", printed)
    assert found, "01_sampling printed no speed"
    browser_cps = int(found.group(1).replace(",", ""))
    gen = zoo.load("shakespeare_char", backend=False).generator
    t = time.perf_counter()
    out = gen.generate("ROMEO:", length=200, temperature=0.8, seed=0, stop_at_end=False)[0]
    cpython_cps = len(out.token_ids) / (time.perf_counter() - t)
    print(f"\nshakespeare_char sampling: {browser_cps:,} characters/s in Chromium (Pyodide), "
          f"{cpython_cps:,.0f} in CPython here")
    assert browser_cps > 0
