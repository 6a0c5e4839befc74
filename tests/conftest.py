"""Shared fixtures. Tests that need ../shared/data skip with a reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.workshop import shared_data_path

ROOT = Path(__file__).resolve().parent.parent
SHARED = shared_data_path()


def shared_path(*parts: str) -> Path:
    """Path inside the shared fixture data, or skip the test when it is missing."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"fixture data not found: {p} (the shared/data folder beside the project)")
    return p


@pytest.fixture(scope="session")
def shakespeare() -> str:
    return shared_path("tinyshakespeare", "input.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_model():
    """A small untrained char model + vocab (fast to build)."""
    from helpers.model import ModelConfig, build_model
    from helpers.vocab import CharVocab

    vocab = CharVocab.build("abcdefghij klmnop\nqrstuvwxyz.,!?ABC")
    model = build_model(ModelConfig(vocab_size=len(vocab), embed_dim=8, units=16, layers=2))
    return model, vocab
