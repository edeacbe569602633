"""JSON API of the WhatsApp channel: connecting senders, uploading files to send.

Conversations and messages are served by inbox/api.py, contacts by contacts/api.py."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile

from clientcompass.storage import Storage
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State
from clientcompass.whatsapp import channels, outbound_media
from clientcompass.whatsapp.http import channel_out, connect_from
from clientcompass.whatsapp.schemas import ChannelIn, ChannelOut, UploadOut

router = APIRouter(prefix="/api/v1", tags=["whatsapp"])


@router.get("/channels", response_model=list[ChannelOut])
async def list_channels(state: State, principal: CurrentManager) -> list[ChannelOut]:
    async with state.unit_of_work(principal.tenant_id) as uow:
        found = await channels.list_channels(uow, principal)
    return [channel_out(state.settings.base_url, channel) for channel in found]


@router.post("/channels", response_model=ChannelOut, status_code=201)
async def connect_channel(data: ChannelIn, state: State, principal: CurrentManager) -> ChannelOut:
    """Connect a Twilio WhatsApp sender; the credentials are checked against Twilio first."""
    return channel_out(state.settings.base_url, await connect_from(state, principal, data))


@router.post("/media", response_model=UploadOut, status_code=201)
async def upload_media(file: UploadFile, state: State, principal: CurrentPrincipal) -> UploadOut:
    """Upload a file to send; then send it with `media_ids` on a conversation's messages."""
    limit = state.settings.media_max_bytes
    data = await file.read(limit + 1)
    async with state.unit_of_work(principal.tenant_id) as uow:
        item = await outbound_media.upload(
            uow,
            principal,
            Storage(),
            filename=file.filename or "file",
            content_type=file.content_type or "",
            data=data,
            max_bytes=limit,
        )
    return UploadOut(
        id=item.id, filename=item.filename, content_type=item.content_type, size=item.size or 0
    )
