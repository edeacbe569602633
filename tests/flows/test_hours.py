"""Business hours: South African public holidays (Public Holidays Act 36 of 1994) and
`is_open` across hours, days and holidays in the business's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from hypothesis import given
from hypothesis import strategies as st

from clientcompass.business.hours import (
    WeeklyHours,
    easter_sunday,
    holiday_name,
    is_open,
    parse_form,
    public_holidays,
)

SAST = "Africa/Johannesburg"
HOURS = WeeklyHours.default()  # Mon-Fri 08:00-17:00, Sat 08:00-12:00


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A South African wall-clock time as UTC (SAST is UTC+2 all year)."""
    return datetime(y, m, d, hh - 2, mm, tzinfo=UTC)


def test_2026_easter_holidays() -> None:
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert holiday_name(date(2026, 4, 3)) == "Good Friday"
    assert holiday_name(date(2026, 4, 6)) == "Family Day"


def test_a_sunday_holiday_moves_to_the_monday() -> None:
    # National Women's Day, 9 August 2026, is a Sunday.
    assert date(2026, 8, 9).weekday() == 6
    assert holiday_name(date(2026, 8, 10)) == "National Women's Day (observed)"
    # Heritage Day 2028 (24 September) is a Sunday too; a Saturday holiday does not move.
    assert holiday_name(date(2028, 9, 25)) == "Heritage Day (observed)"
    assert holiday_name(date(2026, 3, 23)) is None  # Human Rights Day 2026 is a Saturday


def test_twelve_holidays_a_year_plus_observed_mondays() -> None:
    holidays = public_holidays(2026)
    assert len([n for n in holidays.values() if "observed" not in n]) == 12
    assert holidays[date(2026, 12, 16)] == "Day of Reconciliation"


@given(st.integers(min_value=1900, max_value=2199))
def test_easter_is_a_sunday_between_22_march_and_25_april(year: int) -> None:
    easter = easter_sunday(year)
    assert easter.weekday() == 6
    assert date(year, 3, 22) <= easter <= date(year, 4, 25)


def test_is_open_in_hours_and_closed_outside() -> None:
    assert is_open(at(2026, 4, 8, 9), HOURS, SAST)  # a Wednesday morning
    assert not is_open(at(2026, 4, 8, 7, 59), HOURS, SAST)
    assert not is_open(at(2026, 4, 8, 17), HOURS, SAST)  # closing time is closed
    assert is_open(at(2026, 4, 11, 11, 59), HOURS, SAST)  # Saturday morning
    assert not is_open(at(2026, 4, 11, 12), HOURS, SAST)
    assert not is_open(at(2026, 4, 12, 10), HOURS, SAST)  # Sunday


def test_closed_on_a_public_holiday_within_hours() -> None:
    assert not is_open(at(2026, 4, 3, 10), HOURS, SAST)  # Good Friday
    assert not is_open(at(2026, 4, 6, 10), HOURS, SAST)  # Family Day
    assert not is_open(at(2026, 8, 10, 10), HOURS, SAST)  # Women's Day, observed
    assert is_open(at(2026, 4, 7, 10), HOURS, SAST)  # the Tuesday after


def test_the_time_zone_decides_the_day() -> None:
    # 23:30 UTC on Thursday 2 April is 01:30 on Good Friday in Johannesburg.
    late = datetime(2026, 4, 2, 23, 30, tzinfo=UTC)
    always = WeeklyHours({day: [(time(0), time(23, 59))] for day in ("thu", "fri")})
    assert not is_open(late, always, SAST)
    assert is_open(late, always, "UTC")


def test_the_form_and_json_round_trip() -> None:
    hours, errors = parse_form(
        {"mon_open": "on", "mon_start": "07:30", "mon_end": "16:00", "tue_start": "08:00"}
    )
    assert errors == {} and hours is not None
    assert hours.days["mon"] == [(time(7, 30), time(16))]
    assert hours.days["tue"] == []
    assert WeeklyHours.from_json(hours.to_json()) == hours
    _, errors = parse_form({"wed_open": "on", "wed_start": "17:00", "wed_end": "08:00"})
    assert errors == {"wed_start": "Wednesday closes before it opens."}
