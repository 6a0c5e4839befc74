import json

import pytest

from helpers.textio import CorpusError
from helpers.tweets import as_training_text, filter_tweets, load_tweets

from .conftest import FIXTURES, shared_path

RAW_JS = None


@pytest.fixture(scope="module")
def archive(fetch_data):
    """The real archive, through the registry; loaded from its folder, as a user's unzipped
    "Download your data" archive would be (``<archive>/data/tweets.js``)."""
    global RAW_JS
    RAW_JS = fetch_data("tweets-milahu104")
    return load_tweets(RAW_JS.parent.parent)


@pytest.fixture(scope="module")
def trump():
    return load_tweets(shared_path("tweets", "trump_twitter_archive", "condensed_2017.json"))


def test_small_archive_file_and_csv_fixtures():
    tw = load_tweets(FIXTURES / "tweets.js")
    assert [t.id for t in tw] == ["1001", "1002", "1003", "1004", "1005", "1006"]
    assert [t.is_reply for t in tw] == [False, True, False, False, False, True]
    assert [t.is_retweet for t in tw] == [False, False, True, False, False, False]
    assert tw[0].created_at.isoformat() == "2026-01-05T09:00:00+00:00" and tw[0].lang == "en"
    kept = filter_tweets(tw, strip_links=True, strip_mentions=True)
    assert kept == ["Good morning! Baking bread today & reading a book.", "thanks, the recipe is at",
                    "Three things make a good evening:\nsoup, a story and a walk.",
                    "2 > 1 and the kettle is on.", "see you at the chess club on Friday!"]
    assert [t.text for t in load_tweets(FIXTURES / "tweets.csv")] == [
        "A line, with a comma", "Plain words here"]


def test_archive_tweets_js(archive):
    assert len(archive) == 2045
    assert archive[0].created_at.isoformat() < archive[-1].created_at.isoformat()
    assert archive[-1].id == "2029905358261502168"
    assert archive[-1].text == "@SamaHoole https://t.co/2UHqruPk7w"
    raw = json.loads(RAW_JS.read_text()[len("window.YTD.tweets.part0 = "):])
    replies = sum(bool(o["tweet"].get("in_reply_to_status_id_str")
                       or o["tweet"].get("in_reply_to_user_id_str")) for o in raw)
    assert sum(t.is_reply for t in archive) == replies == 1793
    assert sum(t.is_retweet for t in archive) == 239


def test_json_list(trump):
    assert len(trump) == 2605
    assert trump[0].text.startswith("TO ALL AMERICANS-\n#HappyNewYear &amp;")  # newline kept
    assert trump[-1].text.startswith("Will be leaving Florida for Washington (D.C.)")
    assert sum(t.is_retweet for t in trump) == 310


def test_filters_and_unescape(trump, archive):
    kept = filter_tweets(trump)
    assert len(kept) == 2605 - 310
    assert not any("&amp;" in t or "&gt;" in t for t in kept)  # unescaped, not dropped
    assert any(" & " in t for t in kept)
    no_links = filter_tweets(trump, links=False)
    assert all("http" not in t for t in no_links) and len(no_links) < len(kept)
    no_replies = filter_tweets(archive, replies=False)
    assert len(no_replies) == sum(not t.is_reply and not t.is_retweet for t in archive) == 13
    stripped = filter_tweets(archive, strip_links=True, strip_mentions=True, min_chars=10)
    assert all("https://t.co" not in t and not t.startswith("@") for t in stripped)
    raw = [t for t in filter_tweets(archive, unescape=False) if "&gt;" in t or "&amp;" in t]
    assert raw  # the archive really has escaped entities


def test_emoji_survive(archive):
    texts = filter_tweets(archive, retweets=True)
    assert any(any(ord(c) > 0xFFFF for c in t) for t in texts)  # astral-plane emoji


def test_training_text_wraps_each_tweet(trump):
    text = as_training_text(filter_tweets(trump)[:3])
    assert text.count("\x02") == 3 and text.count("\x03") == 3


def test_csv_and_bad_input(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('id,text,created_at,is_retweet\r\n1,"hello &amp; bye",2020-01-02 03:04:05,false\r\n'
                 '2,"RT @x: hi",2020-01-03 03:04:05,true\r\n')
    tw = load_tweets(p)
    assert [t.id for t in tw] == ["1", "2"] and tw[1].is_retweet
    assert filter_tweets(tw) == ["hello & bye"]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(CorpusError, match="'text'"):
        load_tweets(bad)
    with pytest.raises(CorpusError, match="tweets.js"):
        load_tweets(tmp_path)
