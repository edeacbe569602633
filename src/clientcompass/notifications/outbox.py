"""Queueing a push: one job per notice and payload (all the devices that show the same
thing), written in the caller's transaction, so it exists exactly when what it tells of does.

The job contract is here, shared by whoever queues and `push.py`, which runs them.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum

from clientcompass.db import UnitOfWork

PUSH_TASK = "notifications.push"


class Urgency(StrEnum):
    """RFC 8030 §5.3: how eagerly a phone on battery should wake for it."""

    VERY_LOW = "very-low"
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


@dataclass(frozen=True)
class Push:
    """What a device shows: only this reaches the push service, encrypted (RFC 8291).

    `tag` groups notifications on the device (a newer one replaces an older with the same
    tag); `topic` makes the push service keep only the newest undelivered one per topic,
    so a burst of messages in one conversation reaches a sleeping phone as one.
    """

    title: str
    body: str
    url: str
    tag: str
    urgency: Urgency = Urgency.NORMAL
    ttl_seconds: int = 24 * 3600

    @property
    def topic(self) -> str:
        return topic_for(self.tag)

    def payload(self) -> dict[str, str]:
        return {"title": self.title, "body": self.body, "url": self.url, "tag": self.tag}


def topic_for(tag: str) -> str:
    """RFC 8030 §5.4: at most 32 characters of the URL-safe base64 alphabet."""
    digest = hashlib.sha256(tag.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def queue_push(
    uow: UnitOfWork,
    subscription_ids: Sequence[uuid.UUID],
    push: Push,
    *,
    attempt: int = 0,
    schedule_in: float = 0,
) -> None:
    """One job for every device that shows the same thing: sent side by side, so a burst
    costs a job per notice, not per phone."""
    assert uow.tenant_id is not None
    if not subscription_ids:
        return
    data = asdict(push)
    data["urgency"] = push.urgency.value
    uow.defer_job(
        PUSH_TASK,
        schedule_in=schedule_in,
        tenant_id=str(uow.tenant_id),
        subscription_ids=[str(s) for s in subscription_ids],
        push=data,
        attempt=attempt,
    )


def push_from_job(data: dict[str, object]) -> Push:
    return Push(
        title=str(data["title"]),
        body=str(data["body"]),
        url=str(data["url"]),
        tag=str(data["tag"]),
        urgency=Urgency(str(data.get("urgency", Urgency.NORMAL.value))),
        ttl_seconds=int(str(data.get("ttl_seconds", 24 * 3600))),
    )
