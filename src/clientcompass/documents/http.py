"""What the documents' JSON routes and pages share: collection names, the document as the
API shows it, the stored PDF as a response. Neither kind of route imports the other."""

from __future__ import annotations

import uuid

from fastapi import Response

from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.db import UnitOfWork
from clientcompass.documents import send_templates, sending, service
from clientcompass.documents.output import document_out
from clientcompass.documents.schemas import DocumentOut
from clientcompass.documents.service import Kind
from clientcompass.documents.status import business_today
from clientcompass.files import Download, DownloadResponse
from clientcompass.storage import Storage
from clientcompass.web.state import AppState

COLLECTIONS = {Kind.QUOTE: "quotes", Kind.INVOICE: "invoices", Kind.CREDIT_NOTE: "credit-notes"}


def storage(state: AppState) -> Storage:
    """Files live in PostgreSQL; downloads stream from this process's fast pool."""
    return Storage(state.fast)


async def output(uow: UnitOfWork, document_id: uuid.UUID, kind: Kind | None = None) -> DocumentOut:
    assert uow.tenant_id is not None
    profile = await business.profile_of(uow, uow.tenant_id)
    loaded = await service.load(uow, document_id, kind)
    return document_out(
        loaded, business_today(profile.timezone, uow.now), vat_registered=bool(profile.vat_number)
    )


def pdf_response(document_name: str, content: Download, *, download: bool) -> Response:
    """The PDF with ETag, Content-Length and Range (a stored one streams from the database)."""
    return DownloadResponse(
        content, filename=document_name, inline=not download, cache_control="private, no-store"
    )


async def prepare_send(
    state: AppState, principal: Principal, kind: Kind, template_id: uuid.UUID | None
) -> None:
    """What a send must ask Twilio first, outside any transaction (send_templates.py)."""
    await send_templates.prepare_send(
        state.unit_of_work,
        state.keyring,
        state.twilio,
        principal,
        kind,
        template_id,
        settings=state.settings,
    )


async def send_document(
    uow: UnitOfWork,
    state: AppState,
    principal: Principal,
    document_id: uuid.UUID,
    kind: Kind,
    template_id: uuid.UUID | None,
) -> sending.Sent:
    """The send itself, with this process's settings, keys and PDF storage."""
    return await sending.send_document(
        uow,
        principal,
        document_id,
        kind,
        settings=state.settings,
        keyring=state.keyring,
        storage=storage(state),
        template_id=template_id,
    )
