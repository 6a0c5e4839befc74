"""Shared fixtures.

Small data the repository owns is in ``tests/fixtures/`` (see its README for sources and
licences). Larger corpora come through the data registry (:mod:`helpers.datasets`), from
the project's test mirror ``../shared/data`` (``$TEXTGEN_SHARED_DATA``) served on
127.0.0.1 as ``TEXTGEN_MIRROR``, so the download path itself is tested. Where the test
mirror is absent (a user's own clone), tests that need it skip and say why, unless the
file is already in the project's ``data/`` cache (after ``make data``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from helpers import datasets, paths

from .httpserve import serve_folder

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# files the repository adds to the test mirror (served where ../shared/data lacks them)
MIRROR_ADDITIONS = FIXTURES / "mirror"
SHARED = Path(os.environ.get("TEXTGEN_SHARED_DATA", ROOT.parent / "shared" / "data"))
NO_MIRROR = (f"the test mirror {SHARED} is not beside the project (set TEXTGEN_SHARED_DATA "
             "to its folder)")
USER_DATA = paths.data_dir()  # the user's own cache, read before the session moves it below


def shared_path(*parts: str) -> Path:
    """A file of the test mirror itself (for tests of parsers on its exact bytes), or skip."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"fixture data not found: {NO_MIRROR}")
    return p


def _put(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextlib.contextmanager
def environ(**values: str | None):
    """Set (or with None, unset) environment variables for the duration of a block."""
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            _put(k, v)
        yield
    finally:
        for k, v in old.items():
            _put(k, v)


@pytest.fixture(scope="session", autouse=True)
def _private_folders(tmp_path_factory):
    """Tests write nothing into the project: the data cache, runs and outputs of the whole
    session go to a temporary folder (a test may still point them elsewhere)."""
    base = tmp_path_factory.mktemp("project")
    with environ(TEXTGEN_DATA=str(base / "data"), TEXTGEN_RUNS=str(base / "runs"),
                 TEXTGEN_GENERATED=str(base / "generated")):
        yield


@pytest.fixture(scope="session")
def test_mirror():
    """``../shared/data`` served on 127.0.0.1: yields ``(url, requests)`` or skips."""
    if not SHARED.exists():
        pytest.skip(NO_MIRROR)
    with serve_folder(SHARED, MIRROR_ADDITIONS) as served:
        yield served


@pytest.fixture(scope="session")
def fetch_data(tmp_path_factory):
    """``fetch_data(name)``: the local path of a registered data set, downloaded through the
    registry from the loopback test mirror into this session's own cache; or, without the
    test mirror, the copy already in the project's ``data/`` (after ``make data``); or skip."""
    cache = tmp_path_factory.mktemp("data")
    served = None
    stack = contextlib.ExitStack()
    if SHARED.exists():
        served = stack.enter_context(serve_folder(SHARED, MIRROR_ADDITIONS))

    def get(name: str) -> Path:
        if served is not None:
            with environ(TEXTGEN_MIRROR=served[0], TEXTGEN_DATA=str(cache)):
                return datasets.fetch(name, progress=False, retries=0)
        ds = datasets.get(name)
        with environ(TEXTGEN_DATA=str(USER_DATA)):
            if ds.is_cached():
                return ds.local()
        pytest.skip(f"data set {name!r} not available: {NO_MIRROR}, and it is not in "
                    "data/ (`make data` downloads it)")

    with stack:
        yield get


@pytest.fixture(scope="session")
def shakespeare(fetch_data) -> str:
    return fetch_data("tinyshakespeare").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def sonnets() -> str:
    """Shakespeare's sonnets 1 to 25 (16 KB), owned by the repository."""
    return (FIXTURES / "sonnets.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_model():
    """A small untrained char model + vocab (fast to build)."""
    from helpers.model import ModelConfig, build_model
    from helpers.vocab import CharVocab

    vocab = CharVocab.build("abcdefghij klmnop\nqrstuvwxyz.,!?ABC")
    model = build_model(ModelConfig(vocab_size=len(vocab), embed_dim=8, units=16, layers=2))
    return model, vocab
