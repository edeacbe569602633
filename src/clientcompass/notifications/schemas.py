"""The JSON shapes of a person's devices and notification choices.

The choices are one typed object per kind rather than a free dict, so an unknown kind or
channel (a typo, or push for the email-only digest) is refused by name with a 422 instead
of being stored and silently ignored, and the OpenAPI schema lists every kind.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from clientcompass.models import PushSubscription
from clientcompass.notifications import preferences as prefs
from clientcompass.notifications.kinds import CHANNELS, LABELS, Channel, Kind
from clientcompass.notifications.subscriptions import as_device

HOUR_MINUTE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _hour_minute(value: Any) -> time:
    """ "22:00" only: a time input's own format, and what GET gives back."""
    if isinstance(value, time):
        return value
    match = HOUR_MINUTE.match(value) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError("time_format", "Enter a time as HH:MM, like 22:00.")
    return time(int(match.group(1)), int(match.group(2)))


HourMinute = Annotated[
    time,
    BeforeValidator(_hour_minute),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": HOUR_MINUTE.pattern, "examples": ["22:00"]}),
]


# -- devices ---------------------------------------------------------------------------------


class PushKeys(BaseModel):
    p256dh: str = Field(max_length=200, description="The browser's P-256 public key, base64url.")
    auth: str = Field(max_length=100, description="The browser's 16-byte auth secret, base64url.")


class PushSubscriptionIn(BaseModel):
    """What `PushSubscription.toJSON()` gives in a browser (its `expirationTime` is ignored),
    plus an optional name for the device."""

    endpoint: str = Field(min_length=1, max_length=2048, description="The push service URL.")
    keys: PushKeys
    device_label: str = Field(
        "",
        max_length=120,
        description='Shown in your device list; by default from the User-Agent ("Chrome on '
        'Android").',
    )


class DeviceOut(BaseModel):
    """A device with push on, as listed: never its keys, nor its full endpoint."""

    id: uuid.UUID
    label: str
    endpoint_host: str = Field(description="The push service it is reached through.")
    created_at: datetime
    last_used_at: datetime | None = Field(description="When a notification last reached it.")

    @classmethod
    def of(cls, subscription: PushSubscription) -> DeviceOut:
        device = as_device(subscription)
        return cls(
            id=device.id,
            label=device.label,
            endpoint_host=device.endpoint_host,
            created_at=subscription.created_at,
            last_used_at=subscription.last_used_at,
        )


class VapidKeyOut(BaseModel):
    application_server_key: str = Field(
        description="The VAPID public key (base64url): `applicationServerKey` for "
        "`pushManager.subscribe()`."
    )


# -- preferences -----------------------------------------------------------------------------


class Choice(BaseModel):
    """Push and email for one kind; a channel left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    push: StrictBool | None = None
    email: StrictBool | None = None


class EmailOnly(BaseModel):
    """The digest is an email by nature: it has no push."""

    model_config = ConfigDict(extra="forbid")

    email: StrictBool | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_push(cls, data: Any) -> Any:
        if isinstance(data, dict) and "push" in data:
            raise PydanticCustomError(
                "email_only", "The daily summary is sent by email only: leave out push."
            )
        return data


def _described(kind: Kind) -> Any:
    return Field(default=None, description=LABELS[kind])


class Channels(BaseModel):
    """Which channels each kind uses. A kind left out takes its defaults."""

    model_config = ConfigDict(extra="forbid")

    new_conversation: Choice | None = _described(Kind.NEW_CONVERSATION)
    assigned_message: Choice | None = _described(Kind.ASSIGNED_MESSAGE)
    assigned: Choice | None = _described(Kind.ASSIGNED)
    handoff: Choice | None = _described(Kind.HANDOFF)
    quote_answer: Choice | None = _described(Kind.QUOTE_ANSWER)
    invoice_paid: Choice | None = _described(Kind.INVOICE_PAID)
    digest: EmailOnly | None = _described(Kind.DIGEST)


class QuietHours(BaseModel):
    """No push from `start` until `end` in the business's time zone (it may cross midnight:
    22:00 to 06:00). Email is not held back."""

    model_config = ConfigDict(extra="forbid")

    start: HourMinute
    end: HourMinute

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise PydanticCustomError(
                "quiet_hours_empty",
                "Start and end are the same time: choose two times, or no quiet hours (null).",
            )
        return self


class NotificationPreferences(BaseModel):
    """Everything a person chose, sent and stored whole."""

    model_config = ConfigDict(extra="forbid")

    channels: Channels = Field(default_factory=Channels)
    quiet_hours: QuietHours | None = None
    hide_content: StrictBool = Field(
        False, description="Push says who wrote, never what: for a phone's lock screen."
    )

    def to_preferences(self) -> prefs.Preferences:
        """Over the defaults: what is left out keeps its default."""
        chosen = {kind: dict(choice) for kind, choice in prefs.Preferences().channels.items()}
        for kind in Kind:
            given = getattr(self.channels, kind.value)
            if given is None:
                continue
            for channel in CHANNELS[kind]:
                value = getattr(given, channel.value)
                if value is not None:
                    chosen[kind][channel] = value
        return prefs.Preferences(
            channels=chosen,
            quiet_start=self.quiet_hours.start if self.quiet_hours else None,
            quiet_end=self.quiet_hours.end if self.quiet_hours else None,
            hide_content=self.hide_content,
        )

    @classmethod
    def of(cls, preferences: prefs.Preferences) -> NotificationPreferences:
        channels: dict[str, dict[str, bool]] = {
            kind.value: {
                channel.value: preferences.wants(kind, channel) for channel in CHANNELS[kind]
            }
            for kind in Kind
        }
        start, end = preferences.quiet_start, preferences.quiet_end
        quiet = None
        if start is not None and end is not None and start != end:
            quiet = QuietHours(start=start, end=end)
        return cls(
            channels=Channels.model_validate(channels),
            quiet_hours=quiet,
            hide_content=preferences.hide_content,
        )


# Every kind has its field, and every channel its flag: a kind added to kinds.py without
# one here would be impossible to choose.
assert set(Channels.model_fields) == {kind.value for kind in Kind}
assert set(Choice.model_fields) == {channel.value for channel in Channel}
