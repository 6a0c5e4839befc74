"""Download what the notebooks fetch, before a workshop: ``python -m helpers.warm_cache``.

Fetches the Gutenberg catalog and the three novels of notebook 01 into ``data/``
(honouring ``GUTENBERG_MIRROR``) and checks that every zoo model loads.
"""

from __future__ import annotations

import sys

from .gutenberg import Gutenberg
from .zoo import available, load


def main() -> int:
    pg = Gutenberg()
    print(f"catalog: {len(pg.catalog())} rows from {pg.mirror}")
    for book in (1342, 84, 11):
        print(f"#{book}: {len(pg.text(book)):,} characters cached in {pg.cache_dir}")
    for name in available():
        print(f"zoo: {load(name)!r} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
