"""The data registry: every entry matches the test mirror, downloads are cached, checked,
atomic, and a missing file is one clear message; all over loopback HTTP."""

import hashlib
import re

import pytest

from helpers import datasets
from helpers.cli import main
from helpers.datasets import DataUnavailable

from .conftest import MIRROR_ADDITIONS, SHARED, USER_DATA, environ, shared_path
from .httpserve import refusing_url, serve_folder

pytestmark = pytest.mark.core


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTGEN_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def test_registry_entries_are_well_formed():
    assert set(datasets.names()) >= {"tinyshakespeare", "gutenberg-1342", "gutenberg-84",
                                     "gutenberg-11", "gutenberg-catalog", "hn-jobs-2026",
                                     "tweets-milahu104", "yelp-100"}
    for ds in datasets.REGISTRY.values():
        assert ds.licence and ds.description and ds.source.startswith("https://")
        for f in ds.files:
            assert not f.path.startswith("/") and ".." not in f.path.split("/")
            assert f.url.startswith("https://")
            if f.sha256 is None:
                assert ds.check is not None, f"{ds.name}: no checksum and no check"
            else:
                assert re.fullmatch(r"[0-9a-f]{64}", f.sha256) and f.size > 0
                assert re.search(r"/[0-9a-f]{40}/", f.url), f"{f.url} is not pinned to a commit"


FILES = [(ds, f) for ds in datasets.REGISTRY.values() for f in ds.files]


@pytest.mark.parametrize("ds,f", FILES, ids=[f.path for _, f in FILES])
def test_every_entry_matches_the_test_mirror(ds, f):
    """The registry's sizes and checksums are those of the mirror's files (which are
    byte-for-byte copies of the pinned sources, see PROVENANCE.md). A file the mirror
    does not hold yet is checked in the project's data/ cache instead, else skipped."""
    mirror = shared_path()
    path = mirror.joinpath(*f.path.split("/"))
    for other in (MIRROR_ADDITIONS, USER_DATA):
        if not path.is_file():
            path = other.joinpath(*f.path.split("/"))
    if not path.is_file():
        pytest.skip(f"{f.path} is not in the test mirror nor in data/ (`make data` "
                    "downloads it)")
    data = path.read_bytes()
    if f.sha256:
        assert (len(data), hashlib.sha256(data).hexdigest()) == (f.size, f.sha256), path
    else:
        assert ds.check(data[:4096]) is None


def test_fetch_downloads_once_and_verifies(test_mirror, cache, monkeypatch):
    url, requests = test_mirror
    monkeypatch.setenv("TEXTGEN_MIRROR", url)
    requests.clear()
    path = datasets.fetch("yelp-100", progress=False)
    assert path == cache / "yelp" / "yelp_100_3.txt"
    assert path.read_bytes() == (SHARED / "yelp" / "yelp_100_3.txt").read_bytes()
    assert requests == ["/yelp/yelp_100_3.txt"]
    assert datasets.fetch("yelp-100", progress=False) == path and len(requests) == 1  # cached
    folder = datasets.fetch("hn-jobs-2026", progress=False)
    assert folder == cache / "hn_jobs" / "gantryops-hn-jobs-data" / "runs"
    assert len(list(folder.rglob("raw.json"))) == 5
    rows = {r["name"]: r for r in datasets.status()}
    assert rows["yelp-100"]["cached"] and not rows["tinyshakespeare"]["cached"]


def test_corrupt_cache_entry_is_downloaded_again(test_mirror, cache, monkeypatch):
    url, requests = test_mirror
    monkeypatch.setenv("TEXTGEN_MIRROR", url)
    path = datasets.fetch("yelp-100", progress=False)
    path.write_text("{tampered}")
    requests.clear()
    assert hashlib.sha256(datasets.fetch("yelp-100", progress=False).read_bytes()).hexdigest() \
        == datasets.get("yelp-100").files[0].sha256
    assert requests == ["/yelp/yelp_100_3.txt"]


def test_wrong_bytes_are_refused_and_nothing_is_cached(tmp_path, cache, monkeypatch):
    bad = tmp_path / "bad" / "yelp"
    bad.mkdir(parents=True)
    (bad / "yelp_100_3.txt").write_text("<html>Rate limit exceeded</html>")
    with serve_folder(tmp_path / "bad") as (url, _):
        monkeypatch.setenv("TEXTGEN_MIRROR", url)
        with pytest.raises(DataUnavailable, match="checksum mismatch") as err:
            datasets.fetch("yelp-100", progress=False, retries=1)
    msg = str(err.value)
    assert f"{url}/yelp/yelp_100_3.txt" in msg and "TEXTGEN_MIRROR" in msg
    assert "make data" in msg and "yelp/yelp_100_3.txt" in msg
    assert not [p for p in cache.rglob("*") if p.is_file()]  # no partial or wrong file


def test_unreachable_mirror_is_one_clear_message(cache, monkeypatch):
    url = refusing_url()
    monkeypatch.setenv("TEXTGEN_MIRROR", url)
    with pytest.raises(DataUnavailable) as err:
        datasets.fetch("tinyshakespeare", progress=False, retries=0)
    msg = str(err.value)
    assert "Connection refused" in msg and f"{url}/tinyshakespeare/input.txt" in msg
    assert "\n" not in msg and "Traceback" not in msg
    assert not (cache / "tinyshakespeare" / "input.txt").exists()


def test_mirror_credentials_are_never_shown(cache, monkeypatch):
    url = refusing_url().replace("http://", "http://teacher:s3cret-pw@")
    monkeypatch.setenv("TEXTGEN_MIRROR", url)
    with pytest.raises(DataUnavailable) as err:
        datasets.fetch("yelp-100", progress=False, retries=0)
    assert "s3cret-pw" not in str(err.value) and "teacher:***@" in str(err.value)
    assert datasets.redact_url("https://u:p@h:1/x") == "https://u:***@h:1/x"
    assert datasets.redact_url("https://h/x") == "https://h/x"
    assert datasets.redact_url("https://tok3n@h/x") == "https://***@h/x"  # a token alone
    assert datasets.redact_url("u:p@h:99999999999/x") == "u:***@h:99999999999/x"
    assert datasets.redact_url("http://u:p@ss@H/x") == "http://u:***@H/x"


def test_a_folder_works_as_a_mirror(cache, monkeypatch):
    monkeypatch.setenv("TEXTGEN_MIRROR", str(shared_path()))
    path = datasets.fetch("yelp-100", progress=False)
    assert path.read_bytes() == (SHARED / "yelp" / "yelp_100_3.txt").read_bytes()


def test_unpinned_file_is_checked_by_its_content(tmp_path, cache, monkeypatch):
    page = tmp_path / "m" / "gutenberg" / "cache" / "epub" / "feeds"
    page.mkdir(parents=True)
    (page / "pg_catalog.csv").write_text("<!DOCTYPE html><html>captcha</html>")
    monkeypatch.setenv("TEXTGEN_MIRROR", str(tmp_path / "m"))
    with pytest.raises(DataUnavailable, match="header"):
        datasets.fetch("gutenberg-catalog", progress=False, retries=0)
    assert not (cache / "gutenberg" / "cache" / "epub" / "feeds" / "pg_catalog.csv").exists()


def test_cli_data_commands(test_mirror, cache, monkeypatch, capsys):
    url, _ = test_mirror
    monkeypatch.setenv("TEXTGEN_MIRROR", url)
    assert main(["data", "fetch", "yelp-100"]) == 0
    assert "yelp-100: " in capsys.readouterr().out
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"yelp-100 +yes", out) and re.search(r"tinyshakespeare +no", out)
    assert "non-commercial" in out
    assert main(["data", "path", "tinyshakespeare"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "tinyshakespeare" / "input.txt")
    assert main(["data", "fetch", "no-such-set"]) == 2
    assert "No data set named 'no-such-set'" in capsys.readouterr().err
    with environ(TEXTGEN_MIRROR=refusing_url()):
        assert main(["data", "fetch", "tinyshakespeare"]) == 0  # cached by `path`: no download
        assert main(["data", "fetch", "gutenberg-84"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: gutenberg/cache/epub/84/pg84.txt is not in")
    assert "Traceback" not in err  # progress bar lines, then the one error line
