"""strip_headers on real Project Gutenberg editions of every era, 1992-2025.

The editions are cut-down copies of real files (tests/fixtures/gutenberg_editions/): the
whole header and footer and a little of the body on each side. manifest.json gives, per
edition, the first and last line of the body as read off the file by hand, and its "rule"
says what counts as body.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from helpers.gutenberg import strip_headers
from helpers.textio import decode_text

pytestmark = pytest.mark.core

EDITIONS = Path(__file__).parent / "fixtures" / "gutenberg_editions"
MANIFEST = json.loads((EDITIONS / "manifest.json").read_text(encoding="utf-8"))
ENTRIES = MANIFEST["editions"]
IDS = [f"{e['ebook_id']}-{e['year']}-{e['language'][:3].lower()}" for e in ENTRIES]

# Phrases of the licence, the header and the footer. Books may name Gutenberg (#50000 is
# a life of John Gutenberg), so a phrase may appear in the output only as often as it
# appears in the true body.
LICENCE = re.compile(r"project gutenberg|small print|\*\*\* ?(?:start|end) of|gutenberg-tm|"
                     r"gutenberg\.org|end of (?:the )?project", re.IGNORECASE)


def _fixture(entry: dict) -> str:
    return decode_text((EDITIONS / entry["file"]).read_bytes(), name=entry["file"])


def _true_body(entry: dict) -> list[str]:
    lines = _fixture(entry).split("\n")
    return lines[entry["first_line_no"] - 1:entry["last_line_no"]]


def test_manifest_covers_the_eras_and_languages():
    assert len(ENTRIES) >= 30
    eras = Counter(e["era"] for e in ENTRIES)
    assert set(eras) == {"1991-1999", "2000-2009", "2010-2019", "2020-2025"}
    assert min(eras.values()) >= 5
    languages = Counter(e["language"] for e in ENTRIES)
    assert sum(n for lang, n in languages.items() if lang != "English") >= 8
    assert {"German", "French"} <= set(languages)
    assert len({e["file"] for e in ENTRIES}) == len(ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_manifest_lines_are_in_the_fixture(entry):
    """The expected lines sit where the manifest says: a check of the fixture itself."""
    body = _true_body(entry)
    assert body[0].strip() == entry["first_line"]
    assert body[-1].strip() == entry["last_line"]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_first_and_last_body_lines(entry):
    lines = [line for line in strip_headers(_fixture(entry)).split("\n") if line.strip()]
    assert lines, "nothing left"
    assert (lines[0].strip(), lines[-1].strip()) == (entry["first_line"], entry["last_line"])


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_no_licence_text_left(entry):
    stripped = strip_headers(_fixture(entry))
    expected = Counter(m.group(0).lower() for m in LICENCE.finditer("\n".join(_true_body(entry))))
    found = Counter(m.group(0).lower() for m in LICENCE.finditer(stripped))
    assert found == expected


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_body_is_kept_whole(entry):
    """Nothing of the book between its first and last line is dropped or changed."""
    assert strip_headers(_fixture(entry)).split("\n") == _true_body(entry)
