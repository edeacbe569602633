"""Settings → WhatsApp (connect a sender, see its webhook URLs) and media for members."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.errors import DomainError, NotFound
from clientcompass.files import DownloadResponse
from clientcompass.storage import Storage
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State
from clientcompass.web.forms import domain_error_fields, parse
from clientcompass.web.render import form_dict, redirect, render
from clientcompass.whatsapp import channels, media, outbound_media
from clientcompass.whatsapp.http import channel_out, connect_from
from clientcompass.whatsapp.schemas import ChannelIn

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    state: State,
    principal: CurrentManager,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        found = await channels.list_channels(uow, principal)
    return render(
        request,
        "settings/whatsapp.html",
        {
            "section": "whatsapp",
            "channels": [channel_out(state.settings.base_url, channel) for channel in found],
            "values": values or {},
            "errors": errors or {},
        },
        status,
    )


@router.get("/settings/whatsapp")
async def whatsapp_settings(request: Request, state: State, principal: CurrentManager) -> Response:
    return await _page(request, state, principal)


@router.post("/settings/whatsapp")
async def connect(request: Request, state: State, principal: CurrentManager) -> Response:
    values = await form_dict(request)
    data, errors = parse(ChannelIn, values)
    status = 422
    if data is not None:
        try:
            await connect_from(state, principal, data)
            return redirect("/settings/whatsapp")
        except DomainError as exc:
            errors, status = domain_error_fields(exc), exc.status_code
    values.pop("auth_token", None)
    return await _page(request, state, principal, values=values, errors=errors, status=status)


@router.get("/media/{media_id}")
async def media_file(media_id: uuid.UUID, state: State, principal: CurrentPrincipal) -> Response:
    """A stored WhatsApp file, only for members of the business that received it."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        found = await media.open_stored(uow, Storage(state.fast), media_id)
    if found is None:
        raise NotFound("That file does not exist, has not arrived yet, or has expired.")
    item, download = found
    return DownloadResponse(
        download,
        filename=item.filename or None,
        inline=item.content_type.startswith(("image/", "audio/", "video/")),
        cache_control="private, max-age=3600",
    )


@router.get("/m/{token}/{filename}")
async def signed_media(token: str, filename: str, state: State) -> Response:
    """A file we send, for Twilio to fetch: no login, but a signed URL that expires."""
    granted = outbound_media.read_token(state.settings.secret_key, token)
    gone = Response(
        "This link is invalid or has expired.\n", status_code=404, media_type="text/plain"
    )
    if granted is None:
        return gone
    tenant_id, media_id = granted
    async with state.unit_of_work(tenant_id) as uow:
        found = await media.open_stored(uow, Storage(state.fast), media_id)
    if found is None:
        return gone
    return DownloadResponse(found[1], cache_control="private, max-age=300")
