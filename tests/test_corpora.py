"""The `corpus` command builds training texts from every source."""

import json

from helpers.cli import main

from .conftest import FIXTURES


def test_corpus_command_each_source(tmp_path, capsys, test_mirror):
    out = tmp_path / "c.txt"  # written again by each source: --force replaces it
    assert main(["corpus", "yelp", str(FIXTURES / "reviews.txt"), "--out", str(out)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["reviews"] == 3 and out.read_text().count("\x02") == 3
    assert main(["corpus", "tweets", str(FIXTURES / "tweets.js"), "--out", str(out),
                 "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["tweets_kept"] == 5  # the retweet is dropped
    assert main(["corpus", "hn", str(FIXTURES / "hn_jobs.json"), "--out", str(out),
                 "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["postings"] == 3
    assert main(["corpus", "python", "--max-chars", "100000", "--out", str(out),
                 "--force"]) == 0
    assert len(out.read_text()) == 100_000
    capsys.readouterr()
    url, _ = test_mirror
    assert main(["corpus", "gutenberg", "84", "--mirror", f"{url}/gutenberg", "--out", str(out),
                 "--force"]) == 0
    assert out.read_text().startswith("\x02Frankenstein;")


def test_text_source_refuses_binary(tmp_path, capsys):
    b = tmp_path / "b.bin"
    b.write_bytes(bytes(range(256)))
    assert main(["corpus", "text", str(b), "--out", str(tmp_path / "o.txt")]) == 2
    assert "binary" in capsys.readouterr().err
