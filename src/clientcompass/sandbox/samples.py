"""What a first look at the demo business shows: a customer who wrote in, a quote ready to
send them and an invoice being drafted, so `make run` does not open onto empty pages.

Made once, when the demo business is created, through the same code the product uses: the
customer's messages are stored by `cc_record_inbound` (as a webhook stores them, follow-up
job included) and the documents by the documents service (a real numbered PDF).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text

from clientcompass.auth.principal import Principal
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.documents import service as documents
from clientcompass.documents.schemas import DocumentIn, LineIn
from clientcompass.documents.service import Kind
from clientcompass.models import Channel
from clientcompass.storage import Storage

CUSTOMER_PHONE = "+27835550100"
CUSTOMER_NAME = "Sipho Dlamini"
MESSAGES = (
    "Hi, my geyser is leaking through the ceiling 😟",
    "Can someone come out today? I'm in Parkhurst.",
)
RECORD = text(
    "SELECT message_id, conversation_id, contact_id FROM cc_record_inbound("
    ":tenant_id, :channel_id, :contact_id, :conversation_id, :message_id, :phone, :wa_id, "
    ":profile_name, :sid, :body, CAST('[]' AS jsonb), CAST('{}' AS jsonb), "
    "CAST(:status_times AS jsonb), :body, :now)"
)
LINES = [
    LineIn(description="Call-out fee", unit_price=Decimal("450")),
    LineIn(description="150 L geyser element and thermostat", unit_price=Decimal("1290")),
    LineIn(description="Labour", quantity=Decimal("2"), unit="h", unit_price=Decimal("480")),
]


async def add(
    uow: UnitOfWork, actor: Principal, channel: Channel, keyring: Keyring, storage: Storage
) -> None:
    """A conversation, a finalised quote and a draft invoice for one sample customer."""
    contact_id = None
    for minutes_ago, body in zip((7, 5), MESSAGES, strict=True):
        at = uow.now - timedelta(minutes=minutes_ago)
        row = (
            await uow.session.execute(
                RECORD,
                {
                    "tenant_id": actor.tenant_id,
                    "channel_id": channel.id,
                    "contact_id": uuid.uuid4(),
                    "conversation_id": uuid.uuid4(),
                    "message_id": uuid.uuid4(),
                    "phone": CUSTOMER_PHONE,
                    "wa_id": CUSTOMER_PHONE.lstrip("+"),
                    "profile_name": CUSTOMER_NAME,
                    "sid": f"SMdemo{uuid.uuid4().hex[:26]}",
                    "body": body,
                    "status_times": json.dumps({"received": at.isoformat()}),
                    "now": at,
                },
            )
        ).one()
        contact_id = row.contact_id
    assert contact_id is not None
    job = "Replace the leaking geyser element and thermostat"
    quote = await documents.create_draft(
        uow,
        actor,
        Kind.QUOTE,
        DocumentIn(contact_id=contact_id, job_description=job, lines=LINES),
    )
    await documents.finalise(uow, actor, quote.id, Kind.QUOTE, keyring=keyring, storage=storage)
    await documents.create_draft(
        uow,
        actor,
        Kind.INVOICE,
        DocumentIn(contact_id=contact_id, job_description=job, lines=LINES[:1]),
    )
