"""JSON API: channels, conversations and messages (contacts: contacts/api.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query, UploadFile

from clientcompass.auth.principal import Principal
from clientcompass.models import Channel
from clientcompass.storage import LocalStorage
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State
from clientcompass.web.state import AppState
from clientcompass.whatsapp import channels, outbound, outbound_media, queries, templates
from clientcompass.whatsapp.schemas import (
    ChannelIn,
    ChannelOut,
    ConversationOut,
    MessageIn,
    MessageOut,
    MessagesPage,
    UploadOut,
)

router = APIRouter(prefix="/api/v1", tags=["whatsapp"])


def channel_out(base_url: str, channel: Channel) -> ChannelOut:
    urls = channels.webhook_urls(base_url, channel)
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        whatsapp_from=channel.whatsapp_from,
        account_sid=channel.account_sid,
        is_sandbox=channel.is_sandbox,
        inbound_webhook_url=urls.inbound,
        status_callback_url=urls.status,
    )


@router.get("/channels", response_model=list[ChannelOut])
async def list_channels(state: State, principal: CurrentManager) -> list[ChannelOut]:
    async with state.unit_of_work(principal.tenant_id) as uow:
        found = await channels.list_channels(uow, principal)
    return [channel_out(state.settings.base_url, channel) for channel in found]


async def connect_from(state: AppState, principal: Principal, data: ChannelIn) -> Channel:
    """Connect a sender as the page and the API both do: checked with Twilio, then stored."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        return await channels.connect_twilio(
            uow,
            principal,
            state.keyring,
            state.twilio,
            account_sid=data.account_sid,
            auth_token=data.auth_token,
            whatsapp_from=data.whatsapp_from,
            messaging_service_sid=data.messaging_service_sid,
            name=data.name,
            sends_per_second=state.settings.whatsapp_sends_per_second,
        )


@router.post("/channels", response_model=ChannelOut, status_code=201)
async def connect_channel(data: ChannelIn, state: State, principal: CurrentManager) -> ChannelOut:
    """Connect a Twilio WhatsApp sender; the credentials are checked against Twilio first."""
    return channel_out(state.settings.base_url, await connect_from(state, principal, data))


@router.get("/conversations", response_model=list[ConversationOut])
async def list_conversations(
    state: State,
    principal: CurrentPrincipal,
    limit: int = Query(50, ge=1, le=200),
    before: datetime | None = Query(
        None, description="keyset cursor: last_message_at of the last row seen"
    ),
) -> list[ConversationOut]:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return await queries.list_conversations(uow, limit=limit, before=before)


@router.get("/conversations/{conversation_id}/messages", response_model=MessagesPage)
async def list_messages(
    conversation_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> MessagesPage:
    async with state.unit_of_work(principal.tenant_id) as uow:
        conversation = await queries.get_conversation(uow, conversation_id)
        messages = await queries.list_messages(uow, conversation_id)
    return MessagesPage(conversation=conversation, messages=messages)


@router.post(
    "/conversations/{conversation_id}/messages", response_model=MessageOut, status_code=202
)
async def send_message(
    conversation_id: uuid.UUID, data: MessageIn, state: State, principal: CurrentPrincipal
) -> MessageOut:
    """Accepted means stored as `queued`: it will be sent even if this process dies now."""
    if data.template is not None:
        outgoing = outbound.Outgoing(
            content_sid=data.template.content_sid,
            content_variables=data.template.variables,
            preview_text=data.template.preview,
        )
    else:
        outgoing = outbound.Outgoing(body=data.text, media_ids=tuple(data.media_ids))
    async with state.unit_of_work(principal.tenant_id) as uow:
        if data.template is not None and data.template.id is not None:
            # By id: the template must be approved and fully filled; the preview is rendered here.
            outgoing = await templates.outgoing_for(
                uow, data.template.id, data.template.variables, conversation_id=conversation_id
            )
        message = await outbound.enqueue(uow, principal, conversation_id, outgoing)
        result = queries.message_out(message, [])
    return result


@router.post("/media", response_model=UploadOut, status_code=201)
async def upload_media(file: UploadFile, state: State, principal: CurrentPrincipal) -> UploadOut:
    """Upload a file to send; then send it with `media_ids` on a conversation's messages."""
    limit = state.settings.media_max_bytes
    data = await file.read(limit + 1)
    async with state.unit_of_work(principal.tenant_id) as uow:
        item = await outbound_media.upload(
            uow,
            principal,
            LocalStorage(state.settings.media_dir),
            filename=file.filename or "file",
            content_type=file.content_type or "",
            data=data,
            max_bytes=limit,
        )
    return UploadOut(
        id=item.id, filename=item.filename, content_type=item.content_type, size=item.size or 0
    )
