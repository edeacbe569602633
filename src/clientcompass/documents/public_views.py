"""The customer's document page at /d/{token}: no login, no navigation, nothing else shown.

Every route reads the token first; a bad token answers a plain 404 page and touches no
data. The rest runs in a unit of work scoped to the token's tenant. Accept and Decline are
forms protected by the double-submit CSRF token the sign-in forms use.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.documents import http as documents_http
from clientcompass.documents import public, quotes, service, stored_pdf
from clientcompass.documents.public import NOT_FOUND, PublicRef
from clientcompass.errors import DomainError, NotFound
from clientcompass.web.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfFailed,
    State,
    anonymous_csrf_token,
    check_csrf,
    load_session,
)
from clientcompass.web.render import redirect
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)

# What the page says after an answer; shown only when the status agrees with it.
NOTICES = {
    "accepted": ("accepted", "Thank you. You accepted this quote; the business has been told."),
    "declined": ("declined", "You declined this quote. The business has been told."),
    "already-accepted": ("accepted", "This quote was already accepted. Nothing more to do."),
    "already-declined": ("declined", "This quote was already declined."),
}
NO_INDEX = {"x-robots-tag": "noindex, nofollow"}


def _page(
    request: Request, state: AppState, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    return state.templates.TemplateResponse(
        request, template, context, status_code=status, headers=NO_INDEX
    )


def _not_found(request: Request, state: AppState, message: str = NOT_FOUND) -> Response:
    return _page(request, state, "documents/public_error.html", {"message": message}, 404)


async def _granted(state: AppState, token: str) -> PublicRef | None:
    return await public.grant(state.unit_of_work, state.settings, token)


async def _is_team_member(request: Request, state: AppState, ref: PublicRef) -> bool:
    """Someone of the business itself opening the link (to check it) is not the customer."""
    if not request.cookies.get(SESSION_COOKIE):
        return False
    session = await load_session(request, state)
    return session is not None and session.tenant_id == ref.tenant_id


@router.get("/d/{token}")
async def document_page(request: Request, token: str, state: State) -> Response:
    ref = await _granted(state, token)
    if ref is None:
        return _not_found(request, state)
    is_customer = (
        request.method == "GET"
        and not public.is_link_preview(request.headers.get("user-agent", ""))
        and not await _is_team_member(request, state, ref)
    )
    try:
        async with state.unit_of_work(ref.tenant_id) as uow:
            if is_customer:
                await public.record_view(uow, ref.document_id)
            shown = await public.view(uow, state.keyring, ref.document_id)
    except NotFound:
        return _not_found(request, state)
    wanted = NOTICES.get(request.query_params.get("answer", ""))
    notice = wanted[1] if wanted is not None and shown.status == wanted[0] else ""
    return _document(request, state, shown, token, notice=notice)


def _document(
    request: Request,
    state: AppState,
    shown: public.PublicView,
    token: str,
    *,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    context = {
        "doc": shown,
        "token": token,
        "notice": notice,
        "error": error,
        "public_csrf": anonymous_csrf_token(request),
    }
    return _page(request, state, "documents/public.html", context, status)


async def _answer(request: Request, token: str, state: AppState, choice: quotes.Answer) -> Response:
    ref = await _granted(state, token)
    if ref is None:
        return _not_found(request, state)
    try:
        await check_csrf(request, request.cookies.get(CSRF_COOKIE, ""))
    except CsrfFailed as exc:
        return _page(request, state, "documents/public_error.html", {"message": exc.message}, 403)
    try:
        async with state.unit_of_work(ref.tenant_id) as uow:
            answered = await public.answer(uow, ref.document_id, choice)
    except NotFound:
        return _not_found(request, state)
    except DomainError as exc:
        async with state.unit_of_work(ref.tenant_id) as uow:
            shown = await public.view(uow, state.keyring, ref.document_id)
        return _document(request, state, shown, token, error=exc.message, status=exc.status_code)
    done = "accepted" if choice is quotes.Answer.ACCEPT else "declined"
    outcome = done if answered.changed else f"already-{done}"
    return redirect(f"/d/{token}?answer={outcome}")


@router.post("/d/{token}/accept")
async def accept(request: Request, token: str, state: State) -> Response:
    return await _answer(request, token, state, quotes.Answer.ACCEPT)


@router.post("/d/{token}/decline")
async def decline(request: Request, token: str, state: State) -> Response:
    return await _answer(request, token, state, quotes.Answer.DECLINE)


@router.get("/d/{token}/pdf")
async def document_pdf(request: Request, token: str, state: State) -> Response:
    """The stored PDF, byte for byte what was issued."""
    ref = await _granted(state, token)
    if ref is None:
        return _not_found(request, state)
    try:
        async with state.unit_of_work(ref.tenant_id) as uow:
            await public.issued_document(uow, ref.document_id)
            document, content = await stored_pdf.pdf_bytes(
                uow,
                ref.document_id,
                None,
                keyring=state.keyring,
                storage=documents_http.storage(state),
            )
    except NotFound:
        return _not_found(request, state)
    response = documents_http.pdf_response(
        service.pdf_filename(document),
        content,
        download=request.query_params.get("download") == "1",
    )
    response.headers.update(NO_INDEX)
    return response


@router.get("/d/{token}/logo")
async def document_logo(request: Request, token: str, state: State) -> Response:
    ref = await _granted(state, token)
    if ref is None:
        return _not_found(request, state)
    try:
        async with state.unit_of_work(ref.tenant_id) as uow:
            await public.issued_document(uow, ref.document_id)
            found = await public.logo(uow)
    except NotFound:
        return _not_found(request, state)
    if found is None:
        return _not_found(request, state, "This business has no logo.")
    content, content_type = found
    return Response(
        content, media_type=content_type, headers={"cache-control": "private, max-age=300"}
    )
