"""One entry point for every corpus source (used by ``python -m helpers corpus``).

Each source is one small builder below, named in :data:`SOURCES`: to add a source, write
its module, a builder here and its entry (the command line's choices come from it). The
builders import their module when called, so the command line can name the sources
without loading them.
"""

from __future__ import annotations

from collections.abc import Callable

from .textio import read_texts

__all__ = ["build_corpus", "SOURCES"]

Builder = Callable[[list[str], dict, "str | None", "int | None"], str]


def _gutenberg(inputs: list[str], stats: dict, mirror: str | None, max_chars) -> str:
    from .gutenberg import Gutenberg

    if not inputs:
        raise ValueError("Give book ids, e.g. 1342 84 11.")
    bad = [i for i in inputs if not (i.isascii() and i.isdigit())]
    if bad:
        raise ValueError(f"Gutenberg book ids are numbers, e.g. 1342 84 11; not {bad[0]!r}.")
    text, st = Gutenberg(mirror=mirror).corpus([int(i) for i in inputs])
    stats.update(st)
    return text


def _hn(inputs: list[str], stats: dict, mirror, max_chars) -> str:
    from .hackernews import as_training_text, load_dump

    posts = load_dump(inputs, stats)
    stats["postings"] = len(posts)
    return as_training_text(posts)


def _tweets(inputs: list[str], stats: dict, mirror, max_chars) -> str:
    from .tweets import as_training_text, filter_tweets, load_tweets

    tweets = [t for p in inputs for t in load_tweets(p)]
    texts = filter_tweets(tweets, retweets=False, strip_links=True, strip_mentions=True,
                          min_chars=10)
    stats.update({"tweets_read": len(tweets), "tweets_kept": len(texts)})
    return as_training_text(texts)


def _python(inputs: list[str], stats: dict, mirror, max_chars: int | None) -> str:
    from .pysource import python_corpus

    parts = [python_corpus(p or None, max_chars=max_chars) for p in (inputs or [None])]
    stats["folders"] = [p[1] for p in parts]
    return "\n\n\n".join(p[0] for p in parts)


def _yelp(inputs: list[str], stats: dict, mirror, max_chars) -> str:
    from .reviews import as_training_text, load_reviews

    reviews = [r for p in inputs for r in load_reviews(p)]
    stats["reviews"] = len(reviews)
    return as_training_text(reviews)


def _text(inputs: list[str], stats: dict, mirror, max_chars) -> str:
    return "\n\n".join(read_texts(p) for p in inputs)


# name -> (builder, whether it wraps each of its texts in start/end tokens: helpers.documents)
SOURCES: dict[str, tuple[Builder, bool]] = {
    "gutenberg": (_gutenberg, True), "hn": (_hn, True), "tweets": (_tweets, True),
    "python": (_python, False), "yelp": (_yelp, True), "text": (_text, False),
}


def build_corpus(source: str, inputs: list[str], mirror: str | None = None,
                 max_chars: int | None = None) -> tuple[str, dict]:
    """Training text and statistics from ``source``:

    * ``gutenberg``: book ids (each book wrapped in start/end tokens);
    * ``hn``: JSON dumps or folders of them (postings wrapped);
    * ``tweets``: an archive ``tweets.js``/folder, JSON or CSV (retweets dropped,
      links and leading mentions stripped, entities unescaped; tweets wrapped);
    * ``python``: folders of ``.py`` files, default the standard library;
    * ``yelp``: ``{...}``-wrapped review files;
    * ``text``: any text files or folders.
    """
    from .gutenberg import corpus_stats

    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}; choose from {', '.join(SOURCES)}.")
    if max_chars is not None and (isinstance(max_chars, bool) or not isinstance(max_chars, int)
                                  or max_chars < 1):
        raise ValueError(f"--max-chars (max_chars) must be a whole number of at least 1; not "
                         f"{max_chars!r}.")
    build, documents = SOURCES[source]
    stats: dict = {"source": source, "documents": documents}
    text = build(list(inputs), stats, mirror, max_chars)
    if max_chars:
        text = text[:max_chars]
    stats.update({k: v for k, v in corpus_stats(text).items() if k not in stats})
    return text, stats
