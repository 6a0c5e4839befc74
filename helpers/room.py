"""The word screen for what is shown in a classroom: samples and corpora, checked by list.

A model trained on someone's tweets writes what they wrote, crude words and angry
politics included; a workshop notebook that shows its samples on a projector should be
able to choose. :func:`fit_for_room` is a plain, documented screen: a text fails when it
contains a word that starts with one of :data:`ROOM_STEMS` or equals one of
:data:`ROOM_WORDS` (case-insensitive, German and English, chosen from what the
``tweets_char`` model and its archive actually write). It is a screen, not a judge: it
misses what is not listed, and drops a harmless word that shares a stem ("dummy"), so
the notebooks say how many samples it held back and leave the raw view as an exercise.
("die" is not listed: it is German for "the".)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ROOM_STEMS", "ROOM_WORDS", "fit_for_room", "room_screen"]

# a word *starting* with one of these fails (scheiss -> scheisse, scheissegal)
ROOM_STEMS = (
    # crude, English and German
    "fuck", "shit", "bitch", "bastard", "cunt", "asshole", "crap", "whore", "slut", "porn",
    "bikini", "nude", "naked", "scheiss", "scheiß", "arsch", "fick", "fotze", "hure",
    "wichs", "kacke", "pisse", "idiot", "stupid", "retard", "dumm",
    # death and violence
    "kill", "murder", "suicid", "genocid", "mord", "ermord", "töte", "tötet", "massaker",
    "bomb", "weapon", "waffe",
    # the vocabulary of extremist and conspiracy talk this archive is full of
    "nazi", "hitler", "fascis", "faschis", "depopul", "bevölkerungsredu", "plandemi",
    "chemtrail", "globalist", "verschwör", "conspira", "vaccin", "impf", "communis",
    "kommunis", "propagand", "terror",
)
# only these exact words fail (a stem would catch innocent words: "tot" -> "total")
ROOM_WORDS = ("dead", "death", "dying", "tot", "tote", "toten", "tod", "war", "krieg",
              "nwo", "sex")

_WORD = re.compile(r"\w+", re.UNICODE)


def fit_for_room(text: str) -> bool:
    """True when no word of ``text`` is on the lists (see the module docstring)."""
    for w in _WORD.findall(text.lower()):
        if w in ROOM_WORDS or w.startswith(ROOM_STEMS):
            return False
    return True


def room_screen(texts: Iterable, key=str) -> tuple[list, int]:
    """The items whose ``key(item)`` is fit for a room, and how many were held back."""
    items = list(texts)
    kept = [t for t in items if fit_for_room(key(t))]
    return kept, len(items) - len(kept)
