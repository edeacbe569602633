"""Reading a customer's answer to an `ask` step, the way a patient receptionist would.

Each check takes what the customer sent (its text, its files, a location pin) and gives back
either the value to save or a hint that says what a good answer looks like. The hint is sent
with the question again, so it speaks to the customer, not to the business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from clientcompass.flows.definition import AskStep, Expect
from clientcompass.phones import normalise_za_phone

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]{2,}$")
NUMBER = re.compile(r"^-?\s*R?\s*[\d\s,]*\.?\d+$", re.IGNORECASE)
CLOCK = re.compile(r"\b(\d{1,2})(?:[:h.](\d{2}))?\s*(am|pm)?\b", re.IGNORECASE)
# Day first, as South Africans write it. A dotted date needs its year: "9.30" is a time.
DAY_SLASHED = re.compile(r"\b(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2,4}))?(?!\d)")
DAY_DOTTED = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{2,4})(?!\d)")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_MONTH_NAME = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
    r"(?:\s+(\d{4}))?\b"
)
# "2027-03-01", and "2027-03-01T09:30" as the flow itself stores one (the T goes with it).
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:t|(?!\d))")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
NAME_MAX = 120
TEXT_MAX = 1000

DEFAULT_HINTS = {
    Expect.TEXT: "Please type your answer.",
    Expect.NAME: "Please type your name.",
    Expect.EMAIL: "That doesn't look like an email address. Please type it like name@example.co.za.",
    Expect.PHONE: "Please send a phone number like 082 123 4567.",
    Expect.NUMBER: "Please answer with a number.",
    Expect.DATETIME: "Please send a date and time, like 12/01 14:00 or tomorrow 9am.",
    Expect.ADDRESS: "Please type the street address or suburb, or share your location.",
    Expect.PHOTO: "Please send a photo.",
    Expect.DOCUMENT: "Please send the document as a file.",
}


@dataclass(frozen=True)
class Given:
    """What one customer message offers as an answer."""

    text: str
    media: tuple[tuple[str, str], ...] = ()  # (message media id, content type)
    location: str = ""  # "address (lat, lng)" of a shared pin


@dataclass(frozen=True)
class Checked:
    value: object = None
    hint: str = ""

    @property
    def ok(self) -> bool:
        return not self.hint


def hint_for(step: AskStep) -> str:
    return step.hint or DEFAULT_HINTS[step.expect]


def parse_number(text: str) -> Decimal | None:
    """ "R1 500", "1,500.50", "3" → a Decimal; None for anything else."""
    cleaned = text.strip()
    if not NUMBER.match(cleaned):
        return None
    try:
        return Decimal(re.sub(r"[\sR,r]", "", cleaned))
    except InvalidOperation:
        return None


def _clock(text: str) -> time | None:
    for found in CLOCK.finditer(text):
        hour, minute, half = int(found.group(1)), int(found.group(2) or 0), found.group(3)
        if found.group(2) is None and half is None:
            continue  # a bare number is a day, not an hour
        if half:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if half.lower() == "pm" else 0)
        if hour < 24 and minute < 60:
            return time(hour, minute)
    return None


def _day_month(day: int, month: int, year: int | None, today: date) -> date | None:
    """A day and month (and perhaps year); without a year, the next such date from today."""
    if year is not None and year < 100:
        year += 2000
    try:
        found = date(year or today.year, month, day)
    except ValueError:
        return None
    if year is None and found < today:
        found = found.replace(year=found.year + 1)
    return found


def _written_day(lowered: str, today: date) -> tuple[date | None, str]:
    """The date written in the text, if any, and the text without it (for the clock)."""
    if found := ISO_DATE.search(lowered):
        try:
            iso = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        except ValueError:
            return None, lowered
        return iso, lowered.replace(found.group(0), " ")
    for pattern in (DAY_SLASHED, DAY_DOTTED):
        if found := pattern.search(lowered):
            year = int(found.group(3)) if found.group(3) else None
            day = _day_month(int(found.group(1)), int(found.group(2)), year, today)
            return day, lowered.replace(found.group(0), " ")
    if found := DAY_MONTH_NAME.search(lowered):
        month = MONTHS.index(found.group(2)[:3]) + 1
        year = int(found.group(3)) if found.group(3) else None
        day = _day_month(int(found.group(1)), month, year, today)
        return day, lowered.replace(found.group(0), " ")
    return None, lowered


def parse_datetime(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """A date and time in the customer's words, each with a time ("14:00", "2pm", "9h30",
    "9.30"; a date alone means 09:00): today or tomorrow; a written date (ISO, "25/12",
    "25-12-2026", "25.12.2026", "14 July"); else a weekday ("Tuesday" is the next one)."""
    lowered = text.lower()
    today = now.astimezone(zone).date()
    day: date | None = None
    if "tomorrow" in lowered or "môre" in lowered:
        day = today + timedelta(days=1)
    elif "today" in lowered or "vandag" in lowered:
        day = today
    else:
        day, lowered = _written_day(lowered, today)
        if day is None:
            words = re.findall(r"[a-z]+", lowered)
            for number, name in enumerate(WEEKDAYS):
                if name in words or name[:3] in words:
                    day = today + timedelta(days=(number - today.weekday()) % 7 or 7)
                    break
    if day is None:
        return None
    at = _clock(lowered) or time(9, 0)
    return datetime.combine(day, at, tzinfo=zone)


def check(step: AskStep, given: Given, now: datetime, zone: ZoneInfo) -> Checked:
    """The value to save under `step.save_as`, or the hint to ask again with."""
    text = given.text.strip()
    hint = hint_for(step)
    match step.expect:
        case Expect.TEXT:
            return Checked(text[:TEXT_MAX]) if text else Checked(hint=hint)
        case Expect.NAME:
            if not text or len(text) > NAME_MAX or not any(c.isalpha() for c in text):
                return Checked(hint=hint)
            return Checked(" ".join(text.split()))
        case Expect.EMAIL:
            return Checked(text.lower()) if EMAIL.match(text) else Checked(hint=hint)
        case Expect.PHONE:
            try:
                phone = normalise_za_phone(text)
            except ValueError:
                return Checked(hint=hint)
            return Checked(phone) if phone else Checked(hint=hint)
        case Expect.NUMBER:
            number = parse_number(text)
            if number is None:
                return Checked(hint=hint)
            if (step.minimum is not None and number < Decimal(str(step.minimum))) or (
                step.maximum is not None and number > Decimal(str(step.maximum))
            ):
                return Checked(hint=hint)
            return Checked(str(number))
        case Expect.DATETIME:
            at = parse_datetime(text, now, zone)
            return Checked(at.isoformat()) if at is not None else Checked(hint=hint)
        case Expect.ADDRESS:
            if given.location:
                return Checked(given.location)
            return Checked(text[:TEXT_MAX]) if len(text) >= 3 else Checked(hint=hint)
        case Expect.PHOTO:
            photos = [media_id for media_id, kind in given.media if kind.startswith("image/")]
            return Checked(photos) if photos else Checked(hint=hint)
        case Expect.DOCUMENT:
            files = [media_id for media_id, _ in given.media]
            return Checked(files) if files else Checked(hint=hint)
    return Checked(hint=hint)  # pragma: no cover - every Expect is handled above
