"""Yelp-style reviews: a file of reviews each wrapped in ``{...}`` (the IBM seed's format)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .documents import wrap
from .textio import CorpusError, read_text

__all__ = ["load_reviews", "as_training_text"]

_REVIEW_RE = re.compile(r"\{(.*?)\}", re.S)


def load_reviews(path: str | os.PathLike) -> list[str]:
    """Reviews from a file where each is wrapped in braces and they run straight on
    (``{...}{...}``); newlines inside a review are kept, CRLF normalised."""
    text = read_text(Path(path))
    reviews = [r.strip() for r in _REVIEW_RE.findall(text)]
    reviews = [r for r in reviews if r]
    if not reviews:
        raise CorpusError(f"{path} holds no {{...}}-wrapped reviews.")
    return reviews


def as_training_text(reviews: list[str]) -> str:
    """Each review wrapped in start/end tokens."""
    return wrap(reviews)
