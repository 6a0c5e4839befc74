"""Scores the text quotes in more than one place, each named once with the file it comes from.

A :class:`Fact` names one measured quantity ("nanoGPT's CPU run after ten minutes"), the
repository file and key that hold it, and the phrasings in which the text quotes it: regular
expressions matched against one sentence (or one table cell, read with its column's
header), whose group ``v`` is the quoted value. "The same quantity" is what one fact's
phrasings find; :func:`helpers.nbcheck.check_repository` then fails when a quote differs
from the source (rounded to the digits the quote shows) and when one fact is quoted with two
values. A score that is not here is still checked as any decimal number is: it needs a
source in the same paragraph (see :mod:`helpers.nbcheck`).

Add a fact when a score starts being quoted in a second place; its phrasings should find
each way a reader would write it, and nothing else (``tests/test_nbcheck.py`` plants a
wrong value in each).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .paths import ROOT

__all__ = ["Fact", "FACTS", "source_value"]

_RUNS = "bench/results/cpu-2-cores/"


@dataclass(frozen=True)
class Fact:
    """One quantity: where it lives (``source``, a JSON file; ``key``, a dotted path with
    list indices) and how the text quotes it (``phrasings``, each with a group ``v``)."""

    name: str
    what: str
    source: str
    key: str
    phrasings: tuple[str, ...]

    def patterns(self) -> list[re.Pattern]:
        return [re.compile(p) for p in self.phrasings]


# a score after a name: the first number of the given shape within 80 characters, unless
# another name (``stop``) comes first ("the recipe ..., ahead of nanoGPT's 1.898")
def _after(name: str, shape: str, stop: str = "nanoGPT") -> str:
    return (rf"(?:{name})(?:(?!{stop})[^;]){{0,80}}?(?<![\d.])\**(?P<v>{shape})"
            r"(?![\d.]\d)")


# a score before "is now the recipe": "dropout 0.25 at **1.452**, is now the `cpu-10min` recipe"
def _now(recipe: str) -> str:
    return (rf"(?<![\d.])\**(?P<v>1\.\d{{3,4}})(?: nats/char)?\**,? is now the "
            rf"(?:recipe )?`{recipe}`")


FACTS = (
    Fact("nanogpt_cpu_80s",
         "nanoGPT's CPU \"baby\" run after about 80 seconds, nats/char",
         "bench/results/nanogpt_cpu.json", "runs.0.val_windows_64",
         (_after(r"nanoGPT", r"1\.[6-9]\d\d+", stop="ours"),)),
    Fact("nanogpt_cpu_10min",
         "nanoGPT's CPU \"baby\" run after about ten minutes, nats/char",
         "bench/results/nanogpt_cpu.json", "runs.1.val_windows_64",
         (_after(r"nanoGPT", r"1\.5\d\d+", stop="ours"),)),
    Fact("cpu_1min_recipe",
         "the cpu-1min recipe's score, 80 s from its command, nats/char",
         _RUNS + "80s_b32_s64_lr1e-2_nodrop.json", "val_windows_160",
         (_after(r"`cpu-1min`|(?:one|1)-minute recipe", r"1\.[5-9]\d\d+"),
          _now("cpu-1min"))),
    Fact("cpu_10min_recipe",
         "the cpu-10min recipe's score after ten minutes on this CPU, nats/char "
         "(\"the recipe\", \"ten minutes of X reach\")",
         _RUNS + "600s_lstm384_bf16_drop025_lr5e-3_fused_torch.json", "val_windows_160",
         (_after(r"`cpu-10min`|(?:10|ten)-minute (?:CPU )?recipe|CPU recipe|the recipe's",
                 r"1\.[3-5]\d\d+"),
          _now("cpu-10min"),
          # "ten minutes of X reach V" states what ten minutes give: the recipe's score
          # (not on a GPU, and not where the sentence names the bench run it quotes)
          r"(?i:\b(?:10|ten) minutes)\b(?![^;]*(?:GPU|H100|A100|`(?:600|80)s_))[^;]{0,80}?\b"
          r"(?:reach|reaches|gave|give|gives|score|scored)\s+(?:about\s+)?\**"
          r"(?P<v>1\.[3-5]\d\d)")),
    Fact("shakespeare_char_h100",
         "the zoo's shakespeare_char (2 x LSTM(512), one H100): best validation loss",
         "zoo/shakespeare_char/meta.json", "results.val_loss",
         (_after(r"H100|Shakespeare model|`shakespeare_char`", r"1\.4[6-9]\d+"),)),
)


def source_value(fact: Fact, root: Path = ROOT) -> float:
    """The value of ``fact`` in its source file."""
    value = json.loads((root / fact.source).read_text(encoding="utf-8"))
    for part in fact.key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return float(value)
