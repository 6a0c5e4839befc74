import pytest

from helpers.reviews import as_training_text, load_reviews
from helpers.textio import CorpusError

from .conftest import FIXTURES


def test_small_fixture():
    assert load_reviews(FIXTURES / "reviews.txt") == [
        "great little bakery.\nthe rye bread is worth the queue.",
        "slow service but friendly staff; we will be back.",
        "closed on mondays, which nobody told us.\n\nstill five stars for the soup."]


def test_yelp_reviews(fetch_data):
    reviews = load_reviews(fetch_data("yelp-100"))
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
