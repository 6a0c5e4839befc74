"""Records of training runs: what a notebook saves is what it loads, with e-mail
addresses redacted and the device named; a missing record says how to make one."""

import json

import pytest

from helpers import records
from helpers.model import ModelConfig, build_model
from helpers.rundir import RunDir
from helpers.sample import Sample
from helpers.train import TrainResult
from helpers.vocab import CharVocab

pytestmark = pytest.mark.core


def test_redact_contacts_replaces_every_address_and_nothing_else():
    text = "mail jo.doe+jobs@example.co.uk or x@y.org; not @handle or a@b"
    assert records.redact_contacts(text) == "mail <email> or <email>; not @handle or a@b"


def test_a_saved_record_loads_back_with_its_run_and_redacted_samples(tmp_path):
    vocab = CharVocab.build("abc de@f.gh\n")
    model = build_model(ModelConfig(vocab_size=len(vocab), units=8, layers=1, embed_dim=4))
    run = RunDir(tmp_path / "run").create()
    run.add_samples([{"epoch": 1, "temperature": 0.5, "text": "write to me@example.org"}])
    history = [{"epoch": 1, "loss": 2.0, "val_loss": 1.9, "seconds": 3.5},
               {"epoch": 2, "loss": 1.5, "val_loss": 1.7, "seconds": 7.0}]
    result = TrainResult(model, vocab, run.path, history, 1.7, 7.0)
    sample = Sample(text=" or jo@example.com", prompt="ask")

    path = records.save_record("tiny", result, [sample], command="train tiny",
                               folder=tmp_path / "out")
    rec = records.load_record("tiny", folder=path.parent)

    assert rec == json.loads(path.read_text(encoding="utf-8"))
    assert rec["best"] == history[1] and rec["seconds"] == 7.0
    assert rec["model"]["units"] == 8 and rec["params"] > 0
    assert rec["samples"] == [{"text": "ask or <email>", "stopped_by": "length"}]
    assert rec["epoch_samples"][0]["text"] == "write to <email>"
    assert rec["device"] and rec["command"] == "train tiny"


def test_a_missing_record_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="USE_PRETRAINED = False"):
        records.load_record("nothing_here", folder=tmp_path)
