"""The two export answers the pages and the JSON API both give: a finished export's ZIP
behind its signed link, and a person's own account data as it is read.

In a module of their own because a page never imports a JSON route module nor the reverse
(tests/core/test_architecture.py): each side calls these, so the rules (an owner of the
business the link names, a genuine and current link) live in one place.
"""

from __future__ import annotations

from fastapi.responses import Response, StreamingResponse

from clientcompass.auth.principal import Principal
from clientcompass.errors import NotFound
from clientcompass.files import DownloadResponse, open_file
from clientcompass.lifecycle import export as service
from clientcompass.lifecycle import export_account
from clientcompass.models.base import utcnow
from clientcompass.storage import Storage
from clientcompass.web.state import AppState


async def download_response(state: AppState, principal: Principal, token: str) -> Response:
    """The ZIP a signed link names, for an owner of its business (404 for anything else)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        export = await service.for_download(uow, principal, state.settings.secret_key, token)
        assert export.file_id is not None
        found = await open_file(uow, Storage(state.fast).reader, export.file_id)
    if found is None:
        raise NotFound(service.EXPIRED_LINK)
    return DownloadResponse(found, filename=service.filename(export), inline=False)


async def own_data_response(state: AppState, principal: Principal) -> Response:
    """Everything held about the caller, streamed as one JSON document (any role). Signed-in
    devices are listed for a browser session; an API token has no session to start from."""
    devices = await state.sessions.devices(principal.session) if principal.session else []
    body = export_account.stream(state.db, principal, devices)
    day = utcnow().strftime("%Y-%m-%d")
    return StreamingResponse(
        body,
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="clientcompass-my-data-{day}.json"',
            "cache-control": "no-store",
        },
    )
