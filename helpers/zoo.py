"""Pretrained models: load by name, verify, sample; export a trained run as a bundle.

A bundle is a folder ``zoo/<name>/`` with

* ``model.keras`` - the network (no optimizer state), loaded with Keras' safe mode,
* ``vocab.json`` - its vocabulary,
* ``meta.json`` - configuration, measured results and the SHA-256 of both files,
* ``README.md`` - the model card (data and licence, command, device, time, loss, samples).

>>> from helpers import zoo
>>> zoo.available()                                           # doctest: +SKIP
['shakespeare_char', ...]
>>> m = zoo.load("shakespeare_char")                          # doctest: +SKIP
>>> print(m.generate("ROMEO:", length=200, temperature=0.7, seed=0)[0])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import keras

from . import paths
from .errors import TextgenError
from .model import build_model, config_of, count_params
from .sample import Generator, Sample
from .textio import atomic_path, atomic_write_json, atomic_write_text, sha256_file
from .vocab import Vocab, load_vocab

__all__ = ["ZooError", "ZooModel", "available", "load", "load_run", "export_bundle",
           "sha256_file", "render_card", "zoo_table"]

class ZooError(TextgenError, RuntimeError):
    """A pretrained model is missing, corrupt, or does not match its vocabulary."""


@dataclass
class ZooModel:
    """A loaded model with its vocabulary and metadata, ready to sample."""

    name: str
    model: keras.Model
    vocab: Vocab
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    _generator: Generator | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        val = self.meta.get("results", {}).get("val_loss")
        vs = f", val_loss={val:.3f}" if isinstance(val, (int, float)) else ""
        return (f"ZooModel({self.name!r}, params={count_params(self.model):,}, "
                f"vocab={len(self.vocab)} {self.vocab.kind}s{vs})")

    @property
    def documents(self) -> bool:
        return bool(self.meta.get("documents", False))

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = Generator(self.model, self.vocab, documents=self.documents)
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
        p = self.path / "excerpt.txt" if self.path else None
        if p is None or not p.exists():
            raise ZooError(f"{self.name} has no excerpt.txt; fetch its corpus with "
                           "helpers.datasets.fetch(...) instead.")
        return p.read_text(encoding="utf-8")

    @property
    def card(self) -> str:
        p = self.path / "README.md" if self.path else None
        return p.read_text(encoding="utf-8") if p and p.exists() else ""


def available(zoo_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the bundles in the zoo folder."""
    d = Path(zoo_dir or paths.zoo_dir())
    return sorted(p.name for p in d.iterdir() if (p / "meta.json").exists()) if d.exists() else []


def _check_match(model: keras.Model, vocab: Vocab, where: str) -> None:
    cfg = config_of(model)
    out = model.get_layer("logits").units
    if cfg.vocab_size != len(vocab) or out != len(vocab):
        raise ZooError(
            f"{where}: the vocabulary has {len(vocab)} tokens but the model was built for "
            f"{cfg.vocab_size}; the vocab.json does not belong to this model."
        )


def _load_keras(path: Path, where: str) -> keras.Model:
    if not path.exists():
        raise ZooError(f"{where}: model file {path.name} is missing.")
    if not zipfile.is_zipfile(path):
        raise ZooError(f"{where}: {path.name} is not a valid .keras file (truncated or corrupt).")
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for damaged archives
        raise ZooError(f"{where}: could not load {path.name}: {e}") from e


def load(name: str, zoo_dir: str | os.PathLike | None = None, verify: bool = True) -> ZooModel:
    """Load a zoo bundle by name (or a path to a bundle folder), verifying checksums."""
    d = Path(zoo_dir or paths.zoo_dir())
    path = Path(name) if os.sep in name or Path(name).is_dir() else d / name
    if not (path / "meta.json").exists():
        names = available(d)
        hint = f" Available: {', '.join(names)}." if names else f" The zoo folder {d} is empty."
        raise ZooError(f"No zoo model named {name!r}.{hint}")
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ZooError(f"{name}: meta.json is corrupt ({e}).") from e
    if verify:
        for fname, digest in meta.get("sha256", {}).items():
            f = path / fname
            if not f.exists():
                raise ZooError(f"{name}: {fname} is missing from {path}.")
            if sha256_file(f) != digest:
                raise ZooError(
                    f"{name}: {fname} does not match its checksum in meta.json (corrupt or "
                    "changed). Restore it with `git checkout -- zoo/` or re-export the model."
                )
    try:
        vocab = load_vocab(path / "vocab.json")
    except (FileNotFoundError, ValueError) as e:
        raise ZooError(f"{name}: {e}") from e
    model = _load_keras(path / "model.keras", name)
    _check_match(model, vocab, name)
    return ZooModel(path.name, model, vocab, meta, path)


def load_run(run_dir: str | os.PathLike, which: str = "best") -> ZooModel:
    """Load a model from a training run folder (``best.keras`` or ``last.keras``)."""
    run_dir = Path(run_dir)
    vocab = load_vocab(run_dir / "vocab.json")
    model = _load_keras(run_dir / f"{which}.keras", str(run_dir))
    _check_match(model, vocab, str(run_dir))
    cfg_path = run_dir / "config.json"
    meta = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    return ZooModel(run_dir.name, model, vocab, meta, run_dir)


def export_bundle(model: keras.Model, vocab: Vocab, dest: str | os.PathLike, meta: dict,
                  card: str) -> Path:
    """Write a zoo bundle: the weights in a fresh, uncompiled model (no optimizer
    state), the vocabulary, ``meta.json`` with checksums, and the model card."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    cfg = config_of(model)
    clean = build_model(cfg)
    clean.set_weights(model.get_weights())
    with atomic_path(dest / "model.keras") as tmp:
        clean.save(tmp)
    vocab.save(dest / "vocab.json")
    meta = dict(meta)
    meta.setdefault("config", cfg.to_dict())
    meta["params"] = count_params(clean)
    meta["vocab_fingerprint"] = vocab.fingerprint()
    meta["sha256"] = {f: sha256_file(dest / f) for f in ("model.keras", "vocab.json")}
    atomic_write_json(dest / "meta.json", meta)
    atomic_write_text(dest / "README.md", card)
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
    lines += ["## Model", "",
              f"- {cfg.get('layers')} x {str(cfg.get('cell', '')).upper()}({cfg.get('units')}), "
              f"embedding {cfg.get('embed_dim')}, dropout {cfg.get('dropout')}, "
              f"vocabulary {cfg.get('vocab_size')} tokens",
              f"- parameters: {meta.get('params', 0):,}",
              f"- documents wrapped in start/end tokens: {bool(meta.get('documents'))}",
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


def zoo_table(zoo_dir: str | os.PathLike | None = None) -> str:
    """A Markdown table of every bundle (for the README and zoo/README.md)."""
    d = Path(zoo_dir or paths.zoo_dir())
    rows = ["| model | what | network | params | size | validation loss | trained on |",
            "|---|---|---|---|---|---|---|"]
    for name in available(d):
        m = json.loads((d / name / "meta.json").read_text(encoding="utf-8"))
        c, r = m.get("config", {}), m.get("results", {})
        unit = "word" if "word" in name else "char"
        size = (d / name / "model.keras").stat().st_size / 1e6
        dev = (m.get("device") or "").split(",")[0]
        rows.append(
            f"| [`{name}`]({name}/README.md) | {m.get('title', name).split(' (')[0]} "
            f"| {c.get('layers')}×{str(c.get('cell', '')).upper()}({c.get('units')}) "
            f"| {m.get('params', 0) / 1e6:.2f}M | {size:.1f} MB "
            f"| {r.get('val_loss', float('nan')):.3f} nats/{unit} | {dev} |")
    return "\n".join(rows)
