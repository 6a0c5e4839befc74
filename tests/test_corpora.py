"""The `corpus` command builds training texts from every source."""

import json

from helpers.cli import main

from .conftest import shared_path
from .httpserve import serve_folder


def test_corpus_command_each_source(tmp_path, capsys):
    out = tmp_path / "c.txt"
    assert main(["corpus", "yelp", str(shared_path("yelp", "yelp_100_3.txt")), "--out", str(out)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["reviews"] == 100 and out.read_text().count("\x02") == 100
    assert main(["corpus", "tweets", str(shared_path("tweets", "twitter_archive_milahu104")),
                 "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["tweets_kept"] > 1500
    assert main(["corpus", "hn", str(shared_path("hn_jobs")), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["postings"] == 1711
    assert main(["corpus", "python", "--max-chars", "100000", "--out", str(out)]) == 0
    assert len(out.read_text()) == 100_000
    capsys.readouterr()
    with serve_folder(shared_path("gutenberg")) as (url, _):
        assert main(["corpus", "gutenberg", "84", "--mirror", url, "--out", str(out)]) == 0
    assert out.read_text().startswith("\x02Frankenstein;")


def test_text_source_refuses_binary(tmp_path, capsys):
    b = tmp_path / "b.bin"
    b.write_bytes(bytes(range(256)))
    assert main(["corpus", "text", str(b), "--out", str(tmp_path / "o.txt")]) == 2
    assert "binary" in capsys.readouterr().err
