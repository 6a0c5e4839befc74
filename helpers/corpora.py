"""One entry point for every corpus source (used by ``python -m helpers corpus``)."""

from __future__ import annotations

from .gutenberg import Gutenberg, corpus_stats
from .textio import read_texts

__all__ = ["build_corpus", "SOURCES"]

SOURCES = ("gutenberg", "hn", "tweets", "python", "yelp", "text")


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
    # sources of many texts wrap each in start/end tokens (helpers.documents)
    stats: dict = {"source": source, "documents": source in ("gutenberg", "hn", "tweets", "yelp")}
    if source == "gutenberg":
        if not inputs:
            raise ValueError("Give book ids, e.g. 1342 84 11.")
        text, st = Gutenberg(mirror=mirror).corpus([int(i) for i in inputs])
        stats.update(st)
    elif source == "hn":
        from .hackernews import as_training_text, load_dump

        posts = load_dump(inputs, stats)
        text = as_training_text(posts)
        stats["postings"] = len(posts)
    elif source == "tweets":
        from .tweets import as_training_text, filter_tweets, load_tweets

        tweets = [t for p in inputs for t in load_tweets(p)]
        texts = filter_tweets(tweets, retweets=False, strip_links=True, strip_mentions=True,
                              min_chars=10)
        text = as_training_text(texts)
        stats.update({"tweets_read": len(tweets), "tweets_kept": len(texts)})
    elif source == "python":
        from .pysource import python_corpus

        parts = [python_corpus(p or None, max_chars=max_chars) for p in (inputs or [None])]
        text = "\n\n\n".join(p[0] for p in parts)
        stats["folders"] = [p[1] for p in parts]
    elif source == "yelp":
        from .reviews import as_training_text, load_reviews

        reviews = [r for p in inputs for r in load_reviews(p)]
        text = as_training_text(reviews)
        stats["reviews"] = len(reviews)
    elif source == "text":
        text = "\n\n".join(read_texts(p) for p in inputs)
    else:
        raise ValueError(f"Unknown source {source!r}; choose from {', '.join(SOURCES)}.")
    if max_chars:
        text = text[:max_chars]
    stats.update({k: v for k, v in corpus_stats(text).items() if k not in stats})
    return text, stats
