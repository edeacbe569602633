"""Business hours: per-business weekly hours, closed on South African public holidays.

Stored in tenant_settings under `business.hours` as `{"days": {"mon": [["08:00", "17:00"]],
…}}` (a day missing or empty is closed), read in the business profile's time zone; until a
business saves its own, Monday to Friday 08:00-17:00 and Saturday 08:00-12:00. The flows'
"outside business hours" trigger and the branch on business hours ask `open_at(uow, when)`.

Holidays follow the Public Holidays Act 36 of 1994: twelve fixed dates, Good Friday and
Family Day (the Monday after Easter) from the Gregorian Easter, and a holiday that falls on a
Sunday is also observed on the Monday after it (s2(1)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clientcompass.business.settings import get_setting, set_setting
from clientcompass.db import UnitOfWork
from clientcompass.models import BusinessProfile

SETTING_KEY = "business.hours"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_TIMEZONE = "Africa/Johannesburg"

FIXED_HOLIDAYS = {
    (1, 1): "New Year's Day",
    (3, 21): "Human Rights Day",
    (4, 27): "Freedom Day",
    (5, 1): "Workers' Day",
    (6, 16): "Youth Day",
    (8, 9): "National Women's Day",
    (9, 24): "Heritage Day",
    (12, 16): "Day of Reconciliation",
    (12, 25): "Christmas Day",
    (12, 26): "Day of Goodwill",
}


def easter_sunday(year: int) -> date:
    """Gregorian Easter (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month = (h + m - 7 * n + 114) // 31
    day = (h + m - 7 * n + 114) % 31 + 1
    return date(year, month, day)


@lru_cache(maxsize=64)
def public_holidays(year: int) -> dict[date, str]:
    """The year's public holidays, with the Mondays observed for those on a Sunday."""
    days = {date(year, month, day): name for (month, day), name in FIXED_HOLIDAYS.items()}
    easter = easter_sunday(year)
    days[easter - timedelta(days=2)] = "Good Friday"
    days[easter + timedelta(days=1)] = "Family Day"
    for day, name in sorted(days.items()):
        if day.weekday() == 6:
            observed = day + timedelta(days=1)
            days.setdefault(observed, f"{name} (observed)")
    return days


def holiday_name(day: date) -> str | None:
    return public_holidays(day.year).get(day)


@dataclass(frozen=True)
class WeeklyHours:
    """Opening periods per weekday (Monday first); an empty list means closed all day."""

    days: dict[str, list[tuple[time, time]]] = field(default_factory=dict)

    @classmethod
    def default(cls) -> WeeklyHours:
        work = [(time(8), time(17))]
        return cls({**{day: list(work) for day in DAYS[:5]}, "sat": [(time(8), time(12))]})

    @classmethod
    def from_json(cls, data: Any) -> WeeklyHours:
        if not isinstance(data, dict) or not isinstance(data.get("days"), dict):
            return cls.default()
        days: dict[str, list[tuple[time, time]]] = {}
        for day in DAYS:
            periods = data["days"].get(day) or []
            days[day] = [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in periods]
        return cls(days)

    def to_json(self) -> dict[str, Any]:
        return {
            "days": {
                day: [[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in self.days.get(day, [])]
                for day in DAYS
            }
        }


def is_open(at: datetime, hours: WeeklyHours, timezone: str = DEFAULT_TIMEZONE) -> bool:
    """Whether the business is open at that instant, in its time zone; closed on holidays."""
    local = at.astimezone(ZoneInfo(timezone or DEFAULT_TIMEZONE))
    if holiday_name(local.date()) is not None:
        return False
    moment = local.time().replace(tzinfo=None)
    periods = hours.days.get(DAYS[local.weekday()], [])
    return any(start <= moment < end for start, end in periods)


async def get_hours(uow: UnitOfWork) -> WeeklyHours:
    return WeeklyHours.from_json(await get_setting(uow, SETTING_KEY))


async def open_at(uow: UnitOfWork, at: datetime) -> bool:
    """Whether the unit of work's business is open at that instant (its hours, its zone)."""
    zone = await uow.session.scalar(
        select(BusinessProfile.timezone).where(BusinessProfile.tenant_id == uow.tenant_id)
    )
    return is_open(at, await get_hours(uow), zone or DEFAULT_TIMEZONE)


async def set_hours(uow: UnitOfWork, hours: WeeklyHours) -> None:
    await set_setting(uow, SETTING_KEY, hours.to_json())


def parse_form(values: dict[str, str]) -> tuple[WeeklyHours | None, dict[str, str]]:
    """The settings form: per day `{day}_open` ("on"), `{day}_start`, `{day}_end` (HH:MM)."""
    days: dict[str, list[tuple[time, time]]] = {}
    errors: dict[str, str] = {}
    for day, name in zip(DAYS, DAY_NAMES, strict=True):
        if values.get(f"{day}_open") != "on":
            days[day] = []
            continue
        try:
            start = time.fromisoformat(values.get(f"{day}_start", ""))
            end = time.fromisoformat(values.get(f"{day}_end", ""))
        except ValueError:
            errors[f"{day}_start"] = f"Give {name}'s opening and closing times, e.g. 08:00."
            continue
        if end <= start:
            errors[f"{day}_start"] = f"{name} closes before it opens."
            continue
        days[day] = [(start, end)]
    return (None, errors) if errors else (WeeklyHours(days), {})
