"""Each person's choices: which kinds on which channel, quiet hours, lock-screen privacy.

A person who never opened the page has no row and gets `kinds.DEFAULTS`; saving writes the
whole choice at once (the page and `PUT /api/v1/notification-preferences` send all of it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from clientcompass.db import UnitOfWork
from clientcompass.models import NotificationPreference
from clientcompass.notifications.kinds import CHANNELS, DEFAULTS, Channel, Kind


@dataclass(frozen=True)
class Preferences:
    channels: Mapping[Kind, Mapping[Channel, bool]] = field(default_factory=lambda: DEFAULTS)
    quiet_start: time | None = None
    quiet_end: time | None = None
    hide_content: bool = False

    def wants(self, kind: Kind, channel: Channel) -> bool:
        if channel not in CHANNELS[kind]:
            return False
        chosen = self.channels.get(kind, {})
        return bool(chosen.get(channel, DEFAULTS[kind][channel]))

    def is_quiet(self, at: datetime, zone: ZoneInfo) -> bool:
        """Within quiet hours at `at`, in the business's time zone. A window may cross
        midnight (22:00 to 06:00); equal ends mean no quiet hours."""
        if self.quiet_start is None or self.quiet_end is None or self.quiet_start == self.quiet_end:
            return False
        local = at.astimezone(zone).time().replace(tzinfo=None)
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end


def from_row(row: NotificationPreference | None) -> Preferences:
    if row is None:
        return Preferences()
    return from_columns(row.channels, row.quiet_start, row.quiet_end, row.hide_content)


def from_columns(
    channels: Mapping[str, Any], quiet_start: time | None, quiet_end: time | None, hide: bool
) -> Preferences:
    """The choices from a row's columns, read without the ORM (the fan-out's one query)."""
    return Preferences(_channels(channels), quiet_start, quiet_end, hide)


def _channels(stored: Mapping[str, Any]) -> dict[Kind, dict[Channel, bool]]:
    """The stored JSON over the defaults; unknown kinds or channels (an older release's) are
    ignored rather than trusted."""
    merged = {kind: dict(choice) for kind, choice in DEFAULTS.items()}
    for kind in Kind:
        chosen = stored.get(kind.value)
        if not isinstance(chosen, Mapping):
            continue
        for channel in CHANNELS[kind]:
            value = chosen.get(channel.value)
            if isinstance(value, bool):
                merged[kind][channel] = value
    return merged


def to_json(channels: Mapping[Kind, Mapping[Channel, bool]]) -> dict[str, dict[str, bool]]:
    return {
        kind.value: {channel.value: bool(choice[channel]) for channel in CHANNELS[kind]}
        for kind, choice in channels.items()
    }


async def load(uow: UnitOfWork, user_id: uuid.UUID) -> Preferences:
    row = await uow.session.get(NotificationPreference, (uow.tenant_id, user_id))
    return from_row(row)


async def load_many(uow: UnitOfWork, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Preferences]:
    """Everyone's preferences in one query (a fan-out reads the whole team's)."""
    ids = list(user_ids)
    rows = (
        await uow.session.scalars(
            select(NotificationPreference)
            .where(NotificationPreference.tenant_id == uow.tenant_id)
            .where(NotificationPreference.user_id.in_(ids))
        )
    ).all()
    found = {row.user_id: from_row(row) for row in rows}
    return {user_id: found.get(user_id, Preferences()) for user_id in ids}


async def save(uow: UnitOfWork, user_id: uuid.UUID, preferences: Preferences) -> Preferences:
    assert uow.tenant_id is not None
    values = {
        "channels": to_json(_channels(to_json(preferences.channels))),
        "quiet_start": preferences.quiet_start,
        "quiet_end": preferences.quiet_end,
        "hide_content": preferences.hide_content,
        "updated_at": uow.now,
    }
    await uow.session.execute(
        insert(NotificationPreference)
        .values(tenant_id=uow.tenant_id, user_id=user_id, created_at=uow.now, **values)
        .on_conflict_do_update(
            index_elements=[NotificationPreference.tenant_id, NotificationPreference.user_id],
            set_=values,
        )
    )
    return await load_fresh(uow, user_id)


async def load_fresh(uow: UnitOfWork, user_id: uuid.UUID) -> Preferences:
    row = await uow.session.get(
        NotificationPreference, (uow.tenant_id, user_id), populate_existing=True
    )
    return from_row(row)


async def turn_off(uow: UnitOfWork, user_id: uuid.UUID, kind: Kind, channel: Channel) -> None:
    """One choice off, the rest kept (an email's one-click unsubscribe)."""
    current = await load_fresh(uow, user_id)
    channels = {k: dict(v) for k, v in current.channels.items()}
    channels[kind][channel] = False
    await save(
        uow,
        user_id,
        Preferences(
            channels=channels,
            quiet_start=current.quiet_start,
            quiet_end=current.quiet_end,
            hide_content=current.hide_content,
        ),
    )
