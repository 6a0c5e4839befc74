import json
import shutil
import signal

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


@pytest.mark.parametrize("entry", ["/dev/zero", "../shakespeare_char/vocab.json",
                                   "sub/vocab.json", ".."])
def test_checksummed_files_must_lie_in_the_bundle(tmp_path, entry):
    d = _copy(tmp_path)
    meta = json.loads((d / "meta.json").read_text())
    meta["sha256"][entry] = "0" * 64  # an absolute path once made load() hash /dev/zero
    (d / "meta.json").write_text(json.dumps(meta))

    def hung(*_):
        raise TimeoutError(f"zoo.load still reading {entry} after 30 s")

    previous = signal.signal(signal.SIGALRM, hung)  # a failure, not a hung test run
    signal.alarm(30)
    try:
        with pytest.raises(zoo.ZooError, match="not a plain file name in the bundle"):
            zoo.load("shakespeare_char", zoo_dir=tmp_path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_checksummed_file_linked_out_of_the_bundle_is_refused(tmp_path):
    d = _copy(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    (d / "notes.txt").symlink_to(outside)
    meta = json.loads((d / "meta.json").read_text())
    meta["sha256"]["notes.txt"] = zoo.sha256_file(outside)
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(zoo.ZooError, match="'notes.txt'.*not a plain file name"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path)


def _swap_two_tokens(vocab_file):
    v = json.loads(vocab_file.read_text(encoding="utf-8"))
    i, j = v["tokens"].index("a"), v["tokens"].index("e")
    v["tokens"][i], v["tokens"][j] = v["tokens"][j], v["tokens"][i]
    vocab_file.write_text(json.dumps(v), encoding="utf-8")


@pytest.mark.parametrize("backend", [True, False])
def test_vocab_with_swapped_tokens_is_refused(tmp_path, backend):
    d = _copy(tmp_path)
    _swap_two_tokens(d / "vocab.json")
    with pytest.raises(zoo.ZooError, match="checksum"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path, backend=backend)
    # same size, so only the fingerprint tells: without the checksum, or with it updated
    with pytest.raises(zoo.ZooError, match="vocab.json does not match the vocabulary"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path, verify=False, backend=backend)
    meta = json.loads((d / "meta.json").read_text())
    meta["sha256"]["vocab.json"] = zoo.sha256_file(d / "vocab.json")
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(zoo.ZooError, match="vocab.json does not match the vocabulary"):
        zoo.load("shakespeare_char", zoo_dir=tmp_path, backend=backend)


@pytest.mark.parametrize("backend", [True, False])
def test_run_folder_vocab_is_checked_against_its_fingerprint(tmp_path, backend):
    src = zoo_dir() / "shakespeare_char"
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(src / "model.keras", run / "best.keras")
    shutil.copy(src / "vocab.json", run / "vocab.json")
    meta = json.loads((src / "meta.json").read_text())
    (run / "config.json").write_text(json.dumps(
        {"model": meta["config"], "vocab_fingerprint": meta["vocab_fingerprint"]}))
    m = zoo.load_run(run, backend=backend)
    assert (m.model is None) is (not backend)
    assert m.generate("ROMEO:", length=20, seed=0)[0].text
    _swap_two_tokens(run / "vocab.json")
    with pytest.raises(zoo.ZooError, match="vocab.json does not match.*config.json says"):
        zoo.load_run(run, backend=backend)


def test_export_run_makes_a_bundle_loaded_by_name(tmp_path, sonnets):
    """The path that produced zoo/: a run folder exported, loaded back by name, its card
    and results from the run's history; a fine-tuned run's card names its origin."""
    from helpers.cli import main
    from helpers.train import train

    quick = {"seq_len": 32, "batch_size": 8, "steps_per_epoch": 3, "epochs": 2,
             "samples_per_epoch": 0, "verbose": 0, "learning_rate": 1e-3, "warmup_steps": 1}
    run = tmp_path / "run"
    r = train(sonnets, run, init_from="novels_char", train_config=quick)
    corpus = tmp_path / "sonnets.txt"
    corpus.write_text(sonnets)
    code = main(["export", str(run), "--name", "sonnets_ft", "--zoo-dir", str(tmp_path / "zoo"),
                 "--data", "Shakespeare's sonnets 1-25", "--prompt", "When",
                 "--val-text", str(corpus)])
    assert code == 0
    m = zoo.load("sonnets_ft", zoo_dir=tmp_path / "zoo")
    assert m.vocab == r.vocab and m.meta["results"]["epochs_run"] == 2
    assert m.meta["results"]["val_loss"] == pytest.approx(r.best_val_loss, abs=1e-4)
    assert m.meta["results"]["val_loss_full_split"]["tokens"] > 0
    card = (tmp_path / "zoo" / "sonnets_ft" / "README.md").read_text()
    assert card == zoo.render_card(m.meta)  # written once, from the final meta
    assert "Fine-tuned from `novels_char`" in card and "Shakespeare's sonnets 1-25" in card
    fast = zoo.load("sonnets_ft", zoo_dir=tmp_path / "zoo", backend=False)
    assert fast.generate("When", length=40, seed=2)[0].text == \
        m.generate("When", length=40, seed=2)[0].text


def test_readme_tables_are_generated_from_the_bundles(tmp_path):
    assert zoo.write_tables(check=True) == []  # the committed tables match the bundles
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{zoo.TABLE_START}\n| stale |\n{zoo.TABLE_END}\nafter\n")
    assert zoo.write_tables({readme: "zoo/"}, check=True) == [readme]
    assert "| stale |" in readme.read_text()  # check writes nothing
    zoo.write_tables({readme: "zoo/"})
    text = readme.read_text()
    assert "(zoo/novels_char/README.md)" in text and "| stale |" not in text
    assert text.startswith("intro\n") and text.endswith("after\n")


@pytest.fixture(scope="module")
def poems_bundle():
    return zoo.load("poems_word", backend=False)


def test_poems_word_breaks_lines_and_ends_its_poems(poems_bundle):
    """Word level with documents: "\\n" is the line break, the end token the poem break."""
    m = poems_bundle
    assert m.documents and m.vocab.kind == "word" and "\n" in m.vocab
    samples = m.generate(length=300, temperature=1.0, n=8, seed=0)
    assert sum(s.stopped_by == "end" for s in samples) >= 6  # they end by themselves
    text = "".join(s.text for s in samples)
    assert "\x03" not in text and text.count("\n") > 20  # verse lines, not one long line
    words = [w for w in text.split() if w.isalpha()]
    assert len(words) / max(1, text.count("\n")) < 12  # a line break every few words


def test_poems_word_puts_the_poem_break_after_a_line_break(poems_bundle):
    """On held-out poems (excerpt.txt, in the validation split) the end token is far
    likelier after the last line's break than at a typical place inside the poem."""
    import numpy as np

    from helpers.documents import split
    from helpers.sample import softmax

    m = poems_bundle
    held_out = split(m.excerpt)
    assert len(held_out) == 20
    ratios = []
    for poem in held_out:
        ids = m.vocab.encode(f"\x02{poem}\x03")
        state, p_end = m.engine.initial_state(1), []
        for t in ids[:-1]:
            logits, state = m.engine.step(np.array([t]), state)
            p_end.append(softmax(logits)[0, m.vocab.end_id])
        ratios.append(p_end[-1] / np.median(p_end))
    assert np.median(ratios) > 5
