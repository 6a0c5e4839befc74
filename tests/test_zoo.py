import json
import shutil

import pytest

from helpers import zoo
from helpers.paths import zoo_dir
from helpers.vocab import CharVocab

pytestmark = pytest.mark.core


@pytest.fixture(scope="module")
def shakespeare_bundle():
    return zoo.load("shakespeare_char")


def test_every_zoo_model_loads_and_samples():
    names = zoo.available()
    assert "shakespeare_char" in names
    for name in names:
        m = zoo.load(name)
        s = m.generate(length=60, temperature=0.7, seed=0)[0]
        assert len(s.token_ids) > 0, name
        assert (m.path / "README.md").read_text().startswith("# ")
        assert m.meta["sha256"]["model.keras"] == zoo.sha256_file(m.path / "model.keras")


def test_shakespeare_writes_shakespeare(shakespeare_bundle):
    text = shakespeare_bundle.generate("ROMEO:", length=400, temperature=0.5, seed=0)[0].text
    words = text.split()
    assert len(words) > 40
    common = {"the", "and", "I", "to", "of", "my", "a", "you", "that", "in", "is", "not"}
    assert sum(w in common for w in words) / len(words) > 0.15
    assert ":\n" in text  # speaker turns


def _copy(tmp_path):
    src = zoo_dir() / "shakespeare_char"
    dst = tmp_path / "shakespeare_char"
    shutil.copytree(src, dst)
    return dst


def test_missing_and_unknown(tmp_path):
    with pytest.raises(zoo.ZooError, match="Available: .*shakespeare_char"):
        zoo.load("no_such_model")
    d = _copy(tmp_path)
    (d / "model.keras").unlink()
    with pytest.raises(zoo.ZooError, match="missing"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path)


def test_truncated_model_is_a_clear_error(tmp_path):
    d = _copy(tmp_path)
    data = (d / "model.keras").read_bytes()
    (d / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(zoo.ZooError, match="checksum"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path)
    with pytest.raises(zoo.ZooError, match="truncated or corrupt"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path, verify=False)


def test_vocab_that_does_not_match(tmp_path):
    d = _copy(tmp_path)
    CharVocab.build("just a few letters").save(d / "vocab.json")
    meta = json.loads((d / "meta.json").read_text())
    meta["sha256"]["vocab.json"] = zoo.sha256_file(d / "vocab.json")
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(zoo.ZooError, match="does not belong"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path)


def test_excerpt_ships_with_the_bundle_and_is_checked(tmp_path, shakespeare_bundle):
    text = shakespeare_bundle.excerpt
    assert len(text) == 12_000 and "PROSPERO:" in text
    assert "excerpt.txt" in shakespeare_bundle.meta["sha256"]
    d = _copy(tmp_path)
    (d / "excerpt.txt").write_text(text.replace("PROSPERO", "PROSPERA"))
    with pytest.raises(zoo.ZooError, match="excerpt.txt does not match its checksum"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path)
    with pytest.raises(zoo.ZooError, match="no excerpt.txt"):
        _ = zoo.load("python_code").excerpt
