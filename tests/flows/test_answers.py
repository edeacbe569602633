"""Reading a customer's answer to an `ask` step (flows/answers.py): every `expect` with good
and bad answers, numbers with bounds, dates and times in the ways South Africans type them,
location pins and files. Pure functions: no database, no clock but the one passed in."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clientcompass.flows.answers import (
    DEFAULT_HINTS,
    Given,
    check,
    hint_for,
    parse_datetime,
    parse_number,
)
from clientcompass.flows.definition import AskStep, Expect

SAST = ZoneInfo("Africa/Johannesburg")
# Friday 4 December 2026, 17:00 in Johannesburg.
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
PIN = "Home, 12 Long Street (-33.92490, 18.42410)"
IMAGE = ("11111111-1111-1111-1111-111111111111", "image/jpeg")
PDF = ("22222222-2222-2222-2222-222222222222", "application/pdf")


def ask(expect: Expect, **more: Any) -> AskStep:
    return AskStep(id="q", title="Question", text="?", expect=expect, save_as="answer", **more)


def answer(step: AskStep, text: str = "", **given: Any) -> object:
    checked = check(step, Given(text=text, **given), NOW, SAST)
    assert checked.ok, f"{text!r} refused: {checked.hint}"
    return checked.value


def refused(step: AskStep, text: str = "", **given: Any) -> str:
    checked = check(step, Given(text=text, **given), NOW, SAST)
    assert not checked.ok, f"{text!r} taken as {checked.value!r}"
    assert checked.value is None
    return checked.hint


@pytest.mark.parametrize(
    ("expect", "good", "saved", "bad"),
    [
        (Expect.TEXT, "  A leaking geyser ", "A leaking geyser", "   "),
        (Expect.NAME, "  Thandi   Mokoena ", "Thandi Mokoena", "1234"),
        (Expect.NAME, "Nomvula Mthembu-Müller", "Nomvula Mthembu-Müller", "x" * 121),
        (Expect.EMAIL, "Thandi@Example.co.za", "thandi@example.co.za", "thandi@"),
        (Expect.EMAIL, "a.b@c.org", "a.b@c.org", "a@b.c"),
        (Expect.EMAIL, "x@y.co.za", "x@y.co.za", "two words@example.com"),
        (Expect.PHONE, "082 123 4567", "+27821234567", "12345"),
        (Expect.PHONE, "+27 82 123 4567", "+27821234567", "call me"),
        (Expect.PHONE, "011 555 1234", "+27115551234", ""),
        (Expect.NUMBER, "3", "3", "three"),
        (Expect.NUMBER, "R1 500", "1500", "1.5.5"),
        (Expect.NUMBER, "1,500.50", "1500.50", "R"),
        (Expect.ADDRESS, "Soweto", "Soweto", "ab"),
        (Expect.DATETIME, "tomorrow 2pm", "2026-12-05T14:00:00+02:00", "soon"),
    ],
)
def test_each_expect_takes_a_good_answer_and_refuses_a_bad_one_with_its_hint(
    expect: Expect, good: str, saved: str, bad: str
) -> None:
    step = ask(expect)
    assert answer(step, good) == saved
    assert refused(step, bad) == DEFAULT_HINTS[expect]


def test_a_step_hint_replaces_the_default_one() -> None:
    assert hint_for(ask(Expect.PHOTO)) == "Please send a photo."
    step = ask(Expect.PHOTO, hint="A photo helps us bring the right parts.")
    assert refused(step, "later") == "A photo helps us bring the right parts."
    for expect in Expect:
        assert DEFAULT_HINTS[expect].strip(), f"{expect} has no default hint"


def test_long_text_is_cut_to_a_thousand_characters() -> None:
    assert answer(ask(Expect.TEXT), "a" * 1500) == "a" * 1000


def test_a_number_outside_its_bounds_is_refused_and_the_bounds_are_inclusive() -> None:
    step = ask(Expect.NUMBER, minimum=1, maximum=10)
    assert answer(step, "1") == "1" and answer(step, "10") == "10"
    assert answer(step, "7.5") == "7.5"
    for bad in ("0", "11", "-3", "10.01", "0.99"):
        assert refused(step, bad) == "Please answer with a number."
    at_least = ask(Expect.NUMBER, minimum=2)
    assert answer(at_least, "R2 000 000") == "2000000"
    assert refused(at_least, "1")


def test_parse_number_reads_rands_spaces_and_commas() -> None:
    assert parse_number("R1 500") == Decimal("1500")
    assert parse_number("1,500.50") == Decimal("1500.50")
    assert parse_number(" 7 ") == Decimal("7")
    assert parse_number(".5") == Decimal("0.5")
    assert parse_number("-2") == Decimal("-2")
    for bad in ("", "abc", "R", "1.5.5", "12abc", "one"):
        assert parse_number(bad) is None, bad


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("tomorrow 2pm", datetime(2026, 12, 5, 14, 0, tzinfo=SAST)),
        ("Tomorrow 14:00", datetime(2026, 12, 5, 14, 0, tzinfo=SAST)),
        ("môre 9am", datetime(2026, 12, 5, 9, 0, tzinfo=SAST)),
        ("today 14h30", datetime(2026, 12, 4, 14, 30, tzinfo=SAST)),
        ("vandag 4pm", datetime(2026, 12, 4, 16, 0, tzinfo=SAST)),
        ("25/12 14:00", datetime(2026, 12, 25, 14, 0, tzinfo=SAST)),
        ("25-12-2027 7:15 pm", datetime(2027, 12, 25, 19, 15, tzinfo=SAST)),
        ("25/12/27 08:00", datetime(2027, 12, 25, 8, 0, tzinfo=SAST)),
        ("2027-03-01 09:30", datetime(2027, 3, 1, 9, 30, tzinfo=SAST)),
        ("2027-03-01", datetime(2027, 3, 1, 9, 0, tzinfo=SAST)),  # a date alone: 09:00
        ("friday 10am", datetime(2026, 12, 11, 10, 0, tzinfo=SAST)),  # today is a Friday
        ("Mon 8am", datetime(2026, 12, 7, 8, 0, tzinfo=SAST)),
        ("12am tomorrow", datetime(2026, 12, 5, 0, 0, tzinfo=SAST)),
        # A day and month already past this year is next year's.
        ("3/12 9am", datetime(2027, 12, 3, 9, 0, tzinfo=SAST)),
        ("1/1 9am", datetime(2027, 1, 1, 9, 0, tzinfo=SAST)),
    ],
)
def test_dates_and_times_in_the_customers_words(typed: str, meant: datetime) -> None:
    assert parse_datetime(typed, NOW, SAST) == meant
    assert answer(ask(Expect.DATETIME), typed) == meant.isoformat()


@pytest.mark.parametrize("typed", ["soon", "2pm", "31/02 10:00", "2027-13-01 10:00", "", "13pm"])
def test_no_date_or_an_impossible_one_is_refused(typed: str) -> None:
    assert parse_datetime(typed, NOW, SAST) is None
    assert refused(ask(Expect.DATETIME), typed).startswith("Please send a date and time")


def test_an_iso_date_time_with_a_t_is_understood() -> None:
    assert parse_datetime("2027-03-01T09:30", NOW, SAST) == datetime(2027, 3, 1, 9, 30, tzinfo=SAST)


def test_a_time_with_a_dot_after_tomorrow_is_a_time_not_a_date() -> None:
    assert parse_datetime("tomorrow 10.05", NOW, SAST) == datetime(2026, 12, 5, 10, 5, tzinfo=SAST)
    assert parse_datetime("tomorrow 9.30", NOW, SAST) == datetime(2026, 12, 5, 9, 30, tzinfo=SAST)


def test_an_address_is_typed_words_or_a_location_pin() -> None:
    step = ask(Expect.ADDRESS)
    assert answer(step, "12 Long Street, Cape Town") == "12 Long Street, Cape Town"
    assert answer(step, "", location=PIN) == PIN
    assert answer(step, "here", location=PIN) == PIN, "the pin wins over its caption"
    assert refused(step, "") == DEFAULT_HINTS[Expect.ADDRESS]


def test_a_photo_must_be_an_image_and_a_document_any_file() -> None:
    photo, document = ask(Expect.PHOTO), ask(Expect.DOCUMENT)
    assert answer(photo, "", media=(IMAGE,)) == [IMAGE[0]]
    assert answer(photo, "both", media=(PDF, IMAGE)) == [IMAGE[0]], "only the images"
    assert refused(photo, "", media=(PDF,)) == "Please send a photo."
    assert refused(photo, "I'll send it later") == "Please send a photo."
    assert answer(document, "", media=(PDF,)) == [PDF[0]]
    assert answer(document, "", media=(IMAGE, PDF)) == [IMAGE[0], PDF[0]]
    assert refused(document, "it's in the post") == "Please send the document as a file."
