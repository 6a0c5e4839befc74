"""Pretrained models: load by name, verify, sample; export a trained run as a bundle.

A bundle is a folder ``zoo/<name>/`` with

* ``model.keras`` - the network (no optimizer state), loaded with Keras' safe mode,
* ``vocab.json`` - its vocabulary,
* ``meta.json`` - configuration, measured results, the SHA-256 of both files and the
  vocabulary's fingerprint (all checked on load),
* ``README.md`` - the model card (data and licence, command, device, time, loss, samples).

>>> from helpers import zoo
>>> zoo.available()                                           # doctest: +SKIP
['shakespeare_char', ...]
>>> m = zoo.load("shakespeare_char")                          # doctest: +SKIP
>>> print(m.generate("ROMEO:", length=200, temperature=0.7, seed=0)[0])  # doctest: +SKIP

``zoo.load(name, backend=False)`` samples the same text without importing Keras (the
weights are read by :mod:`helpers.kerasfile`): well under a second to the first character
instead of several; its ``.model`` is then None.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import paths
from .engine import NumpyRNN
from .errors import TextgenError
from .sample import Generator, Sample
from .textio import atomic_path, atomic_write_json, atomic_write_text, sha256_file
from .vocab import Vocab, load_vocab

if TYPE_CHECKING:  # Keras is imported where a Keras model is loaded or built, not here
    import keras

__all__ = ["ZooError", "ZooModel", "available", "load", "load_run", "meta", "export_run",
           "export_bundle", "sha256_file", "render_card", "zoo_table", "write_tables", "MODEL",
           "VOCAB", "META", "CARD", "EXCERPT"]

# the files of a bundle, named here only
MODEL, VOCAB, META, CARD, EXCERPT = (
    "model.keras", "vocab.json", "meta.json", "README.md", "excerpt.txt")


class ZooError(TextgenError, RuntimeError):
    """A pretrained model is missing, corrupt, or does not match its vocabulary."""


@dataclass
class ZooModel:
    """A loaded model with its vocabulary and metadata, ready to sample.

    ``model`` is the Keras model, or None when loaded with ``backend=False``; then
    ``engine`` is the NumPy network read straight from the file, which samples exactly
    the same text (``generate``, ``generator`` and ``beam_search`` work the same)."""

    name: str
    model: keras.Model | None
    vocab: Vocab
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    _generator: Generator | None = field(default=None, repr=False)
    engine: NumpyRNN | None = field(default=None, repr=False)

    @property
    def params(self) -> int:
        if self.model is not None:
            from .model import count_params

            return count_params(self.model)
        return self.engine.count_params() if self.engine is not None else 0

    def __repr__(self) -> str:
        val = self.meta.get("results", {}).get("val_loss")
        vs = f", val_loss={val:.3f}" if isinstance(val, (int, float)) else ""
        return (f"ZooModel({self.name!r}, params={self.params:,}, "
                f"vocab={len(self.vocab)} {self.vocab.kind}s{vs})")

    @property
    def documents(self) -> bool:
        return bool(self.meta.get("documents", False))

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            net = self.model if self.model is not None else self.engine
            self._generator = Generator(net, self.vocab, documents=self.documents)
        return self._generator

    def generate(self, prompt: str | None = None, **kwargs) -> list[Sample]:
        """Shortcut for ``Generator.generate``; the default prompt comes from the card."""
        if prompt is None:
            prompt = self.meta.get("default_prompt", "")
        return self.generator.generate(prompt, **kwargs)

    @property
    def excerpt(self) -> str:
        """A short real passage that ships with the bundle (``excerpt.txt``, held out from
        training), for demos that must run without a download; see the card."""
        p = self.path / EXCERPT if self.path else None
        if p is None or not p.exists():
            raise ZooError(f"{self.name} has no excerpt.txt; fetch its corpus with "
                           "helpers.datasets.fetch(...) instead.")
        return p.read_text(encoding="utf-8")

    @property
    def card(self) -> str:
        p = self.path / CARD if self.path else None
        return p.read_text(encoding="utf-8") if p and p.exists() else ""


def available(zoo_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the bundles in the zoo folder (a ``<name>.previous`` kept by ``export
    --force``, or a half-made ``.<name>...`` of an export in progress, is not one)."""
    from .outputs import is_name

    d = Path(zoo_dir or paths.zoo_dir())
    return sorted(p.name for p in d.iterdir()
                  if is_name(p.name) and (p / META).exists()) if d.exists() else []


def _check_match(net, vocab: Vocab, where: str) -> None:
    """The vocabulary has as many tokens as the network (Keras model or NumpyRNN) reads
    and writes."""
    if isinstance(net, NumpyRNN):
        sizes = (net.vocab_size, net.dense_W.shape[1])
    else:
        from .model import config_of

        sizes = (config_of(net).vocab_size, net.get_layer("logits").units)
    if any(n != len(vocab) for n in sizes):
        raise ZooError(
            f"{where}: the vocabulary has {len(vocab)} tokens but the model was built for "
            f"{sizes[0]}; the vocab.json does not belong to this model."
        )


def _check_fingerprint(vocab: Vocab, expected, vocab_file: Path, record: str,
                       where: str) -> None:
    from .vocab import VocabMismatch

    try:
        vocab.check_fingerprint(expected, vocab_file, record, where)
    except VocabMismatch as e:
        raise ZooError(f"{e} (for a bundle: `git checkout -- zoo/`)") from None


def _load_net(path: Path, where: str, backend: bool, vocab: Vocab):
    """The network of ``path`` (Keras model, or NumpyRNN without ``backend``) through the
    one guarded loader, checked to read and write as many tokens as ``vocab`` holds."""
    from . import kerasfile

    try:
        net = kerasfile.load(path, backend=backend, where=where)
    except kerasfile.KerasFileError as e:
        raise ZooError(str(e)) from e
    _check_match(net, vocab, where)
    return net


def _bundle_file(bundle: Path, fname, name: str) -> Path:
    """The file ``fname`` that meta.json lists, which must lie in the bundle folder itself:
    an entry like ``/dev/zero`` or ``../x`` would hash a device for ever or read outside."""
    ok = (isinstance(fname, str) and fname not in ("", ".", "..")
          and not any(sep and sep in fname for sep in ("/", "\\", os.sep, os.altsep))
          and not Path(fname).is_absolute() and Path(fname).name == fname)
    f = bundle / fname if ok else None
    if f is not None and f.exists() and f.resolve().parent != bundle.resolve():
        ok = False  # a link pointing out of the bundle
    if not ok:
        raise ZooError(f"{name}: meta.json lists {fname!r} under sha256, which is not a plain "
                       "file name in the bundle; the meta.json is corrupt or was tampered "
                       "with. Restore it or re-export the model.")
    return f


def _bundle_path(name: str, zoo_dir: str | os.PathLike | None = None) -> Path:
    """The folder of a bundle given by name (in the zoo) or by path; refused if absent."""
    d = Path(zoo_dir or paths.zoo_dir())
    path = Path(name) if os.sep in name or Path(name).is_dir() else d / name
    if not (path / META).exists():
        names = available(d)
        hint = f" Available: {', '.join(names)}." if names else f" The zoo folder {d} is empty."
        raise ZooError(f"No zoo model named {name!r}.{hint}")
    return path


def load(name: str, zoo_dir: str | os.PathLike | None = None, verify: bool = True,
         backend: bool = True) -> ZooModel:
    """Load a zoo bundle by name (or a path to a bundle folder), verifying checksums and
    the vocabulary's fingerprint.

    ``backend=False`` reads the network into the NumPy engine without importing Keras
    (fast; the returned model's ``.model`` is None, sampling is identical)."""
    path = _bundle_path(name, zoo_dir)
    from .limits import InputRefused, read_json

    try:  # a regular file within the JSON budget (helpers.limits)
        meta = read_json(path / META)
    except InputRefused as e:
        raise ZooError(f"{name}: meta.json is corrupt or not a file ({e}).") from e
    if not isinstance(meta, dict) or not isinstance(meta.get("sha256", {}), dict):
        raise ZooError(f"{name}: meta.json is corrupt (not an object with a sha256 table).")
    if verify:
        for fname, digest in meta.get("sha256", {}).items():
            f = _bundle_file(path, fname, name)
            if not f.exists():
                raise ZooError(f"{name}: {fname} is missing from {path}.")
            if not f.is_file():
                raise ZooError(f"{name}: {fname} in {path} is not a regular file.")
            if sha256_file(f) != digest:
                raise ZooError(
                    f"{name}: {fname} does not match its checksum in meta.json (corrupt or "
                    "changed). Restore it with `git checkout -- zoo/` or re-export the model."
                )
    try:
        vocab = load_vocab(path / VOCAB)
    except (FileNotFoundError, ValueError) as e:
        raise ZooError(f"{name}: {e}") from e
    # the sizes first: a vocabulary of another size says more than its fingerprint
    net = _load_net(path / MODEL, name, backend, vocab)
    _check_fingerprint(vocab, meta.get("vocab_fingerprint"), path / VOCAB, META, name)
    if backend:
        return ZooModel(path.name, net, vocab, meta, path)
    return ZooModel(path.name, None, vocab, meta, path, engine=net)


def load_run(run_dir: str | os.PathLike, which: str = "best", backend: bool = True) -> ZooModel:
    """Load a model from a training run folder (``best.keras`` or ``last.keras``), its
    vocabulary checked against the fingerprint in the run's ``config.json``.
    ``backend=False``: as in :func:`load`."""
    from .rundir import RunDir

    run = RunDir(run_dir)
    try:
        meta = run.read_config()
        vocab = run.read_vocab()
    except TextgenError as e:  # damaged or mismatched files: one kind of error for loaders
        raise ZooError(str(e)) from None
    net = _load_net(run.model_file(which), str(run.path), backend, vocab)
    if backend:
        return ZooModel(run.path.name, net, vocab, meta, run.path)
    return ZooModel(run.path.name, None, vocab, meta, run.path, engine=net)


def meta(name: str, zoo_dir: str | os.PathLike | None = None) -> dict:
    """A bundle's ``meta.json`` (card data, results, training history) without loading
    the model: for plots and tables."""
    path = _bundle_path(name, zoo_dir)
    try:
        return json.loads((path / META).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ZooError(f"{name}: meta.json is corrupt ({e}).") from e


def export_run(run_dir: str | os.PathLike, name: str, zoo_dir: str | os.PathLike | None = None,
               title: str | None = None, data: str = "", command: str = "", device: str = "",
               prompt: str = "", val_text: str | None = None, force: bool = False) -> ZooModel:
    """Turn a training run into a zoo bundle ``<zoo_dir>/<name>``: its best model, the
    results read from its history (and, with ``val_text``, the loss on that text's
    validation split, as the run split it), samples at three temperatures, the card.
    A run that started from a pretrained model names it on the card.

    ``name`` is a plain name, and the bundle is made beside its place and moved in when
    complete (:func:`helpers.outputs.output_folder`); an existing bundle is replaced
    only with ``force``, which keeps it as ``<name>.previous``."""
    from .evaluate import text_loss
    from .outputs import check_folder, output_folder
    from .rundir import RunDir

    zoo = Path(zoo_dir or paths.zoo_dir())
    check_folder(zoo, name, force)  # before any work: a refusal costs nothing
    run = RunDir(run_dir)
    m = load_run(run.path)
    cfg = m.meta
    history = run.read_history()
    results: dict = {}
    best = run.best_row()
    if best is not None:
        results = {"val_loss": best["val_loss"], "val_bits": best["val_bits"],
                   "epoch": best["epoch"], "seconds_to_best": best["seconds"],
                   "seconds_total": history[-1]["seconds"], "epochs_run": len(history)}
    if val_text is not None:
        vf = cfg.get("train", {}).get("val_fraction", 0.1)
        results["val_loss_full_split"] = text_loss(m.model, m.vocab,
                                                   val_text[int(len(val_text) * (1 - vf)):])
    info = {"name": name, "title": title or name, "data": data, "command": command,
            "device": device, "documents": cfg.get("documents"), "default_prompt": prompt,
            "train": cfg.get("train", {}), "results": results, "backend": cfg.get("backend"),
            "history": history}
    if cfg.get("init_from"):
        info["init_from"] = cfg["init_from"]
    info["samples"] = {str(t): m.generator.generate(prompt, length=300, temperature=t, seed=1,
                                                    unknown="unk", alternatives=0)[0].full
                       for t in (0.5, 0.8, 1.0)}
    with output_folder(zoo, name, force=force) as tmp:
        export_bundle(m.model, m.vocab, tmp, info)
    return load(name, zoo_dir=zoo)


def export_bundle(model: keras.Model, vocab: Vocab, dest: str | os.PathLike, meta: dict,
                  card: str | None = None) -> Path:
    """Write a zoo bundle: the weights in a fresh, uncompiled model (no optimizer
    state), the vocabulary, ``meta.json`` with checksums, and the model card (``card``,
    or by default :func:`render_card` of the final meta), each file atomically."""
    from .model import build_model, config_of, count_params

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    cfg = config_of(model)
    clean = build_model(cfg)
    clean.set_weights(model.get_weights())
    with atomic_path(dest / MODEL) as tmp:
        clean.save(tmp)
    vocab.save(dest / VOCAB)
    meta = dict(meta)
    meta.setdefault("config", cfg.to_dict())
    meta["params"] = count_params(clean)
    meta["vocab_fingerprint"] = vocab.fingerprint()
    meta["sha256"] = {f: sha256_file(dest / f) for f in (MODEL, VOCAB)}
    atomic_write_json(dest / META, meta)
    atomic_write_text(dest / CARD, render_card(meta) if card is None else card)
    return dest


def render_card(meta: dict) -> str:
    """The model card (README.md of a bundle) from its ``meta.json``."""
    cfg = meta.get("config", {})
    res = meta.get("results", {})
    tr = meta.get("train", {})
    lines = [f"# {meta.get('title') or meta.get('name')}", ""]
    lines += [f"Load it: `helpers.zoo.load({meta.get('name')!r})`, or "
              f"`python -m helpers sample --zoo {meta.get('name')}`.", ""]
    lines += ["## Data", "", meta.get("data") or "(not recorded)", ""]
    init = meta.get("init_from")
    if init:  # a fine-tuned model: its own data above, where its weights began here
        lines += ["## Started from", "",
                  f"Fine-tuned from `{init.get('name')}` ({init.get('title') or init.get('kind')})"
                  f", whose data was: {init.get('data') or '(not recorded)'}", "",
                  f"- vocabulary: {init.get('vocab_before')} tokens, {init.get('added')} added "
                  f"for this text ({init.get('new_tokens')}), {init.get('mapped_to_unknown'):,} "
                  "occurrences mapped to the unknown token", ""]
    lines += ["## Model", "",
              f"- {cfg.get('layers')} x {str(cfg.get('cell', '')).upper()}({cfg.get('units')}), "
              f"embedding {cfg.get('embed_dim')}, dropout {cfg.get('dropout')}, "
              f"vocabulary {cfg.get('vocab_size')} tokens",
              f"- parameters: {meta.get('params', 0):,}",
              # what the flag changes is sampling, not the corpus (the novels are wrapped
              # book by book, but a sample is a passage from inside a book)
              "- samples begin at the start token and stop at the end token (documents): "
              f"{bool(meta.get('documents'))}",
              "- files: `model.keras` (Keras 3, no optimizer state), `vocab.json`; SHA-256 in "
              "`meta.json`, checked on load"]
    if meta.get("excerpt"):
        lines.append(f"- {meta['excerpt'].replace('excerpt.txt', '`excerpt.txt`', 1)}")
    lines.append("")
    lines += ["## Training", "", f"- command: `{meta.get('command') or '(not recorded)'}`",
              f"- device: {meta.get('device') or '(not recorded)'}; backend "
              f"{meta.get('backend') or '?'}",
              f"- sequence length {tr.get('seq_len')}, batch {tr.get('batch_size')}, "
              f"learning rate {tr.get('learning_rate')} ({tr.get('schedule')}), "
              f"clipnorm {tr.get('clipnorm')}", ""]
    if res:
        lines += ["## Results", ""]
        if "val_loss" in res:
            lines.append(f"- best validation loss **{res['val_loss']:.4f} nats/token** "
                         f"({res['val_bits']:.3f} bits) at epoch {res.get('epoch')}, "
                         f"{res.get('seconds_to_best', 0):.0f} s into training "
                         f"({res.get('seconds_total', 0):.0f} s in all, "
                         f"{res.get('epochs_run')} epochs)")
        full = res.get("val_loss_full_split")
        if isinstance(full, dict):
            lines.append(f"- re-scored on the validation split in windows of 256: "
                         f"{full['nats']:.4f} nats/token ({full['bits']:.3f} bits, "
                         f"{full['tokens']:,} tokens)")
        lines.append("")
    hist = meta.get("history") or []
    if hist:
        lines += ["Validation loss by epoch (seconds, nats/token): "
                  + ", ".join(f"{h['seconds']:.0f}s {h['val_loss']:.3f}" for h in hist[:: max(
                      1, len(hist) // 12)]), ""]
    samples = meta.get("samples") or {}
    if samples:
        lines += ["## Samples", "", f"Prompt {meta.get('default_prompt', '')!r}, seed 1.", ""]
        for t, s in samples.items():
            lines += [f"Temperature {t}:", "", "```", s.replace("\x02", "").replace(
                "\x03", "⏎END").rstrip(), "```", ""]
    return "\n".join(lines)


def zoo_table(zoo_dir: str | os.PathLike | None = None, link_prefix: str = "") -> str:
    """A Markdown table of every bundle, linking each card as ``<link_prefix><name>/README.md``
    (``""`` from zoo/README.md, ``"zoo/"`` from the project README)."""
    d = Path(zoo_dir or paths.zoo_dir())
    rows = ["| model | what | network | params | size | validation loss | trained on |",
            "|---|---|---|---|---|---|---|"]
    for name in available(d):
        m = json.loads((d / name / META).read_text(encoding="utf-8"))
        c, r = m.get("config", {}), m.get("results", {})
        unit = "word" if "word" in name else "char"
        size = (d / name / MODEL).stat().st_size / 1e6
        dev = (m.get("device") or "").split(",")[0]
        rows.append(
            f"| [`{name}`]({link_prefix}{name}/README.md) | {m.get('title', name).split(' (')[0]} "
            f"| {c.get('layers')}×{str(c.get('cell', '')).upper()}({c.get('units')}) "
            f"| {m.get('params', 0) / 1e6:.2f}M | {size:.1f} MB "
            f"| {r.get('val_loss', float('nan')):.3f} nats/{unit} | {dev} |")
    return "\n".join(rows)


TABLE_START, TABLE_END = "<!-- zoo table: python -m helpers zoo --write-tables -->", \
    "<!-- end of zoo table -->"


def write_tables(readmes: dict[str | os.PathLike, str] | None = None,
                 zoo_dir: str | os.PathLike | None = None, check: bool = False) -> list[Path]:
    """Put :func:`zoo_table` between the table markers of each README (by default the
    project's README and zoo/README.md), so no table is pasted by hand. With ``check``,
    write nothing and return the READMEs whose table differs."""
    if readmes is None:
        readmes = {paths.ROOT / "README.md": "zoo/", paths.zoo_dir() / "README.md": ""}
    stale = []
    for readme, prefix in readmes.items():
        readme = Path(readme)
        text = readme.read_text(encoding="utf-8")
        if TABLE_START not in text or TABLE_END not in text:
            raise ZooError(f"{readme} has no zoo table markers ({TABLE_START} ... {TABLE_END}).")
        head, rest = text.split(TABLE_START, 1)
        _, tail = rest.split(TABLE_END, 1)
        new = f"{head}{TABLE_START}\n{zoo_table(zoo_dir, prefix)}\n{TABLE_END}{tail}"
        if new != text:
            stale.append(readme)
            if not check:
                atomic_write_text(readme, new)
    return stale
