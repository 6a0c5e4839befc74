"""Poems as documents: a collection of numbered short poems cut into one document per poem.

>>> from helpers import poems
>>> from helpers.gutenberg import Gutenberg
>>> text = poems.poems_corpus(Gutenberg().text(12242, strip=False))   # doctest: +SKIP
>>> text[:41]                                                        # doctest: +SKIP
'\\x02Success is counted sweetest\\nBy those who'

A word-level model of verse needs two breaks: the line break, which ``WordVocab`` keeps
as the token ``"\\n"``, and the poem break, which is the end token of
:mod:`helpers.documents`. :func:`poems_corpus` wraps each poem in the start/end tokens,
so a sample that begins at the start token ends by itself where the model closes a poem.

The layout read here is that of the Project Gutenberg editions of Emily Dickinson's
*Poems, Three Series* (#12242), and of many collections like it: a poem begins at a line
holding only a Roman numeral and a full stop (``XIV.``); a section heading (``II. LOVE.``)
or a volume's title page (``POEMS``) ends the poem before it and begins none, so the
prefaces, notes and epigraphs between the volumes belong to no poem.

What is kept of a poem, and why:

* its lines, each stripped of indentation (a word-level token carries no spaces, so the
  indentation would be lost in any case), and one blank line between stanzas (two
  ``"\\n"`` tokens: a stanza break the model can learn);
* not its number: the numbers are the editors' order, not the poet's text;
* not its title: an upper-case first paragraph. The titles were "assigned, almost
  invariably, by the editors" (Higginson's preface), and only some poems have one, so
  keeping them would teach the model an upper-case first line that nearly half lack;
* not the editors' notes in square brackets (``[Published in "A Masque of Poets" ...]``).

A number followed by nothing but a title and a second number (``IV.``, ``FORBIDDEN
FRUIT.``, ``I.``, the poem) leaves an empty poem, which is dropped: the poem is counted
once, under the second number.
"""

from __future__ import annotations

import re

from .documents import wrap
from .gutenberg import strip_headers
from .textio import CorpusError

__all__ = ["split_poems", "poems_corpus"]

_NUMERAL = r"[IVXLC]+\."
# a poem's number alone on its line: "XIV."
_NUMBER_RE = re.compile(rf"^{_NUMERAL}$")
# a section heading ("II. LOVE.", "IV. TIME AND ETERNITY.") or a volume's title page
_HEADING_RE = re.compile(rf"^{_NUMERAL}\s+[^a-z]*[A-Z][^a-z]*$|^POEMS\.?$")


def _is_title(paragraph: list[str]) -> bool:
    """An upper-case paragraph (letters, none of them lower-case): the editors' title."""
    text = " ".join(paragraph)
    return any(c.isalpha() for c in text) and not any(c.islower() for c in text)


def _is_note(paragraph: list[str]) -> bool:
    """A paragraph in square brackets: the editors' note on where a poem appeared."""
    text = " ".join(paragraph)
    return text.startswith("[") and text.endswith("]")


def _clean(lines: list[str]) -> str:
    """One poem's text from the lines after its number (see the module's docstring)."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        line = line.strip()
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    paragraphs = [p for p in paragraphs if p]
    if paragraphs and _is_title(paragraphs[0]):
        paragraphs = paragraphs[1:]
    return "\n\n".join("\n".join(p) for p in paragraphs if not _is_note(p))


def split_poems(body: str) -> list[str]:
    """The poems of a collection's body (licence text already stripped), in order: each
    poem's lines joined by ``"\\n"``, stanzas by one blank line, without number, title
    or the editors' notes. Text outside the numbered poems is left out."""
    poems: list[str] = []
    current: list[str] | None = None
    for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        # a number needs no blank line before it: #12242 runs one poem into the next
        # ("And handled with a chain." then "XII."), and no verse line is a bare numeral
        starts = _NUMBER_RE.match(stripped)
        if starts or _HEADING_RE.match(stripped):
            if current is not None:
                poems.append(_clean(current))
            current = [] if starts else None
        elif current is not None:
            current.append(line)
    if current is not None:
        poems.append(_clean(current))
    return [p for p in poems if p]


def poems_corpus(text: str) -> str:
    """A Project Gutenberg collection of poems (the file as published, header and all) as
    a training text: each poem followed by a line break and wrapped in start/end tokens,
    so ``"\\n"`` is the line break and the end token the poem break."""
    poems = split_poems(strip_headers(text))
    if not poems:
        raise CorpusError("No numbered poems found: each poem should begin with a line "
                          "holding only its Roman numeral and a full stop (XIV.).")
    # the line break before the end token ends the last line, as it ends every other one
    return wrap((p + "\n" for p in poems), sep="")
