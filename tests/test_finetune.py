"""Fine-tuning a zoo model on a new text: vocabulary grown or mapped, weights carried
over exactly, architecture flags refused, runs resumed, the origin recorded."""

import json

import keras
import numpy as np
import pytest

from helpers import zoo
from helpers.cli import main
from helpers.finetune import FineTuneError, grow_vocab, start_from, transfer_weights
from helpers.model import build_model
from helpers.settings import ModelConfig
from helpers.train import train
from helpers.vocab import CharVocab

pytestmark = pytest.mark.core

GERMAN = ("Als Gregor Samsa eines Morgens aus unruhigen Träumen erwachte, fand er sich in "
          "seinem Bett zu einem ungeheueren Ungeziefer verwandelt. Er lag auf seinem "
          "panzerartig harten Rücken und sah, wenn er den Kopf ein wenig hob, seinen "
          "gewölbten, braunen, von bogenförmigen Versteifungen geteilten Bauch. «Was ist "
          "mit mir geschehen?» dachte er. Es war kein Traum. Süß, größer, Ärger.\n")
QUICK = {"seq_len": 48, "batch_size": 8, "steps_per_epoch": 3, "learning_rate": 1e-3,
         "warmup_steps": 1, "samples_per_epoch": 0, "verbose": 0, "val_fraction": 0.2}


def test_grow_vocab_adds_new_characters_after_the_old_ids():
    v = CharVocab.build("abc abc")
    grown, added, mapped = grow_vocab(v, "abc äöü ä", "add")
    assert added == sorted("äöü") and mapped == 0
    assert grown.tokens[: len(v)] == v.tokens  # old ids keep their meaning
    assert list(grown.encode("abc")) == list(v.encode("abc"))
    same, added, mapped = grow_vocab(v, "abc äöü ä", "map")
    assert same is v and added == [] and mapped == 4  # four occurrences become unknown
    rare, added, _ = grow_vocab(v, "abc äöü ä", "add", min_count=2)
    assert added == ["ä"]


def test_grown_model_computes_the_same_logits_for_old_tokens():
    v = CharVocab.build("hello world")
    src = build_model(ModelConfig(vocab_size=len(v), embed_dim=6, units=8, layers=2))
    dst = build_model(ModelConfig(vocab_size=len(v) + 3, embed_dim=6, units=8, layers=2))
    transfer_weights(src, dst, len(v))
    x = np.array([list(v.encode("hello wor"))], dtype="int32")
    a = keras.ops.convert_to_numpy(src(x))
    b = keras.ops.convert_to_numpy(dst(x))
    np.testing.assert_allclose(b[..., : len(v)], a, atol=1e-5)
    emb_old = src.get_layer("embedding").get_weights()[0]
    emb_new = dst.get_layer("embedding").get_weights()[0]
    np.testing.assert_allclose(emb_new[len(v):], np.repeat(emb_old.mean(0, keepdims=True), 3, 0),
                               atol=1e-6)


def test_architecture_settings_are_refused_dropout_is_not(sonnets):
    with pytest.raises(FineTuneError, match=r"units=64 \(the model has 512\).*architecture"):
        start_from("novels_char", sonnets, {"units": 64})
    s = start_from("novels_char", GERMAN, {"units": 512, "dropout": 0.25})
    assert s.model.get_layer("rnn_0").units == 512
    assert s.info["added"] >= 4 and "ü" in s.vocab.index  # ä ö ü ß ... added
    assert s.info["vocab_before"] == len(zoo.load("novels_char").vocab)


def test_fine_tuning_starts_from_what_the_model_knows(tmp_path, sonnets):
    """Before any real training, the pretrained start already predicts English far better
    than chance, and better than random weights of the same shape."""
    tc = {**QUICK, "epochs": 1, "steps_per_epoch": 1, "learning_rate": 1e-9}
    tuned = train(sonnets, tmp_path / "ft", init_from="novels_char", train_config=tc)
    scratch = train(sonnets, tmp_path / "scratch", {"units": 512, "layers": 2, "embed_dim": 64},
                    tc, vocab=tuned.vocab)
    assert tuned.best_val_loss < 2.6 < scratch.best_val_loss, (tuned.best_val_loss,
                                                               scratch.best_val_loss)
    cfg = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert cfg["init_from"]["name"] == "novels_char" and cfg["model"]["units"] == 512


def test_fine_tuned_run_resumes_and_keeps_its_origin(tmp_path):
    text = GERMAN * 12
    d = tmp_path / "run"
    r1 = train(text, d, init_from="novels_char", train_config={**QUICK, "epochs": 1})
    added = r1.vocab.tokens[len(zoo.load("novels_char").vocab):]
    assert "ß" in added
    r2 = train(text, d, init_from="novels_char", train_config={**QUICK, "epochs": 2})
    assert [h["epoch"] for h in r2.history] == [1, 2]
    assert r2.vocab == r1.vocab
    assert json.loads((d / "config.json").read_text())["init_from"]["added"] == len(added)


def test_word_level_model_grows_by_frequent_new_words(tmp_path):
    text = ("the zeppelin rose over the marsh and the zeppelin was gone . " * 30 + "\n")
    s = start_from("novels_word", text, new_tokens="add")
    assert "zeppelin" in s.vocab.index and s.info["added"] >= 1
    s_map = start_from("novels_word", text, new_tokens="map")
    assert "zeppelin" not in s_map.vocab.index and s_map.info["mapped_to_unknown"] >= 60


def test_cli_refuses_architecture_flags_in_one_line(tmp_path, capsys):
    corpus = tmp_path / "de.txt"
    corpus.write_text(GERMAN * 10)
    code = main(["train", str(corpus), "--init-from", "novels_char", "--units", "256",
                 "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: units=256") and err.count("\n") == 1
    assert not (tmp_path / "r" / "best.keras").exists()


def test_cli_fine_tunes_with_the_lower_learning_rate(tmp_path, capsys):
    corpus = tmp_path / "de.txt"
    corpus.write_text(GERMAN * 10)
    code = main(["train", str(corpus), "--init-from", "novels_char", "--run-dir",
                 str(tmp_path / "r"), "--epochs", "1", "--steps-per-epoch", "2", "--seq-len", "48",
                 "--batch-size", "8", "--samples-per-epoch", "0", "--val-fraction", "0.2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Starting from novels_char" in out and "added to the vocabulary" in out
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["train"]["learning_rate"] == 1e-3


def test_the_fine_tuning_learning_rate_is_a_default_a_given_one_wins():
    from helpers import finetune

    assert finetune.train_settings({}) == {"learning_rate": finetune.LEARNING_RATE}
    given = {"learning_rate": 5e-4, "epochs": 2}
    assert finetune.train_settings(given) == given and finetune.train_settings(given) is not given


def test_word_level_model_fine_tunes_and_exports(tmp_path):
    text = ("the zeppelin rose over the marsh , and the people of the town watched it go .\n"
            * 40)
    r = train(text, tmp_path / "run", init_from="novels_word",
              train_config={**QUICK, "seq_len": 16, "epochs": 1})
    assert r.vocab.kind == "word" and "zeppelin" in r.vocab.index
    bundle = zoo.export_run(tmp_path / "run", "zeppelin_word", zoo_dir=tmp_path / "zoo",
                            prompt="the")
    assert "Fine-tuned from `novels_word`" in (bundle.path / "README.md").read_text()
    again = zoo.load("zeppelin_word", zoo_dir=tmp_path / "zoo", backend=False)
    assert again.vocab == r.vocab


def test_a_run_folder_can_be_the_start(tmp_path, sonnets):
    first = train(sonnets, tmp_path / "a", {"units": 16, "embed_dim": 8, "layers": 1},
                  {**QUICK, "epochs": 1})
    s = start_from(tmp_path / "a", GERMAN)
    assert s.info["kind"] == "run" and s.model.get_layer("rnn_0").units == 16
    assert s.vocab.tokens[: len(first.vocab)] == first.vocab.tokens


def test_cli_fine_tunes_a_file_through_the_corpus_cache(tmp_path, capsys):
    """``--init-from`` on a file counts it for the grown vocabulary, encodes it with that
    vocabulary into the corpus cache, and a second run reuses the cached ids."""
    from helpers.textio import read_texts
    from helpers.vocab import load_vocab

    from .conftest import environ

    corpus = tmp_path / "de.txt"
    corpus.write_text(GERMAN * 10)
    args = ["train", str(corpus), "--init-from", "novels_char", "--run-dir", str(tmp_path / "r"),
            "--fresh", "--epochs", "1", "--steps-per-epoch", "1", "--seq-len", "48",
            "--batch-size", "8", "--samples-per-epoch", "0", "--val-fraction", "0.2"]
    enc = tmp_path / "enc"
    seen = []
    with environ(TEXTGEN_ENCODED=str(enc), TEXTGEN_CORPUS_CACHE=None):
        for _ in range(2):
            assert main(args) == 0
            assert "Starting from novels_char" in capsys.readouterr().out
            (npy,) = enc.glob("*.npy")
            st = npy.stat()
            seen.append((npy, st.st_ino, st.st_mtime_ns))
    assert seen[0] == seen[1]  # the second run mapped the first one's file, wrote nothing
    grown = load_vocab(tmp_path / "r" / "vocab.json")
    assert "ß" in grown.index
    np.testing.assert_array_equal(np.load(npy), grown.encode(read_texts(corpus)))
