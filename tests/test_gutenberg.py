"""Gutenberg client against the test mirror's gutenberg/ folder served over loopback HTTP."""

import pytest

from helpers.datasets import DataUnavailable
from helpers.gutenberg import Gutenberg, GutenbergError, strip_headers
from helpers.textio import decode_text

from .conftest import shared_path
from .httpserve import refusing_url, serve_folder


@pytest.fixture(scope="module")
def mirror():
    root = shared_path("gutenberg")
    with serve_folder(root) as (url, requests):
        yield url, requests, root


@pytest.fixture
def client(mirror, tmp_path):
    url, requests, _ = mirror
    requests.clear()
    return Gutenberg(mirror=url, cache_dir=tmp_path, delay=0, retries=1)


# Expected first and last lines of each body, read off the files by hand.
ERAS = [
    ("cache/epub/100/pg100.txt", "The Complete Works of William Shakespeare", "  FINIS"),
    ("cache/epub/11/pg11.txt", "ALICE’S ADVENTURES IN WONDERLAND", "THE END"),
    ("cache/epub/1342/pg1342.txt", "[Illustration:", "TOOKS COURT, CHANCERY LANE, LONDON."),
    ("cache/epub/84/pg84.txt", "Frankenstein;", "lost in darkness and distance."),
    ("cache/epub/32941/pg32941.txt", "Title: 何處へ (Dokoe)",
     "片仮名の「ネ」をあらわす漢字の「子」に似た字は「ネ」の字で代用した。"),
    ("files/11/old/alice30.txt", "ALICE'S ADVENTURES IN WONDERLAND", "THE END"),
]


@pytest.mark.parametrize("path,first,last", ERAS, ids=[e[0].split("/")[-1] for e in ERAS])
def test_strip_headers_every_era(path, first, last):
    raw = shared_path("gutenberg", *path.split("/")).read_bytes()
    body = strip_headers(decode_text(raw))
    lines = body.split("\n")
    assert lines[0].strip() == first.strip()
    assert lines[-1].strip() == last.strip()
    low = body.lower()
    for licence in ("project gutenberg", "*** start of", "*** end of", "small print",
                    "gutenberg-tm", "end content note"):
        assert licence not in low, licence
    assert len(body) > 0.8 * len(decode_text(raw)) - 40_000  # no book text cut off


def test_strip_headers_leaves_plain_text_alone():
    assert strip_headers("\n\nJust a poem.\nTwo lines.\n\n") == "Just a poem.\nTwo lines."


def test_download_cache_and_reuse(client, mirror):
    _, requests, root = mirror
    text = client.text(84)
    assert text.startswith("Frankenstein;") and "\r" not in text
    assert requests == ["/cache/epub/84/pg84.txt"]
    again = Gutenberg(mirror=client.mirror, cache_dir=client.cache_dir, delay=0).text(84)
    assert again == text and len(requests) == 1  # the second call cost no network
    raw = client.raw(84)
    assert raw == (root / "cache/epub/84/pg84.txt").read_bytes()


def test_corrupt_cache_entry_is_downloaded_again(client, mirror):
    _, requests, _ = mirror
    client.text(11)
    (client.cache_dir / "11.txt").write_bytes(b"garbage")
    assert client.text(11).startswith("ALICE")
    assert len(requests) == 2


def test_older_url_layouts(tmp_path, mirror):
    """A mirror with only files/<id>/<id>-0.txt (the pre-2020 layout)."""
    src = shared_path("gutenberg", "cache", "epub", "84", "pg84.txt")
    (tmp_path / "m" / "files" / "84").mkdir(parents=True)
    (tmp_path / "m" / "files" / "84" / "84-0.txt").symlink_to(src)
    with serve_folder(tmp_path / "m") as (url, requests):
        g = Gutenberg(mirror=url, cache_dir=tmp_path / "cache", delay=0)
        assert g.text(84).endswith("lost in darkness and distance.")
        assert requests == ["/cache/epub/84/pg84.txt", "/files/84/84-0.txt"]


def test_unknown_id(client):
    with pytest.raises(GutenbergError, match="#999999 was not found"):
        client.text(999999)


def test_html_instead_of_text(mirror, tmp_path):
    url, _, _ = mirror
    g = Gutenberg(mirror=url + "/html", cache_dir=tmp_path, delay=0)
    with pytest.raises(GutenbergError, match="HTML page"):
        g.text(84)
    assert not list(tmp_path.iterdir())  # nothing cached


def test_network_down_message(tmp_path):
    g = Gutenberg(mirror=refusing_url(), cache_dir=tmp_path, delay=0, retries=1,
                  timeout=2)
    with pytest.raises(GutenbergError, match="TEXTGEN_MIRROR") as err:
        g.text(84)
    assert isinstance(err.value, DataUnavailable)  # a notebook shows it as one message


def test_catalog_search(client, mirror):
    _, requests, _ = mirror
    shakespeare = client.search(author="shakespeare")
    assert {e.id for e in shakespeare} >= {100, 1041, 1112, 1122, 1430, 7233}
    assert [e.id for e in client.search(title="hamlet")] == [1122, 1524]
    assert [e.id for e in client.search(author="shakespeare", language="de")] == [7233]
    german = client.search(language="de")[0]
    assert german.title.startswith("Maaß für Maaß") and "\n" not in german.title
    assert [e.id for e in client.search(subject="science fiction")] == [84]
    assert client.search(title="no such book") == []
    assert requests.count("/cache/epub/feeds/pg_catalog.csv") == 1  # downloaded once


def test_corpus_builder(client):
    text, stats = client.corpus([11, 84])
    assert text.startswith("\x02ALICE") and text.endswith("distance.\n\x03")
    assert text.count("\x02") == 2
    assert stats["chars"] == len(text) and stats["books"][84] > 400_000
    assert stats["distinct_chars"] > 60


def test_default_client_takes_registered_books_through_the_registry(test_mirror, tmp_path,
                                                                    monkeypatch):
    """Without a mirror argument, the books and catalog of notebook 01 come through the data
    registry (pinned, checksummed, cached in data/'s mirror layout) from $TEXTGEN_MIRROR,
    and any other book through the client itself from $TEXTGEN_MIRROR/gutenberg."""
    url, requests = test_mirror
    monkeypatch.setenv("TEXTGEN_MIRROR", url)
    monkeypatch.setenv("TEXTGEN_DATA", str(tmp_path))
    g = Gutenberg(delay=0)
    assert repr(g) == ("Gutenberg(mirror='$TEXTGEN_MIRROR/gutenberg', "
                       f"cache_dir='{tmp_path / 'gutenberg'}')")
    requests.clear()
    assert g.text(84).endswith("lost in darkness and distance.")
    assert (tmp_path / "gutenberg" / "cache" / "epub" / "84" / "pg84.txt").is_file()
    assert requests == ["/gutenberg/cache/epub/84/pg84.txt"]
    assert [e.id for e in g.search(title="frankenstein")] == [84]
    assert g.text(100).startswith("The Complete Works of William Shakespeare")  # unregistered
    assert requests[1:] == ["/gutenberg/cache/epub/feeds/pg_catalog.csv",
                            "/gutenberg/cache/epub/100/pg100.txt"]
    g.text(84)
    assert len(requests) == 3  # cached


def test_unwrap_paragraphs_joins_hard_wrapped_lines():
    """How novels_word's corpus was made (its card cites it): one line per paragraph."""
    from helpers.gutenberg import unwrap_paragraphs

    text = "It is a truth\n  universally acknowledged,\nthat a man\n\n\n\nHowever little\nknown.\n"
    assert unwrap_paragraphs(text) == ("It is a truth universally acknowledged, that a man\n\n"
                                       "However little known.")
