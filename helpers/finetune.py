"""Start from a pretrained model: the weights, the vocabulary grown for a new text.

``train(text, run_dir, init_from="novels_char")`` calls :func:`start_from`, which

1. loads the pretrained model (a zoo name, a bundle folder or a training run folder);
2. counts the new corpus's tokens (a text, or a file or folder read in chunks by
   :func:`helpers.corpus_cache.count_tokens`, so a corpus larger than memory can be
   fine-tuned on and then encoded through the corpus cache) and compares them with the
   pretrained vocabulary: tokens it lacks are
   either **added** (new rows of the embedding and the output layer) or **mapped** to
   the unknown token (``new_tokens="add"`` or ``"map"``);
3. builds the same architecture for the grown vocabulary and copies every weight over.
   A new token's embedding row and output column start as the mean of the existing
   ones: an "average token", neither favoured nor impossible, which the first steps
   then move where the new text wants it.

The architecture is the pretrained model's: settings that would change it (units,
layers, cell, embedding size) are refused; dropout may differ, as it has no weights.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .corpus_cache import count_tokens
from .errors import TextgenError
from .settings import ModelConfig
from .vocab import Vocab, WordVocab

__all__ = ["FineTuneError", "Start", "start_from", "grow_vocab", "transfer_weights",
           "ARCHITECTURE", "NEW_TOKENS", "LEARNING_RATE", "train_settings"]

ARCHITECTURE = ("units", "layers", "cell", "embed_dim")  # what the weights fix
NEW_TOKENS = ("add", "map")
MAX_NEW_WORDS = 2000  # a word vocabulary grows by its most frequent new words only
LEARNING_RATE = 1e-3  # measured in bench/bench_finetune.py against the from-scratch 2e-3


def train_settings(train: dict) -> dict:
    """The training settings of a run that starts from a pretrained model: ``train``
    (those given), with the fine-tuning learning rate unless it names one."""
    return {"learning_rate": LEARNING_RATE, **train}


class FineTuneError(TextgenError, ValueError):
    """A pretrained model cannot start this run as asked (a setting that would change its
    architecture, an unknown model)."""


@dataclass
class Start:
    """What :func:`start_from` made: the model to train, its vocabulary, and a record of
    where it came from (kept in the run's config.json and the exported card)."""

    model: object  # keras.Model
    vocab: Vocab
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        i = self.info
        return (f"Start(from={i.get('name')!r}, vocab {i.get('vocab_before')} -> "
                f"{len(self.vocab)}, added={i.get('added')}, "
                f"mapped_to_unknown={i.get('mapped_to_unknown')})")


def _load_pretrained(init_from: str | os.PathLike):
    """(keras model, vocab, meta, kind) from a zoo name, a bundle folder or a run folder."""
    from . import zoo
    from .rundir import RunDir

    p = Path(init_from)
    run = RunDir(p)  # a run folder is told by its files, named by RunDir
    is_run = p.is_dir() and (run.state_file.exists() or run.best.exists())
    try:
        m = zoo.load_run(p) if is_run else zoo.load(str(init_from))
    except zoo.ZooError as e:
        raise FineTuneError(f"Cannot start from {init_from!r}: {e}") from None
    return m.model, m.vocab, m.meta, "run" if is_run else "zoo"


def grow_vocab(vocab: Vocab, text: str | Mapping[str, int], new_tokens: str = "add",
               min_count: int = 1) -> tuple[Vocab, list[str], int]:
    """The vocabulary for ``text`` (a text, or how often each of its tokens occurs, as
    :func:`helpers.corpus_cache.count_tokens` counts them): ``vocab`` plus the tokens of
    ``text`` it lacks (``"add"``; seen at least ``min_count`` times, and for words at most
    ``MAX_NEW_WORDS`` of the most frequent) or ``vocab`` itself (``"map"``: they become
    the unknown token). Returns (vocabulary, tokens added, occurrences mapped to unknown).
    Old ids never move, so the pretrained weights keep their meaning."""
    if new_tokens not in NEW_TOKENS:
        raise ValueError(f"new_tokens must be one of {NEW_TOKENS}, not {new_tokens!r}")
    counts = count_tokens(text, vocab) if isinstance(text, str) else text
    missing = {t: n for t, n in counts.items() if t not in vocab.index}
    added: list[str] = []
    if new_tokens == "add":
        floor = max(min_count, 2) if isinstance(vocab, WordVocab) else min_count
        ranked = sorted((t for t, n in missing.items() if n >= floor),
                        key=lambda t: (-missing[t], t))
        added = ranked[:MAX_NEW_WORDS] if isinstance(vocab, WordVocab) else sorted(ranked)
    mapped = sum(n for t, n in missing.items() if t not in set(added))
    if not added:
        return vocab, [], mapped
    d = vocab.to_dict()
    d["tokens"] = [*vocab.tokens, *added]
    grown = type(vocab).from_dict(d)
    grown.counts = dict(counts)
    return grown, added, mapped


def transfer_weights(src, dst, n_old: int) -> None:
    """Copy every weight of ``src`` into ``dst`` (same architecture, ``dst`` with a
    vocabulary of ``n_old`` + k tokens whose first ``n_old`` are ``src``'s). The k new
    embedding rows and output columns start as the mean of the old ones."""
    def put(layer_name: str, grow_axis: int | None):
        old = [np.asarray(w) for w in src.get_layer(layer_name).get_weights()]
        new = [np.asarray(w) for w in dst.get_layer(layer_name).get_weights()]
        out = []
        for o, n in zip(old, new, strict=True):
            if grow_axis is None or o.shape == n.shape:
                if o.shape != n.shape:
                    raise FineTuneError(f"layer {layer_name}: weights {o.shape} do not fit "
                                        f"{n.shape}")
                out.append(o)
                continue
            axis = grow_axis if o.ndim > 1 else 0
            extra = n.shape[axis] - o.shape[axis]
            mean = o.mean(axis=axis, keepdims=True)
            out.append(np.concatenate([o, np.repeat(mean, extra, axis=axis)], axis=axis))
        dst.get_layer(layer_name).set_weights(out)

    from .model import rnn_layers

    put("embedding", 0)
    for s, d in zip(rnn_layers(src), rnn_layers(dst), strict=True):
        d.set_weights(s.get_weights())
    put("logits", 1)  # kernel (units, vocab): grow the columns; bias (vocab,)


def start_from(init_from: str | os.PathLike, text: str | os.PathLike,
               model_config: dict | None = None, new_tokens: str = "add", min_count: int = 1,
               precision: str = "float32") -> Start:
    """Load ``init_from`` and make the model and vocabulary that train ``text`` from it.

    ``text`` is the new corpus: a ``str`` of text, or a path to a text file or folder
    (read in chunks: see :func:`helpers.corpus_cache.load_corpus` for the rule).

    ``model_config`` may only repeat the pretrained architecture (a different ``units``,
    ``layers``, ``cell`` or ``embed_dim`` is refused, naming the setting) or change
    ``dropout``.
    """

    from .model import build_model, config_of

    src, vocab, meta, kind = _load_pretrained(init_from)
    base = config_of(src)
    asked = dict(model_config or {})
    asked.pop("vocab_size", None)
    clash = [f"{k}={asked[k]!r} (the model has {getattr(base, k)!r})"
             for k in ARCHITECTURE if k in asked and asked[k] != getattr(base, k)]
    if clash:
        raise FineTuneError(
            f"{', '.join(clash)} would change the architecture of {init_from}; its weights "
            "fix it. Leave those settings out when starting from a pretrained model.")
    unknown = set(asked) - set(ARCHITECTURE) - {"dropout"}
    if unknown:
        raise FineTuneError(f"Unknown model setting(s) {sorted(unknown)}.")
    grown, added, mapped = grow_vocab(vocab, count_tokens(text, vocab), new_tokens,
                                      min_count)
    cfg = dataclasses.replace(base, vocab_size=len(grown),
                              dropout=asked.get("dropout", base.dropout))
    model = build_model(ModelConfig.from_dict(cfg.to_dict()), precision=precision)
    transfer_weights(src, model, len(vocab))
    name = meta.get("name") or Path(init_from).name
    info = {"name": name, "kind": kind, "path": str(init_from),
            "title": meta.get("title"), "data": meta.get("data"),
            "vocab_before": len(vocab), "vocab_fingerprint_before": vocab.fingerprint(),
            "new_tokens": new_tokens, "added": len(added), "added_tokens": added[:50],
            "mapped_to_unknown": mapped}
    return Start(model, grown, info)
