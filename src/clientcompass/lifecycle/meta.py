"""Meta's data-deletion requests: record one, and say on its status page what was done.

Meta calls when a person removes our app from their Facebook account and asks for their
data to be deleted, naming them by an app-scoped user id. What Client Compass holds about
a Meta user id today is nothing: WhatsApp reaches it through Twilio, where a customer is a
phone number held by the business they wrote to, and the WhatsApp Cloud API provider that
would link a Meta account is not built yet. So a request is recorded as complete at once,
and its status page says so in plain words. When the Meta provider links data to these ids,
`_delete_linked` is where it is found and deleted, and the outcome says what went.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clientcompass.db import UnitOfWork
from clientcompass.lifecycle.signed_request import DeletionRequest
from clientcompass.models import MetaDeletionRequest

PATH = "/meta/data-deletion"
CODE = re.compile(r"^[0-9a-f]{20}$")  # alphanumeric, as Meta asks; 80 random bits

NOTHING_HELD = (
    "Client Compass held no information linked to this Meta (Facebook) account, so there "
    "was nothing to delete. Client Compass does not yet connect to Meta's WhatsApp Cloud "
    "API: WhatsApp messages reach the businesses that use it through Twilio, and nothing "
    "in them is linked to a Meta user id."
)


def status_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}{PATH}/{code}"


async def _delete_linked(uow: UnitOfWork, meta_user_id: str) -> str:
    """Delete what is linked to the Meta user id, and say what that was."""
    return NOTHING_HELD


async def record(uow: UnitOfWork, request: DeletionRequest) -> MetaDeletionRequest:
    """Act on a verified deletion request and record it under a new confirmation code."""
    outcome = await _delete_linked(uow, request.user_id)
    row = MetaDeletionRequest(
        id=uuid.uuid4(),
        confirmation_code=secrets.token_hex(10),
        meta_user_id=request.user_id,
        received_at=uow.now,
        issued_at=request.issued_at,
        outcome=outcome,
        completed_at=uow.now,
    )
    uow.session.add(row)
    await uow.session.flush()
    return row


async def find(uow: UnitOfWork, code: str) -> MetaDeletionRequest | None:
    if not CODE.fullmatch(code):
        return None
    found: MetaDeletionRequest | None = await uow.session.scalar(
        select(MetaDeletionRequest).where(MetaDeletionRequest.confirmation_code == code)
    )
    return found


def when(moment: datetime, zone: str) -> str:
    """ "4 December 2026 at 19:05" in the given time zone, for the status page."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.day} {local:%B %Y} at {local:%H:%M}"
