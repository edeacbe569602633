"""JSON API for sending documents on WhatsApp: /api/v1/quotes/{id}/send, /invoices/{id}/send,
and the one-click suggested template for each kind."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from clientcompass.documents import http, send_templates
from clientcompass.documents.http import COLLECTIONS, output, storage
from clientcompass.documents.schemas import DocumentOut
from clientcompass.documents.service import Kind
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State

router = APIRouter(prefix="/api/v1", tags=["documents"])


class SendIn(BaseModel):
    """Outside the 24-hour window: the approved template to use (default: the chosen one)."""

    template_id: uuid.UUID | None = None


class SendOut(BaseModel):
    document: DocumentOut
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    template_id: uuid.UUID | None
    via: str  # "document" (PDF in the window) or "template"


class SuggestedTemplateOut(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    body: str


def _send_route(kind: Kind) -> None:
    collection = COLLECTIONS[kind]
    name = collection.replace("-", "_")

    @router.post(
        f"/{collection}/{{document_id}}/send",
        response_model=SendOut,
        status_code=202,
        name=f"send_{name}",
    )
    async def send(
        document_id: uuid.UUID,
        state: State,
        principal: CurrentPrincipal,
        data: SendIn | None = None,
    ) -> SendOut:
        """Finalise if needed and queue on WhatsApp: the PDF inside the 24-hour window, the
        approved template outside it. The message then ticks like any other."""
        template_id = data.template_id if data else None
        await http.prepare_send(state, principal, kind, template_id)
        async with state.unit_of_work(principal.tenant_id) as uow:
            sent = await http.send_document(uow, state, principal, document_id, kind, template_id)
            return SendOut(
                document=await output(uow, document_id, kind),
                message_id=sent.message.id,
                conversation_id=sent.conversation_id,
                template_id=sent.template_id,
                via="template" if sent.template_id else "document",
            )

    @router.post(
        f"/{collection}/send-template",
        response_model=SuggestedTemplateOut,
        status_code=201,
        name=f"suggested_template_{name}",
    )
    async def suggested_template(state: State, principal: CurrentManager) -> SuggestedTemplateOut:
        """Create and submit the suggested UTILITY template for sending this kind outside the
        window, and make it the one used; calling again reuses it."""
        async with state.unit_of_work(principal.tenant_id) as uow:
            template = await send_templates.create_suggested_template(
                uow,
                principal,
                state.keyring,
                state.twilio,
                kind,
                settings=state.settings,
                storage=storage(state),
            )
            return SuggestedTemplateOut(
                id=template.id, name=template.name, status=template.status.value, body=template.body
            )


for _kind in send_templates.SENDABLE:
    _send_route(_kind)
