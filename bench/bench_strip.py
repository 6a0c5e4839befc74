"""Gutenberg licence stripping: ours against gutenbergpy on real editions of every era.

    python bench/bench_strip.py

For every edition in ``tests/fixtures/gutenberg_editions/manifest.json`` (real files of
1992-2025 in ten languages, cut to header, body ends and footer), both strippers run and
an edition counts as an *exact strip* when the first and the last non-blank line of the
output are the body's first and last line that the manifest gives (read off the files by
hand). Rates are reported per era, per language group and overall; the table goes to
stdout and the numbers to ``bench/results/strip.json``.

gutenbergpy is not a dependency of this project: install it by hand to compare
(``pip install gutenbergpy``; only its ``textget.strip_headers`` is used, which takes and
returns bytes). Without it, only our column is filled and a note says so.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

from helpers.gutenberg import strip_headers
from helpers.textio import decode_text

ROOT = Path(__file__).resolve().parent.parent
EDITIONS = ROOT / "tests" / "fixtures" / "gutenberg_editions"
RESULTS = ROOT / "bench" / "results" / "strip.json"

# language groups, so that a handful of editions per group still says something
GROUPS = {"English": "English", "German": "Germanic", "Dutch": "Germanic", "Swedish": "Germanic",
          "French": "Romance", "Spanish": "Romance", "Portuguese": "Romance", "Italian": "Romance"}


def _ends(text: str) -> tuple[str, str]:
    """The first and last non-blank line, without surrounding whitespace."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return (lines[0], lines[-1]) if lines else ("", "")


def _ours(text: str) -> str:
    return strip_headers(text)


def _gutenbergpy():
    """gutenbergpy's stripper as a str -> str function, or None when it is not installed."""
    try:
        from gutenbergpy.textget import strip_headers as gp_strip
    except ImportError:
        return None

    def run(text: str) -> str:
        # it works on bytes and joins lines with os.linesep
        out = gp_strip(text.encode("utf-8")).decode("utf-8", errors="replace")
        return out.replace("\r\n", "\n")

    return run


def main() -> int:
    manifest = json.loads((EDITIONS / "manifest.json").read_text(encoding="utf-8"))
    strippers = {"ours": _ours}
    gp = _gutenbergpy()
    if gp is None:
        print("note: gutenbergpy is not installed (pip install gutenbergpy); "
              "only our stripper is measured.")
    else:
        strippers["gutenbergpy"] = gp

    per_edition = []
    for e in manifest["editions"]:
        text = decode_text((EDITIONS / e["file"]).read_bytes(), name=e["file"])
        row = {"ebook_id": e["ebook_id"], "year": e["year"], "era": e["era"],
               "language": e["language"], "group": GROUPS.get(e["language"], "Other")}
        for name, strip in strippers.items():
            got = _ends(strip(text))
            row[name] = got == (e["first_line"], e["last_line"])
            if not row[name]:
                row[f"{name}_got"] = list(got)
        per_edition.append(row)

    def rates(key: str) -> dict:
        buckets: dict[str, list[dict]] = defaultdict(list)
        for row in per_edition:
            buckets[row[key]].append(row)
        return {b: {"n": len(rows), **{name: sum(r[name] for r in rows) for name in strippers}}
                for b, rows in sorted(buckets.items())}

    results = {
        "editions": len(per_edition),
        "measure": "exact strip: first and last non-blank body line both as in the manifest",
        "by_era": rates("era"),
        "by_language_group": rates("group"),
        "overall": {"n": len(per_edition),
                    **{name: sum(r[name] for r in per_edition) for name in strippers}},
        "misses": [r for r in per_edition if not all(r[name] for name in strippers)],
    }
    if gp is not None:
        from importlib.metadata import version
        results["gutenbergpy_version"] = version("gutenbergpy")

    names = list(strippers)
    print(f"\nExact strips on {len(per_edition)} real editions "
          f"(first and last body line both right)\n")
    print("| group | editions | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for title, table in (("era", results["by_era"]), ("language", results["by_language_group"])):
        for bucket, r in table.items():
            cells = " | ".join(f"{r[name]}/{r['n']} ({100 * r[name] / r['n']:.0f}%)" for name in names)
            print(f"| {title} {bucket} | {r['n']} | {cells} |")
    r = results["overall"]
    cells = " | ".join(f"**{r[name]}/{r['n']} ({100 * r[name] / r['n']:.0f}%)**" for name in names)
    print(f"| **all** | {r['n']} | {cells} |")
    if results["misses"]:
        print("\nmisses:")
        for m in results["misses"]:
            wrong = [name for name in names if not m[name]]
            print(f"  #{m['ebook_id']} ({m['year']}, {m['language']}): {', '.join(wrong)}")
    RESULTS.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
