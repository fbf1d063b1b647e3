"""SMS text analysis (django_textlink.encoding): encoding, size and parts."""

from __future__ import annotations

import pytest

from django_textlink.encoding import GSM7, GSM7_BASIC, GSM7_EXTENSION, UCS2, analyze


def test_empty_text_is_gsm7_with_no_parts() -> None:
    info = analyze("")
    assert (info.encoding, info.characters, info.units, info.segments) == (GSM7, 0, 0, 0)
    assert (info.per_segment, info.remaining, info.non_gsm_chars) == (160, 160, ())


@pytest.mark.parametrize(
    ("length", "segments", "per_segment", "remaining"),
    [
        (1, 1, 160, 159),
        (160, 1, 160, 0),
        (161, 2, 153, 145),  # 153 + 8
        (306, 2, 153, 0),
        (307, 3, 153, 152),
        (459, 3, 153, 0),
        (460, 4, 153, 152),
    ],
)
def test_gsm7_single_and_multipart_limits(
    length: int, segments: int, per_segment: int, remaining: int
) -> None:
    info = analyze("a" * length)
    assert info.encoding == GSM7
    assert not info.is_unicode
    assert info.characters == info.units == length
    assert (info.segments, info.per_segment, info.remaining) == (segments, per_segment, remaining)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [(1, 1, 70), (70, 1, 70), (71, 2, 67), (134, 2, 67), (135, 3, 67)],
)
def test_ucs2_single_and_multipart_limits(length: int, segments: int, per_segment: int) -> None:
    info = analyze("ж" * length)
    assert info.encoding == UCS2
    assert info.is_unicode
    assert info.characters == info.units == length
    assert (info.segments, info.per_segment) == (segments, per_segment)
    assert info.non_gsm_chars == ("ж",)


@pytest.mark.parametrize("char", ["€", "[", "]", "{", "}", "~", "^", "\\", "|", "\f"])
def test_extension_characters_take_two_septets(char: str) -> None:
    info = analyze(f"a{char}b")
    assert info.encoding == GSM7
    assert info.characters == 3
    assert info.units == 4
    assert info.non_gsm_chars == ()


def test_extension_characters_count_against_the_160_limit() -> None:
    assert analyze("€" * 80).segments == 1  # 160 septets
    assert analyze("€" * 80).remaining == 0
    over = analyze("€" * 81)  # 162 septets: 76 + 5 characters
    assert (over.units, over.segments, over.per_segment) == (162, 2, 153)
    assert analyze("a" * 158 + "€").segments == 1  # exactly 160
    assert analyze("a" * 159 + "€").segments == 2  # 161


def test_an_extension_character_is_not_split_between_parts() -> None:
    # 152 + 2 does not fit in 153: the euro starts part two, which then overflows.
    info = analyze("a" * 152 + "€" + "a" * 152)
    assert info.units == 306  # 2 * 153, yet three parts
    assert info.segments == 3
    assert info.remaining == 152


def test_gsm7_basic_characters_that_look_unicode_stay_gsm7() -> None:
    text = "Über? No: £5 @ café, Ωmega ¿¡ §ß ÆØÅ äöñüà Ç\r\n"
    info = analyze(text)
    assert info.encoding == GSM7
    assert info.units == len(text)


def test_one_non_gsm_character_makes_the_whole_text_ucs2() -> None:
    text = "a" * 100 + "ç"  # only capital Ç is in the GSM basic table
    info = analyze(text)
    assert info.encoding == UCS2
    assert info.units == 101
    assert info.segments == 2
    assert info.non_gsm_chars == ("ç",)


def test_emoji_count_two_utf16_units() -> None:
    info = analyze("Hi 😀")
    assert info.encoding == UCS2
    assert (info.characters, info.units, info.segments) == (4, 5, 1)
    assert info.non_gsm_chars == ("😀",)
    assert analyze("a" * 68 + "😀").segments == 1  # 70 units
    assert analyze("a" * 69 + "😀").segments == 2  # 71 units


def test_a_surrogate_pair_is_not_split_between_parts() -> None:
    info = analyze("a" * 66 + "😀" + "a" * 66)
    assert info.units == 134  # 2 * 67, yet three parts
    assert info.segments == 3


def test_non_gsm_characters_are_listed_once_in_order() -> None:
    assert analyze("ж😀жç😀").non_gsm_chars == ("ж", "😀", "ç")


@pytest.mark.parametrize(
    ("char", "shown"),
    [("😀", "😀"), ("ж", "ж"), ("\u00a0", "U+00A0"), ("\t", "U+0009"), ("\u200b", "U+200B")],
)
def test_invisible_non_gsm_characters_are_shown_by_code_point(char: str, shown: str) -> None:
    assert analyze(f"a{char}").non_gsm_display == (shown,)


def test_tables_match_gsm_03_38() -> None:
    assert len(GSM7_BASIC) == 127  # 128 code points minus the escape
    assert "\x1b" not in GSM7_BASIC
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert set("€[]{}~^\\|\f") == GSM7_EXTENSION
