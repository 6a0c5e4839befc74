import pytest

from helpers.reviews import as_training_text, load_reviews
from helpers.textio import CorpusError

from .conftest import shared_path


def test_yelp_reviews():
    reviews = load_reviews(shared_path("yelp", "yelp_100_3.txt"))
    assert len(reviews) == 100
    assert reviews[0].startswith("probably the most overrated place in the phoenix area.")
    assert reviews[-1].endswith("the lines can be a little long at times but i think it's worth the wait.")
    assert sum("\n" in r for r in reviews) == 60  # raw newlines inside reviews are kept
    assert not any("{" in r or "}" in r for r in reviews)
    assert as_training_text(reviews).count("\x02") == 100


def test_crlf_and_no_reviews(tmp_path):
    p = tmp_path / "r.txt"
    p.write_bytes(b"{good food\r\nnice}{bad}")
    assert load_reviews(p) == ["good food\nnice", "bad"]
    (tmp_path / "n.txt").write_text("no braces here")
    with pytest.raises(CorpusError, match="no"):
        load_reviews(tmp_path / "n.txt")
