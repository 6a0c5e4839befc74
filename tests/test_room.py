"""The classroom screen for samples: listed words fail, everything else passes."""

import pytest

from helpers.room import ROOM_STEMS, ROOM_WORDS, fit_for_room, room_screen

pytestmark = pytest.mark.core


@pytest.mark.parametrize("text", [
    "Die scheiss Elektroheizung.", "what the FUCK", "pacifism, depopulation, destroying",
    "the dead people", "Impfpflicht jetzt", "so ein Idiot!", "#Plandemic",
])
def test_listed_words_fail_in_any_case_and_position(text):
    assert not fit_for_room(text)


@pytest.mark.parametrize("text", [
    "die Katze sitzt auf der Matte",        # "die" is German for "the"
    "a total success", "Tottenham won",       # exact words are not stems
    "the wars of the roses", "das wird vom netz getrennt", "",
])
def test_ordinary_text_passes(text):
    assert fit_for_room(text)


def test_every_listed_entry_fails_on_its_own():
    for stem in ROOM_STEMS:
        assert not fit_for_room(f"x {stem}ed y"), stem
    for word in ROOM_WORDS:
        assert not fit_for_room(f"x {word.upper()} y"), word
        assert fit_for_room(f"x {word}zzz y") or word.startswith(ROOM_STEMS), word


def test_room_screen_counts_what_it_holds_back():
    kept, held = room_screen([("a", "fine text"), ("b", "shit"), ("c", "also fine")],
                             key=lambda t: t[1])
    assert [k for k, _ in kept] == ["a", "c"] and held == 1
