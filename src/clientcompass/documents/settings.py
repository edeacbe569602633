"""A business's document settings: rounding method, number patterns, default terms in days,
and the payment reminders' schedule.

Kept in the per-tenant settings store (`business/settings.py`) under `documents.*` keys, so
a business that never opens the settings page gets the defaults.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from clientcompass.auth.principal import Principal
from clientcompass.business.settings import get_setting, set_setting
from clientcompass.db import UnitOfWork
from clientcompass.documents.money import DEFAULT_ROUNDING, Rounding
from clientcompass.documents.numbering import DEFAULT_PATTERNS, DocumentKind, NumberPattern
from clientcompass.errors import InvalidInput

ROUNDING_KEY = "documents.rounding"
PATTERN_KEY = "documents.pattern.{kind}"
PAYMENT_TERMS_KEY = "documents.payment_terms_days"
QUOTE_VALIDITY_KEY = "documents.quote_validity_days"
DEFAULT_PAYMENT_TERMS_DAYS = 7
DEFAULT_QUOTE_VALIDITY_DAYS = 30
REMINDERS_KEY = "documents.reminders"
MAX_REMINDER_DAYS = 90


@dataclass(frozen=True)
class DocumentSettings:
    rounding: Rounding = DEFAULT_ROUNDING
    patterns: dict[DocumentKind, NumberPattern] = field(
        default_factory=lambda: dict(DEFAULT_PATTERNS)
    )
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS
    quote_validity_days: int = DEFAULT_QUOTE_VALIDITY_DAYS


def _pattern(stored: Any, default: NumberPattern) -> NumberPattern:
    if not isinstance(stored, dict):
        return default
    return NumberPattern(
        prefix=str(stored.get("prefix", default.prefix)),
        include_year=bool(stored.get("include_year", default.include_year)),
        separator=str(stored.get("separator", default.separator)),
        padding=int(stored.get("padding", default.padding)),
    )


async def load(uow: UnitOfWork) -> DocumentSettings:
    patterns = {
        kind: _pattern(await get_setting(uow, PATTERN_KEY.format(kind=kind.value)), default)
        for kind, default in DEFAULT_PATTERNS.items()
    }
    return DocumentSettings(
        rounding=Rounding(await get_setting(uow, ROUNDING_KEY, DEFAULT_ROUNDING.value)),
        patterns=patterns,
        payment_terms_days=int(
            await get_setting(uow, PAYMENT_TERMS_KEY, DEFAULT_PAYMENT_TERMS_DAYS)
        ),
        quote_validity_days=int(
            await get_setting(uow, QUOTE_VALIDITY_KEY, DEFAULT_QUOTE_VALIDITY_DAYS)
        ),
    )


async def save(uow: UnitOfWork, actor: Principal, settings: DocumentSettings) -> None:
    """Store the settings. A pattern change never collides: see `numbering` on scopes."""
    actor.require_manager()
    for name, days in (
        ("payment_terms_days", settings.payment_terms_days),
        ("quote_validity_days", settings.quote_validity_days),
    ):
        if not 0 <= days <= 365:
            raise InvalidInput("Give a number of days from 0 to 365.", field=name)
    await set_setting(uow, ROUNDING_KEY, settings.rounding.value)
    await set_setting(uow, PAYMENT_TERMS_KEY, settings.payment_terms_days)
    await set_setting(uow, QUOTE_VALIDITY_KEY, settings.quote_validity_days)
    for kind, pattern in settings.patterns.items():
        await set_setting(
            uow,
            PATTERN_KEY.format(kind=kind.value),
            {
                "prefix": pattern.prefix,
                "include_year": pattern.include_year,
                "separator": pattern.separator,
                "padding": pattern.padding,
            },
        )


@dataclass(frozen=True)
class ReminderSettings:
    """When invoices awaiting payment are reminded on WhatsApp, and with which template.

    0 days before or after means no reminder at that point.
    """

    enabled: bool = False
    days_before: int = 0
    on_due_date: bool = False
    days_after: int = 0
    template_id: uuid.UUID | None = None


def _days(stored: Any) -> int:
    return stored if isinstance(stored, int) and 0 <= stored <= MAX_REMINDER_DAYS else 0


async def load_reminders(uow: UnitOfWork) -> ReminderSettings:
    stored = await get_setting(uow, REMINDERS_KEY)
    if not isinstance(stored, dict):
        return ReminderSettings()
    try:
        template_id = uuid.UUID(str(stored["template_id"])) if stored.get("template_id") else None
    except ValueError:
        template_id = None
    return ReminderSettings(
        enabled=stored.get("enabled") is True,
        days_before=_days(stored.get("days_before")),
        on_due_date=stored.get("on_due_date") is True,
        days_after=_days(stored.get("days_after")),
        template_id=template_id,
    )


async def save_reminders(uow: UnitOfWork, actor: Principal, reminders: ReminderSettings) -> None:
    """Store the schedule; the template's approval is the caller's check (reminders.py)."""
    actor.require_manager()
    for name, days in (
        ("days_before", reminders.days_before),
        ("days_after", reminders.days_after),
    ):
        if not 0 <= days <= MAX_REMINDER_DAYS:
            raise InvalidInput(f"Give a number of days from 0 to {MAX_REMINDER_DAYS}.", field=name)
    if reminders.enabled and not (
        reminders.days_before or reminders.on_due_date or reminders.days_after
    ):
        raise InvalidInput(
            "Choose when to remind: before the due date, on it, or after it.", field="enabled"
        )
    if reminders.enabled and reminders.template_id is None:
        raise InvalidInput(
            "Choose the approved WhatsApp template to remind with.", field="template_id"
        )
    await set_setting(
        uow,
        REMINDERS_KEY,
        {
            "enabled": reminders.enabled,
            "days_before": reminders.days_before,
            "on_due_date": reminders.on_due_date,
            "days_after": reminders.days_after,
            "template_id": str(reminders.template_id) if reminders.template_id else None,
        },
    )
