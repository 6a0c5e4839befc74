"""Every corpus the series uses, by name: where it comes from, its size, checksum and licence.

>>> from helpers import datasets
>>> datasets.fetch("tinyshakespeare")           # downloads once into data/   # doctest: +SKIP
PosixPath('.../data/tinyshakespeare/input.txt')
>>> datasets.get("tinyshakespeare")             # what it is, where from      # doctest: +SKIP

:func:`fetch` downloads a data set once into ``data/`` (``$TEXTGEN_DATA``) with a
progress bar, retries, a SHA-256 check and an atomic rename (a killed download leaves
nothing half-written), using `pooch <https://www.fatiando.org/pooch>`_, the registry
library of SciPy and scikit-image. Files are pinned: each comes from a fixed commit of
a public repository, so every reader gets the bytes the committed notebooks saw.

``$TEXTGEN_MIRROR`` sends every download to a mirror instead: a URL or a folder that
holds the files under the same relative paths as ``data/`` (``tinyshakespeare/input.txt``,
``gutenberg/cache/epub/84/pg84.txt``...). After ``make data``, ``data/`` itself is such a
mirror: ``python -m http.server -d data 8000`` on the teacher's laptop, and
``TEXTGEN_MIRROR=http://<teacher>:8000`` in the room.

When a file cannot be had, :class:`DataUnavailable` says which URL was tried, where the
file would be cached and how to get it (``make data``, ``TEXTGEN_MIRROR``).
"""

from __future__ import annotations

import re
import shutil
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .errors import TextgenError
from .limits import MAX_DOWNLOAD_BYTES, CappedWriter, InputRefused, open_regular
from .textio import display_path, sha256_file

__all__ = ["DataUnavailable", "RemoteFile", "Dataset", "REGISTRY", "names", "get", "fetch",
           "status", "redact_url"]

USER_AGENT = "textgen-workshop/0.1 (educational) pooch"


class DataUnavailable(TextgenError, RuntimeError):
    """A data file is not in the cache and could not be downloaded. The message says
    which URL was tried, where the file would be cached, and how to get it."""


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?([^/?#]*@)", re.S)


def redact_url(url: str) -> str:
    """``url`` fit for a message: a mirror or server URL may carry credentials, and
    messages must never show them. ``http://user:secret@host`` -> ``http://user:***@host``;
    a user name alone (often a token) -> ``http://***@host``; also without a scheme, and
    where the port does not parse (no ``urlsplit``, which raises on those)."""
    m = _USERINFO.match(url)
    if m is None:
        return url
    # the match runs to the netloc's last "@", as urlsplit's does: a password with an
    # unescaped "@" in it is hidden whole
    user, colon, _ = m.group(2)[:-1].partition(":")
    hidden = f"{user}:***@" if colon else "***@"
    return (m.group(1) or "") + hidden + url[m.end():]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set.

    ``path`` is where it lives under ``data/`` and on a mirror; ``url`` its canonical
    public source (pinned to a commit where the source is a git repository); ``sha256``
    None only where the source changes by design (Gutenberg's daily catalog), which the
    data set's ``check`` then validates instead.
    """

    path: str
    url: str
    sha256: str | None
    size: int | None

    def local(self) -> Path:
        return paths.data_dir() / self.path

    def is_cached(self) -> bool:
        p = self.local()
        return p.is_file() and (self.sha256 is None or sha256_file(p) == self.sha256)


@dataclass(frozen=True)
class Dataset:
    """A named data set: one file or several, with what a user needs to know about it."""

    name: str
    description: str
    licence: str
    source: str  # a page about it, for people
    files: tuple[RemoteFile, ...]
    # for files without a checksum: returns what is wrong with the first bytes, or None
    check: Callable[[bytes], str | None] | None = field(default=None, repr=False)

    @property
    def size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if None in sizes else sum(sizes)

    def local(self) -> Path:
        """Where :func:`fetch` puts it: the file, or the folder that holds all its files."""
        if len(self.files) == 1:
            return self.files[0].local()
        parts = [Path(f.path).parts for f in self.files]
        common = []
        for level in zip(*parts, strict=False):
            if len(set(level)) != 1:
                break
            common.append(level[0])
        return paths.data_dir().joinpath(*common)

    def is_cached(self) -> bool:
        return all(f.is_cached() for f in self.files)

    def __repr__(self) -> str:
        size = f"{self.size / 1e6:.1f} MB" if self.size else "size varies"
        return (f"Dataset({self.name!r}, {len(self.files)} file(s), {size}, "
                f"licence: {self.licence}; {self.description})")


def _gh(repo: str, commit: str, path: str) -> str:
    """The raw URL of ``path`` in a public GitHub repository at a fixed commit."""
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def _catalog_check(head: bytes) -> str | None:
    if not head.lstrip(b"\xef\xbb\xbf").startswith(b"Text#,Type,Issued,Title,Language,Authors"):
        return ("it does not start with the catalog's header (Text#,Type,Issued,Title,...): "
                "an error page, or a wrong mirror?")
    return None


_PG_LICENCE = "public domain in the USA (the Project Gutenberg licence header is kept)"
_HN = ("gantryops/hn-jobs-data", "de8c3aee06b22528e020a7155b4339af5f99b0ae")
_HN_FILES = (
    ("2026-01-01", "78f2ae71a73f014133732ecbe60c0d84331bb95c2d1c616ad8234278743bcb16", 381835),
    ("2026-02-01", "3df30864c48a44eeabc1312f4dffb1de250ff5059a6f66d4ff9c17da2048f98f", 604954),
    ("2026-03-15", "8e9688c1218a26145c35457130ead103e387ec816021b0b3ed4ecf0fb66675f6", 504908),
    ("2026-04-28", "ebac980195d542ee20151e7886bcac48d5af8d6d0fa8156102298f0ea952102b", 552020),
    ("2026-05-05", "013085888f5f725fa685e34895694101b6a06c5a17418c70b3822255a2d87ccc", 440440),
)

REGISTRY: dict[str, Dataset] = {d.name: d for d in (
    Dataset(
        "tinyshakespeare",
        "40,000 lines of Shakespeare's plays, the classic char-rnn corpus (notebooks 04, 06)",
        "public-domain text; the collection is from karpathy/char-rnn (MIT)",
        "https://github.com/karpathy/char-rnn",
        (RemoteFile("tinyshakespeare/input.txt",
                    _gh("karpathy/char-rnn", "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e",
                        "data/tinyshakespeare/input.txt"),
                    "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1115394),),
    ),
    Dataset(
        "gutenberg-11", "Alice's Adventures in Wonderland, 2016 edition (notebooks 01, 07)",
        _PG_LICENCE, "https://www.gutenberg.org/ebooks/11",
        (RemoteFile("gutenberg/cache/epub/11/pg11.txt",
                    _gh("GITenberg/Alice-s-Adventures-in-Wonderland_11",
                        "7f18748e114b994d5d9454d5793581bc0b9cf9d7", "11-0.txt"),
                    "49a0b2726606e1290ac03a63978fa1dd1bd38a8d805704d98265f393533ea094", 173595),),
    ),
    Dataset(
        "gutenberg-84", "Frankenstein, 2018 edition (notebook 01)",
        _PG_LICENCE, "https://www.gutenberg.org/ebooks/84",
        (RemoteFile("gutenberg/cache/epub/84/pg84.txt",
                    _gh("IpgGitCode/Vica9780", "89b2c79f069faf83bd21262c4b8e9873f0d8f4fa",
                        "84-0.txt"),
                    "c29a4f56dd91aa894a3f17d5f96b356ccb499e3e2c5a27964de911845e39efab", 450783),),
    ),
    Dataset(
        "gutenberg-1342", "Pride and Prejudice, 2023 edition (notebooks 01, 07)",
        _PG_LICENCE, "https://www.gutenberg.org/ebooks/1342",
        (RemoteFile("gutenberg/cache/epub/1342/pg1342.txt",
                    _gh("RU-ECE/ECE451-Parallel", "c58dca3a6abedd8041057571c247e9a393cc3b4d",
                        "data/pg1342.txt"),
                    "4d32e44d62c944d85f2634c4654d10ab097051eca75c77673a061c923bc5406b", 772448),),
    ),
    Dataset(
        "gutenberg-19778",
        "Alice's Abenteuer im Wunderland, Antonie Zimmermann's German translation, 2011 "
        "edition: a new language (ä ö ü ß, German words) for the fine-tuning benchmark, "
        "which starts from an English model",
        _PG_LICENCE, "https://www.gutenberg.org/ebooks/19778",
        (RemoteFile("gutenberg/cache/epub/19778/pg19778.txt",
                    _gh("OneDeadKey/kalamine-corpus", "02de9f971164c19b1f1f42df71bb450816fdbab3",
                        "corpus/gutenberg/de_alice.txt"),
                    "e06b9f4467efddd065f5cc41469b1876c479c5e252dfe089b9629abcfaa30034", 188052),),
    ),
    Dataset(
        "gutenberg-12242",
        "Poems by Emily Dickinson, Three Series, Complete (ed. Mabel Loomis Todd and T. W. "
        "Higginson), Project Gutenberg's 2004 edition in ISO-8859-1 (12242-8.txt, as "
        "GITenberg imported it from Project Gutenberg; gutenberg.org's file at this path "
        "is now a later re-release with a new header): 446 short poems, one document each "
        "(helpers.poems), for the word-level model poems_word (notebook 08)",
        _PG_LICENCE, "https://www.gutenberg.org/ebooks/12242",
        (RemoteFile("gutenberg/cache/epub/12242/pg12242.txt",
                    _gh("GITenberg/Poems-by-Emily-Dickinson-Three-Series-Complete_12242",
                        "ce942566457518dada8b133d620aaa34376a95ee", "12242-8.txt"),
                    "3cd508fabaa362813b95809b2c09d43c379e5d5d448077dbf37b55658f4c1d97", 208198),),
    ),
    Dataset(
        "gutenberg-catalog",
        "Project Gutenberg's catalog: id, title, authors, language, subjects of every book "
        "(notebook 01). Updated daily, so it has no fixed checksum: its header is checked",
        "Project Gutenberg catalog data, free to reuse",
        "https://www.gutenberg.org/ebooks/offline_catalogs.html",
        (RemoteFile("gutenberg/cache/epub/feeds/pg_catalog.csv",
                    "https://www.gutenberg.org/cache/epub/feeds/pg_catalog.csv", None, None),),
        check=_catalog_check,
    ),
    Dataset(
        "hn-jobs-2026",
        "1,711 Hacker News 'Who is hiring?' postings, January to May 2026, as collected by "
        "gantryops/hn-jobs-data (notebook 02)",
        "© their authors (HN comments); for learning only: no model trained on them is "
        "distributed",
        "https://github.com/gantryops/hn-jobs-data",
        tuple(RemoteFile(f"hn_jobs/gantryops-hn-jobs-data/runs/{day}/raw.json",
                         _gh(*_HN, f"runs/{day}/raw.json"), sha, size)
              for day, sha, size in _HN_FILES),
    ),
    Dataset(
        "tweets-milahu104",
        "2,045 tweets of @milahu104 as an X 'Download your data' archive file "
        "(notebooks 03, 06)",
        "MIT (the account owner's own repository)",
        "https://github.com/milahu/twitter-milahu104",
        (RemoteFile("tweets/twitter_archive_milahu104/data/tweets.js",
                    _gh("milahu/twitter-milahu104", "959ab2a019c034d1b758ab8cca72d19afe77e934",
                        "data/tweets.js"),
                    "2eda50fb7c0ac8a62e1a21eba61ee6969a19570c0927e9f0e5c2aa56d8ba8c09", 3578794),),
    ),
    Dataset(
        "yelp-100",
        "100 Yelp reviews, each wrapped in {...}, from IBM's Keras code pattern (notebook 03)",
        "Yelp dataset terms: non-commercial, academic use",
        "https://github.com/MadisonJMyers/"
        "Training-a-Deep-Learning-Language-Model-Using-Keras-and-Tensorflow",
        (RemoteFile("yelp/yelp_100_3.txt",
                    _gh("MadisonJMyers/"
                        "Training-a-Deep-Learning-Language-Model-Using-Keras-and-Tensorflow",
                        "a1934921e827292e78542a2b824aecbe6e43c773", "data/yelp_100_3.txt"),
                    "9a76ad3cb8b8fd0e054cf2da6d614fe74b2b41c24f8a3386e22aee0e2dfbc0d8", 71250),),
    ),
)}


def names() -> list[str]:
    """The names of every registered data set."""
    return sorted(REGISTRY)


def get(name: str) -> Dataset:
    """The registry entry for ``name`` (a ``KeyError`` listing the names if unknown)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"No data set named {name!r}; known: {', '.join(names())}.") from None


def _source_url(f: RemoteFile) -> str:
    m = paths.mirror()
    return f"{m}/{f.path}" if m else f.url


def _is_folder(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in ("", "file") or (
        len(url) > 1 and url[1] == ":")  # a Windows drive letter


def _budget(f: RemoteFile) -> int:
    """The most bytes a download of ``f`` may have: the registry's size where it knows
    it (a pinned file), else :data:`helpers.limits.MAX_DOWNLOAD_BYTES`."""
    return f.size if f.size is not None else MAX_DOWNLOAD_BYTES


def _capped(downloader, budget: int, shown: str):
    """``downloader`` (a pooch downloader) writing through a
    :class:`helpers.limits.CappedWriter`: never more than ``budget`` bytes."""
    def download(url: str, output_file, pooch_obj=None, check_only: bool = False):
        if check_only:
            return downloader(url, output_file, pooch_obj, check_only=True)
        with open(output_file, "w+b") as fh:
            # DataUnavailable, not a ValueError: pooch would retry those, and the same
            # bytes would come again
            return downloader(url, CappedWriter(fh, budget, shown, error=DataUnavailable,
                                                hint="Is the mirror (TEXTGEN_MIRROR) right?"),
                              pooch_obj)
    return download


def _copy_from_folder(url: str, output_file, pooch_obj=None, check_only: bool = False):
    """A pooch downloader for a mirror that is a folder (a USB stick, a shared drive):
    a regular file only (a FIFO or a device there would never end), copied in chunks."""
    src = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path) if url.startswith("file:")
               else url)
    if check_only:
        return src.is_file()
    try:
        fh = open_regular(src, 1 << 62)  # the size is the writer's to cap
    except InputRefused as e:
        raise DataUnavailable(f"the mirror's file cannot be used: {e}") from None
    with fh:
        if hasattr(output_file, "write"):
            shutil.copyfileobj(fh, output_file)
        else:
            with open(output_file, "wb") as out:
                shutil.copyfileobj(fh, out)
    return None


def _how_to_get(f: RemoteFile, url: str, reason: str) -> str:
    where = "the mirror" if paths.mirror() else "its source"
    return (f"{f.path} is not in {display_path(paths.data_dir())}/ and could not be downloaded "
            f"from {where} {redact_url(url)} ({reason}). To get it: run `make data` where "
            f"there is a network, or set TEXTGEN_MIRROR to a mirror (a URL or a folder laid "
            f"out like data/), or copy the file to {display_path(f.local())}.")


def _fetch_file(ds: Dataset, f: RemoteFile, progress: bool, retries: int, timeout: float) -> Path:
    import pooch
    import requests

    target = f.local()
    if f.is_cached() and (ds.check is None or _check(ds, target) is None):
        return target
    url = _source_url(f)
    bar: bool | object = False
    if _is_folder(url):
        downloader = _copy_from_folder
    else:
        if progress:  # a plain text bar (it reads the same in a terminal, a log, a notebook)
            from tqdm import tqdm

            # (pooch sets the real total from Content-Length; a falsy bar would switch it off)
            bar = tqdm(total=f.size or 1, desc=f"{ds.name}: {Path(f.path).name}", unit="B",
                       unit_scale=True, unit_divisor=1024, ncols=90, ascii=True)
        downloader = pooch.HTTPDownloader(progressbar=bar, timeout=timeout,
                                          headers={"User-Agent": USER_AGENT})
    # never more than the registry's size (or the stated maximum): stopped as it streams
    downloader = _capped(downloader, _budget(f), f"{redact_url(url)}")
    # pooch downloads to a temporary file beside the target, checks the hash, then renames
    # it: a failed or killed download leaves the cache as it was
    store = pooch.create(path=paths.data_dir(), base_url="", registry={
        f.path: f"sha256:{f.sha256}" if f.sha256 else None}, urls={f.path: url},
        retry_if_failed=retries)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # its INFO lines print absolute machine paths
    try:
        if target.exists() and f.sha256 is None:
            target.unlink()  # failed its check above: fetch it again
        store.fetch(f.path, downloader=downloader)
    except requests.exceptions.HTTPError as e:
        code = e.response.status_code if e.response is not None else "?"
        raise DataUnavailable(_how_to_get(f, url, f"HTTP {code}")) from None
    except requests.exceptions.RequestException as e:
        raise DataUnavailable(_how_to_get(f, url, _network_reason(e))) from None
    except ValueError as e:  # pooch: the SHA-256 does not match
        raise DataUnavailable(_how_to_get(f, url, f"checksum mismatch: {e}")) from None
    except OSError as e:
        raise DataUnavailable(_how_to_get(f, url, f"{type(e).__name__}: {e.strerror or e}")
                              ) from None
    finally:
        logger.setLevel(level)
        if hasattr(bar, "close"):  # pooch closes it after a download, not after a failure
            bar.close()
    problem = _check(ds, target)
    if problem:
        target.unlink()
        raise DataUnavailable(_how_to_get(f, url, f"the file is not right: {problem}"))
    return target


def _network_reason(e: Exception) -> str:
    """The gist of a requests error ("Connection refused", "Name or service not known"),
    not its several lines of wrapped exceptions (which may also repeat the URL)."""
    import requests

    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(e))
    if m:
        return m.group(1).strip()
    return "timed out" if isinstance(e, requests.exceptions.Timeout) else type(e).__name__


def _check(ds: Dataset, target: Path) -> str | None:
    if ds.check is None:
        return None
    with open(target, "rb") as fh:
        return ds.check(fh.read(4096))


def fetch(name: str, progress: bool = True, retries: int = 2, timeout: float = 30.0) -> Path:
    """The local path of data set ``name``, downloading it first if it is not cached.

    Returns the file, or the folder holding all of a multi-file data set's files.
    Raises :class:`DataUnavailable` (with what to do) when it cannot be downloaded.
    ``retries``: further attempts after a failed download (waits 1 s, 2 s, ...).
    """
    ds = get(name)
    for f in ds.files:
        _fetch_file(ds, f, progress, retries, timeout)
    return ds.local()


def status() -> list[dict]:
    """One row per data set: name, files, size, cached or not, licence, description."""
    return [{"name": d.name, "files": len(d.files), "bytes": d.size, "cached": d.is_cached(),
             "path": display_path(d.local()), "licence": d.licence,
             "description": d.description} for d in (REGISTRY[n] for n in names())]
