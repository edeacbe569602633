"""The inbox pages: the list, a conversation beside it (one screen each on a phone), the
partials the live stream refreshes, the event stream itself, and sending.

Thin on purpose: every route calls the same services as the JSON API (inbox/api.py).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.auth.principal import Principal
from clientcompass.conversations import service as conversations
from clientcompass.conversations.queries import find_conversation_contact
from clientcompass.errors import DomainError, InvalidInput, NotFound
from clientcompass.inbox import listing, pages, service
from clientcompass.models import ConversationStatus
from clientcompass.realtime import sse
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.render import form_dict, redirect, render
from clientcompass.web.state import AppState
from clientcompass.whatsapp import outbound, templates
from clientcompass.whatsapp.template_rules import render_preview

router = APIRouter(include_in_schema=False)
STATUS_TABS = [
    ("open", "Open"),
    ("pending", "Pending"),
    ("snoozed", "Snoozed"),
    ("resolved", "Resolved"),
    ("all", "All"),
]
VIEW_TABS = [("all", "All"), ("mine", "Mine"), ("unassigned", "Unassigned")]


def filters_from(request: Request) -> listing.Filters:
    """The list's filters from the query string; the default is every open conversation."""
    params = request.query_params
    try:
        view = listing.View(params.get("view", "all"))
    except ValueError:
        view = listing.View.ALL
    status_text = params.get("status", "open")
    try:
        status = None if status_text == "all" else ConversationStatus(status_text)
    except ValueError:
        status = ConversationStatus.OPEN
    return listing.Filters(
        view=view,
        status=status,
        label=params.get("label", "")[:40],
        q=params.get("q", "")[:100],
    )


def query_string(filters: listing.Filters) -> str:
    """The filters for links (`?view=mine&…`), empty for the default list."""
    values = {
        **({"view": filters.view.value} if filters.view is not listing.View.ALL else {}),
        **(
            {"status": filters.status.value if filters.status else "all"}
            if filters.status is not ConversationStatus.OPEN
            else {}
        ),
        **({"label": filters.label} if filters.label else {}),
        **({"q": filters.q} if filters.q else {}),
    }
    return "?" + urlencode(values) if values else ""


def _list_context(page: pages.ListPage) -> dict[str, object]:
    return {
        "list": page,
        "qs": query_string(page.filters),
        "status_tabs": STATUS_TABS,
        "view_tabs": VIEW_TABS,
    }


async def _page(
    request: Request,
    state: AppState,
    principal: Principal,
    conversation_id: uuid.UUID | None,
    *,
    text: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    filters = filters_from(request)
    # Read the stream's head first: whatever commits after it is replayed to this page.
    last_event_id = await sse.head(state.redis, principal.tenant_id)
    async with state.unit_of_work(principal.tenant_id) as uow:
        page = await pages.list_page(uow, principal, filters, selected=conversation_id)
        labels = await service.tenant_labels(uow)
        thread = None
        if conversation_id is not None:
            thread = await pages.thread(uow, principal, conversation_id)
            if thread.conversation.unread_count:
                await service.mark_read(uow, conversation_id)
    return render(
        request,
        "inbox/page.html",
        {
            "section": "inbox",
            **_list_context(page),
            "all_labels": labels,
            "thread": thread,
            "text": text,
            "error": error,
            "last_event_id": last_event_id,
        },
        status,
    )


@router.get("/inbox")
async def inbox_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    return await _page(request, state, principal, None)


@router.get("/inbox/rows")
async def inbox_rows(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """The list alone (refreshed on live events; `after` appends the next page)."""
    selected = request.query_params.get("selected", "")
    async with state.unit_of_work(principal.tenant_id) as uow:
        page = await pages.list_page(
            uow,
            principal,
            filters_from(request),
            after=request.query_params.get("after", ""),
            selected=uuid.UUID(selected) if len(selected) == 36 else None,
        )
    template = "inbox/_more.html" if request.query_params.get("after") else "inbox/_rows.html"
    return render(request, template, _list_context(page))


@router.get("/inbox/events")
async def inbox_events(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """Server-Sent Events for this business; resumes after `Last-Event-ID` (or `?last_event_id=`)."""
    return sse.response(request, state.redis, principal.tenant_id, user_id=principal.user_id)


@router.get("/inbox/{conversation_id:uuid}")
async def conversation_page(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    return await _page(request, state, principal, conversation_id)


@router.get("/inbox/{conversation_id:uuid}/thread")
async def conversation_thread(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """The thread alone, refreshed on live events; seeing it marks the conversation read."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        thread = await pages.thread(uow, principal, conversation_id, full=False)
        if thread.conversation.unread_count:
            await service.mark_read(uow, conversation_id)
    return render(request, "inbox/_thread.html", {"thread": thread})


@router.get("/inbox/{conversation_id:uuid}/earlier")
async def earlier_messages(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """The page of the thread before `before`, put above what is shown."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        found = await pages.earlier(
            uow, principal, conversation_id, request.query_params.get("before", "")
        )
    return render(
        request,
        "inbox/_items.html",
        {"items": found.items, "earlier": found.earlier, "conversation_id": conversation_id},
    )


async def _panel_part(
    request: Request, state: AppState, principal: Principal, conversation_id: uuid.UUID, name: str
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        thread = await pages.thread(uow, principal, conversation_id)
        labels = await service.tenant_labels(uow)
    return render(
        request,
        f"inbox/_{name}.html",
        {"thread": thread, "all_labels": labels, "text": "", "error": ""},
    )


@router.get("/inbox/{conversation_id:uuid}/head")
async def conversation_head(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """Name, assignee, status and labels, refreshed when a teammate changes them."""
    return await _panel_part(request, state, principal, conversation_id, "head")


@router.get("/inbox/{conversation_id:uuid}/composer")
async def conversation_composer(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """The composer, refreshed when the 24-hour window opens or closes."""
    return await _panel_part(request, state, principal, conversation_id, "composer")


@router.get("/inbox/{conversation_id:uuid}/template-preview")
async def template_preview(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """The chosen template filled with what has been typed so far, as the customer will read it."""
    params = request.query_params
    variables = {k.removeprefix("var_"): v for k, v in params.items() if k.startswith("var_")}
    text = ""
    template_id = params.get("template_id", "")
    chosen = None
    if template_id:
        try:
            chosen = uuid.UUID(template_id)
        except ValueError:  # a malformed id was a 500
            raise NotFound("That template does not exist.") from None
    async with state.unit_of_work(principal.tenant_id) as uow:
        # Another business's conversation is not found here either, as on every inbox route.
        await find_conversation_contact(uow, conversation_id)
        if chosen is not None:
            text = render_preview(await templates.get_template(uow, chosen), variables)
    return render(request, "inbox/_template_preview.html", {"text": text})


@router.post("/inbox/{conversation_id:uuid}/messages")
async def reply(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """Queue a reply (stored before we answer; the worker sends it). A closed 24-hour window
    or an empty message re-shows the page with the reason and what was typed."""
    form = await form_dict(request)
    text = form.get("body", "")
    media_id = form.get("media_id", "")
    try:
        media_ids = (uuid.UUID(media_id),) if media_id else ()
    except ValueError:
        media_ids = ()
    # The composer's per-draft key (inbox.js): a reply sent again on reconnect is stored once.
    try:
        client_key = uuid.UUID(form["client_key"]) if form.get("client_key") else None
    except ValueError:
        client_key = None
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            await conversations.send(
                uow,
                principal,
                conversation_id,
                outbound.Outgoing(body=text, media_ids=media_ids, client_key=client_key),
            )
    except DomainError as exc:
        return await _page(
            request,
            state,
            principal,
            conversation_id,
            text=text,
            error=exc.message,
            status=exc.status_code,
        )
    return redirect(f"/inbox/{conversation_id}")


@router.post("/inbox/{conversation_id:uuid}/template")
async def send_template(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """Send an approved template (any time, and the only way once the window has closed)."""
    form = await form_dict(request)
    variables = {k.removeprefix("var_"): v for k, v in form.items() if k.startswith("var_")}
    try:
        try:
            template_id = uuid.UUID(form.get("template_id", ""))
        except ValueError as exc:
            raise InvalidInput("Choose a template to send.", field="template") from exc
        async with state.unit_of_work(principal.tenant_id) as uow:
            outgoing = await templates.outgoing_for(
                uow, template_id, variables, conversation_id=conversation_id
            )
            await conversations.send(uow, principal, conversation_id, outgoing)
    except DomainError as exc:
        return await _page(
            request, state, principal, conversation_id, error=exc.message, status=exc.status_code
        )
    return redirect(f"/inbox/{conversation_id}")
