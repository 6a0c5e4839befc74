import json
import re
import zipfile

import pytest

from helpers.errors import TextgenError
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


# --- every archive layout X/Twitter has shipped, as a file, a folder and a zip ------------

ARCHIVES = FIXTURES / "x_archives"
# layout folder -> (its tweet files, the ids it holds oldest first, retweet ids, reply ids)
LAYOUTS = {
    "grailbird": (["tweets.csv", "data/js/tweets/2013_01.js", "data/js/tweets/2013_02.js"],
                  ["300001", "300002", "300003", "300004"], {"300003"}, {"300002"}),
    "ytd-2018": (["tweet.js"], ["400001", "400002", "400003"], {"400002"}, set()),
    "ytd-2019": (["data/tweet.js", "data/tweet-part1.js"],
                 ["500001", "500002", "500003", "500004"], {"500003"}, {"500002"}),
    "ytd-2023": (["data/tweets.js", "data/tweets-part1.js"],
                 ["600001", "600002", "600003", "600004"], {"600002"}, {"600003"}),
}


def _zip(folder, out, prefix=""):
    """The folder as X/Twitter sends it: a .zip, the tree under ``prefix`` if given."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, prefix + f.relative_to(folder).as_posix())
    return out


def _check(tweets, layout):
    _, ids, rts, replies = LAYOUTS[layout]
    assert [t.id for t in tweets] == ids
    assert {t.id for t in tweets if t.is_retweet} == rts
    assert {t.id for t in tweets if t.is_reply} == replies
    dates = [t.created_at for t in tweets]
    assert all(d is not None and d.utcoffset() is not None for d in dates) and dates == sorted(dates)
    assert not any(t.is_deleted for t in tweets)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_layout_as_folder(layout):
    _check(load_tweets(ARCHIVES / layout), layout)


@pytest.mark.parametrize("prefix", ["", "twitter-2023-01-01-abc/"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_layout_as_zip(layout, prefix, tmp_path):
    z = _zip(ARCHIVES / layout, tmp_path / f"{layout}.zip", prefix)
    _check(load_tweets(z), layout)
    assert load_tweets(str(z)) == load_tweets(ARCHIVES / layout)  # same tweets, field by field


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_layout_as_files(layout):
    read = [load_tweets(ARCHIVES / layout / f) for f in LAYOUTS[layout][0]]
    assert all(read)
    # Each file alone is read whole; together (each id once) they are the archive.
    union = {t.id: t for part in read for t in part}
    _check(sorted(union.values(), key=lambda t: t.created_at), layout)


def test_grailbird_js_and_csv_agree():
    root = ARCHIVES / "grailbird"
    from_csv = load_tweets(root / "tweets.csv")
    from_js = [t for f in ("2013_01.js", "2013_02.js") for t in load_tweets(root / "data/js/tweets" / f)]
    assert from_csv == from_js  # ids, text (newline, &amp;), dates, retweet and reply flags
    assert from_csv[0].created_at.isoformat() == "2013-01-03T08:00:00+00:00"
    # Grailbird's retweet mark is its own field, not only the "RT @" of the text.
    assert load_tweets(root / "data/js/tweets/2013_02.js")[0].is_retweet
    assert filter_tweets(from_csv) == [
        "New year, new notebook. One line a day & keep it short.",
        "@alice the lighthouse walk was lovely, thank you!",
        "Soup, bread and a good story:\nthe perfect winter evening."]


def test_text_field_and_bare_objects():
    # The 2018 file has bare objects; one of them (and one in 2019's part 1) has only "text".
    old = load_tweets(ARCHIVES / "ytd-2018")
    assert old[-1].text == "Rain again. Good day for tea &amp; a crossword."
    assert old[0].created_at.isoformat() == "2018-03-05T10:00:00+00:00"
    assert load_tweets(ARCHIVES / "ytd-2019")[-1].text == (
        "Finished the puzzle: 1000 pieces &gt; 999 pieces.")


def test_parts_deduplicated():
    root = ARCHIVES / "ytd-2019" / "data"
    raw = [o for f in ("tweet.js", "tweet-part1.js")
           for o in json.loads(re.sub(r"^[^=]*=", "", (root / f).read_text()))]
    assert len(raw) == 5  # 500002 is in both parts
    tw = load_tweets(root.parent)
    assert [t.id for t in tw].count("500002") == 1 and len(tw) == 4
    assert filter_tweets(tw) == ["Morning swim, then pancakes.", "@dave yes, bring the kite!",
                                 "Finished the puzzle: 1000 pieces > 999 pieces."]


def test_deleted_tweets_only_when_asked(tmp_path):
    root = ARCHIVES / "ytd-2023"
    assert "600009" not in {t.id for t in load_tweets(root)}
    z = _zip(root, tmp_path / "a.zip", "twitter-2023-01-01-abc/")
    for src in (root, z):
        tw = load_tweets(src, deleted=True)
        assert [t.id for t in tw if t.is_deleted] == ["600009"] and len(tw) == 5
        assert [t.id for t in tw] == ["600001", "600002", "600009", "600003", "600004"]  # by date
    only = load_tweets(root / "data" / "deleted-tweets.js")  # a file named directly is read
    assert [t.id for t in only] == ["600009"] and only[0].is_deleted


def test_mac_zip_metadata_ignored(tmp_path):
    z = _zip(ARCHIVES / "ytd-2023", tmp_path / "mac.zip", "twitter-x/")
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr("__MACOSX/twitter-x/data/._tweets.js", b"\x00\x05\x16\x07\x00\x02\x00\x00")
        zf.writestr("twitter-x/data/._tweets-part1.js", b"\x00\x05\x16\x07\x00\x02\x00\x00")
    _check(load_tweets(z), "ytd-2023")


def test_naive_and_aware_dates_sort_together(tmp_path):
    (tmp_path / "tweets.csv").write_text("id,text,created_at\n9,older,2012-05-01 10:00:00\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tweets.js").write_text(
        (ARCHIVES / "ytd-2023" / "data" / "tweets.js").read_text())
    assert [t.id for t in load_tweets(tmp_path)] == ["9", "600001", "600002"]


def test_no_tweets_in_archive(tmp_path):
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("twitter-2023-01-01-abc/data/like.js", "window.YTD.like.part0 = []")
        zf.writestr("twitter-2023-01-01-abc/Your archive.html", "<html></html>")
    with pytest.raises(CorpusError) as e:
        load_tweets(empty)
    msg = str(e.value)
    assert isinstance(e.value, TextgenError) and "\n" not in msg and str(empty) in msg
    for name in ("data/tweets.js", "tweet.js", "data/js/tweets/YYYY_MM.js", "tweets.csv"):
        assert name in msg
    only_deleted = tmp_path / "deleted.zip"
    with zipfile.ZipFile(only_deleted, "w") as zf:
        zf.write(ARCHIVES / "ytd-2023" / "data" / "deleted-tweets.js", "data/deleted-tweets.js")
    with pytest.raises(CorpusError, match="deleted=True"):
        load_tweets(only_deleted)
    assert [t.id for t in load_tweets(only_deleted, deleted=True)] == ["600009"]
    with pytest.raises(CorpusError, match="does not exist"):
        load_tweets(tmp_path / "missing.zip")
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "tweets.js").write_text('window.YTD.tweets.part0 = [ {"tweet": {"full_')
    with pytest.raises(CorpusError, match="not valid JSON"):
        load_tweets(tmp_path / "cut")
    with pytest.raises(CorpusError, match="No tweets"):  # a JS file of the archive without tweets
        load_tweets(ARCHIVES / "ytd-2019" / "data" / "like.js")
