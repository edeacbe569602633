"""Twilio's Content API v1: templates and their WhatsApp approval, played out locally.

Templates are created with a JSON body (``friendly_name``, ``language``, ``variables``,
``types``) and submitted to WhatsApp with ``{name, category}``. Meta's review is
asynchronous; the stand-in plays it: ``received`` → ``pending`` → ``approved`` (or
``rejected`` with a reason when the name contains "reject"), and the control surface
can force any status (paused, disabled, ...) so the app's sync job can be tested.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from .auth import authenticate, public_base
from .errors import TwilioError, not_found
from .formats import (
    approval_fetch_json,
    approval_fields,
    content_and_approvals_json,
    content_json,
    content_page,
    primary_type,
)
from .rest import paging
from .state import Account, Approval, Content, StandinState, new_sid, now

CATEGORIES = ("UTILITY", "MARKETING", "AUTHENTICATION")
KNOWN_TYPES = frozenset(
    {
        "twilio/text",
        "twilio/media",
        "twilio/location",
        "twilio/list-picker",
        "twilio/call-to-action",
        "twilio/quick-reply",
        "twilio/card",
        "twilio/catalog",
        "twilio/carousel",
        "twilio/flows",
        "twilio/schedule",
        "whatsapp/card",
        "whatsapp/authentication",
        "whatsapp/flows",
    }
)
CTA_TYPES = ("URL", "PHONE_NUMBER", "COPY_CODE", "VOICE_CALL", "VOICE_CALL_REQUEST")
CARD_ACTION_TYPES = ("URL", "PHONE_NUMBER", "QUICK_REPLY", "COPY_CODE", "VOICE_CALL")
# A media URL may hold variables only after a fixed scheme://host/ (Twilio's rule for
# variable media in cards and media templates).
FIXED_MEDIA_PREFIX = re.compile(r"^https?://[^/{}\s]+/")
REJECTION_REASON = (
    "INVALID_FORMAT. The stand-in rejects every template whose name contains 'reject'."
)


def invalid(message: str) -> TwilioError:
    return TwilioError(400, 20001, message)


def _check_actions(name: str, spec: dict[str, Any], *, call_to_action: bool) -> None:
    actions = spec.get("actions")
    if not isinstance(actions, list) or not actions:
        raise invalid(f"{name} needs a non-empty actions list")
    for action in actions:
        if not isinstance(action, dict) or not isinstance(action.get("title"), str):
            raise invalid(f"every {name} action needs a title")
        if call_to_action:
            kind = action.get("type")
            if kind not in CTA_TYPES:
                raise invalid(f"{name} action type must be one of {', '.join(CTA_TYPES)}")
            if kind == "URL" and not isinstance(action.get("url"), str):
                raise invalid(f"{name} URL action needs a url")
            if kind == "PHONE_NUMBER" and not isinstance(action.get("phone"), str):
                raise invalid(f"{name} PHONE_NUMBER action needs a phone")


def _check_list_picker(spec: dict[str, Any]) -> None:
    """twilio/list-picker (Content API docs): a body (≤ 1,024), a button, 1 to 10 items, each
    with an item (≤ 24), an id (≤ 200) and a description (≤ 72)."""
    body, button, items = spec.get("body"), spec.get("button"), spec.get("items")
    if not isinstance(body, str) or not body or len(body) > 1024:
        raise invalid("twilio/list-picker needs a body of at most 1,024 characters")
    if not isinstance(button, str) or not button:
        raise invalid("twilio/list-picker needs a button")
    if not isinstance(items, list) or not 1 <= len(items) <= 10:
        raise invalid("twilio/list-picker needs 1 to 10 items")
    for entry in items:
        if not isinstance(entry, dict):
            raise invalid("every twilio/list-picker item must be an object")
        for field, limit in (("item", 24), ("id", 200), ("description", 72)):
            value = entry.get(field)
            if not isinstance(value, str) or not value or len(value) > limit:
                raise invalid(f"every twilio/list-picker item needs a {field} of at most {limit}")


def _check_media(name: str, media: Any) -> None:
    if not isinstance(media, list) or not media or not all(isinstance(u, str) for u in media):
        raise invalid(f"{name} needs a non-empty media list")
    for url in media:
        if "{{" in url and not FIXED_MEDIA_PREFIX.match(url.split("{{", 1)[0]):
            raise invalid(f"{name} media with a variable needs a fixed https://host/ before it")


def _check_card(spec: dict[str, Any]) -> None:
    """twilio/card: a title and at least one more field; typed actions (Content API schema)."""
    if not isinstance(spec.get("title"), str) or not spec["title"]:
        raise invalid("twilio/card needs a title")
    if not any(spec.get(field) for field in ("subtitle", "media", "actions")):
        raise invalid("twilio/card needs a subtitle, media or actions besides its title")
    if "media" in spec:
        _check_media("twilio/card", spec["media"])
    actions = spec.get("actions", [])
    if not isinstance(actions, list):
        raise invalid("twilio/card actions must be a list")
    for action in actions:
        if not isinstance(action, dict) or not isinstance(action.get("title"), str):
            raise invalid("every twilio/card action needs a title")
        if action.get("type") not in CARD_ACTION_TYPES:
            raise invalid(f"twilio/card action type must be one of {', '.join(CARD_ACTION_TYPES)}")


def check_types(types: Any) -> dict[str, Any]:
    """Validate ``types`` against the Content API schema's required fields."""
    if not isinstance(types, dict) or not types:
        raise invalid("types must be an object with at least one content type")
    for name, spec in types.items():
        if name not in KNOWN_TYPES:
            raise invalid(f"unknown content type {name}")
        if not isinstance(spec, dict):
            raise invalid(f"{name} must be an object")
        body = spec.get("body")
        if name in ("twilio/text", "twilio/quick-reply", "twilio/call-to-action") and not (
            isinstance(body, str) and body
        ):
            raise invalid(f"{name} needs a body")
        if name == "twilio/media":
            _check_media(name, spec.get("media"))
        if name == "twilio/card":
            _check_card(spec)
        if name == "twilio/quick-reply":
            _check_actions(name, spec, call_to_action=False)
        if name == "twilio/list-picker":
            _check_list_picker(spec)
        if name == "twilio/call-to-action":
            _check_actions(name, spec, call_to_action=True)
    return types


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid("the request body must be JSON") from exc
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object")
    return body


def new_content(account: Account, body: dict[str, Any]) -> Content:
    language = body.get("language")
    if not isinstance(language, str) or not language:
        raise invalid("language is required")
    friendly_name = body.get("friendly_name") or ""
    variables = body.get("variables") or {}
    if not isinstance(friendly_name, str):
        raise invalid("friendly_name must be a string")
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise invalid("variables must map names to string sample values")
    return Content(
        sid=new_sid("HX"),
        account_sid=account.sid,
        friendly_name=friendly_name,
        language=language,
        variables={str(k): v for k, v in variables.items()},
        types=check_types(body.get("types")),
    )


async def play_approval(state: StandinState, content: Content) -> None:
    """Meta's review, compressed: received → pending → approved/rejected."""
    first, second, _ = state.progress_delays
    await asyncio.sleep(first)
    approval = content.approval
    if approval is None or approval.status != "received":
        return  # the control surface took over
    approval.status = "pending"
    await asyncio.sleep(second)
    if content.approval is not approval or approval.status != "pending":
        return
    if "reject" in approval.name.lower():
        approval.status = "rejected"
        approval.rejection_reason = REJECTION_REASON
    else:
        approval.status = "approved"
    content.date_updated = now()


def build_router(state: StandinState) -> APIRouter:
    router = APIRouter()

    def owned(sid: str, request: Request) -> Content:
        account = authenticate(state, request)
        content = state.contents.get(sid)
        if content is None or content.account_sid != account.sid:
            raise not_found(request.url.path)
        return content

    @router.post("/v1/Content")
    async def create_content(request: Request) -> JSONResponse:
        account = authenticate(state, request)
        content = new_content(account, await json_body(request))
        state.contents[content.sid] = content
        return JSONResponse(content_json(public_base(state, request), content), status_code=201)

    @router.get("/v1/Content")
    async def list_content(request: Request) -> JSONResponse:
        account = authenticate(state, request)
        page, page_size = paging(request)
        mine = [c for c in state.contents.values() if c.account_sid == account.sid]
        base = public_base(state, request)
        chunk = mine[page * page_size : (page + 1) * page_size]
        items = [content_json(base, c) for c in chunk]
        return JSONResponse(
            content_page(
                items,
                base=base,
                path="/v1/Content",
                page=page,
                page_size=page_size,
                total=len(mine),
            )
        )

    @router.get("/v1/ContentAndApprovals")
    async def list_content_and_approvals(request: Request) -> JSONResponse:
        account = authenticate(state, request)
        page, page_size = paging(request)
        mine = [c for c in state.contents.values() if c.account_sid == account.sid]
        chunk = mine[page * page_size : (page + 1) * page_size]
        return JSONResponse(
            content_page(
                [content_and_approvals_json(c) for c in chunk],
                base=public_base(state, request),
                path="/v1/ContentAndApprovals",
                page=page,
                page_size=page_size,
                total=len(mine),
            )
        )

    @router.get("/v1/Content/{sid}")
    async def fetch_content(sid: str, request: Request) -> JSONResponse:
        return JSONResponse(content_json(public_base(state, request), owned(sid, request)))

    @router.delete("/v1/Content/{sid}")
    async def delete_content(sid: str, request: Request) -> Response:
        state.contents.pop(owned(sid, request).sid, None)
        return Response(status_code=204)

    @router.post("/v1/Content/{sid}/ApprovalRequests/whatsapp")
    async def create_approval(sid: str, request: Request) -> JSONResponse:
        content = owned(sid, request)
        body = await json_body(request)
        name, category = body.get("name"), body.get("category")
        if not isinstance(name, str) or not name:
            raise invalid("name is required")
        if not isinstance(category, str) or category.upper() not in CATEGORIES:
            raise invalid(f"category must be one of {', '.join(CATEGORIES)}")
        content.approval = Approval(
            name=name,
            category=category.upper(),
            status="received",
            content_type=primary_type(content.types),
        )
        content.date_updated = now()
        if state.auto_progress:
            state.spawn(play_approval(state, content), name=f"approval {content.sid}")
        return JSONResponse(approval_fields(content), status_code=201)

    @router.get("/v1/Content/{sid}/ApprovalRequests")
    async def fetch_approval(sid: str, request: Request) -> JSONResponse:
        content = owned(sid, request)
        return JSONResponse(approval_fetch_json(public_base(state, request), content))

    return router
