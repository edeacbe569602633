"""Twilio's JSON shapes for the resources the stand-in serves.

The field sets and formats follow Twilio's OpenAPI specs (twilio-oai):
API v2010 uses snake_case fields, RFC 2822 dates and ``uri`` values relative to the API
host, and list pages with ``start/end/page/page_size`` and ``*_page_uri`` fields; the
Content API uses ISO 8601 dates, absolute ``url`` values and a ``meta`` block in lists.
``uri`` values stay relative to the API base (never including a mount prefix) because
the SDK builds next-page URLs as ``base_url + next_page_uri``.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from .state import API_VERSION, Account, Approval, Content, Media, Message

ACCOUNTS = f"/{API_VERSION}/Accounts"
TEMPLATE_TYPES_BY_PRIORITY = (
    "twilio/quick-reply",
    "twilio/call-to-action",
    "twilio/card",
    "whatsapp/card",
    "twilio/list-picker",
    "twilio/carousel",
    "twilio/location",
    "whatsapp/authentication",
    "twilio/media",
    "twilio/text",
)
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def rfc2822(value: datetime | None) -> str | None:
    """API v2010 dates: ``Thu, 30 Jul 2015 20:12:31 +0000``."""
    return email.utils.format_datetime(value) if value is not None else None


def iso8601(value: datetime) -> str:
    """Content API dates: ``2015-07-30T19:00:00Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def account_json(account: Account) -> dict[str, Any]:
    uri = f"{ACCOUNTS}/{account.sid}"
    return {
        "auth_token": account.auth_token,
        "date_created": rfc2822(account.date_created),
        "date_updated": rfc2822(account.date_created),
        "friendly_name": account.friendly_name,
        "owner_account_sid": account.sid,
        "sid": account.sid,
        "status": "active",
        "subresource_uris": {"messages": f"{uri}/Messages.json"},
        "type": "Full",
        "uri": f"{uri}.json",
    }


def message_uri(message: Message) -> str:
    return f"{ACCOUNTS}/{message.account_sid}/Messages/{message.sid}"


def message_json(message: Message) -> dict[str, Any]:
    uri = message_uri(message)
    return {
        "account_sid": message.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": rfc2822(message.date_created),
        "date_sent": rfc2822(message.date_sent),
        "date_updated": rfc2822(message.date_updated),
        "direction": message.direction,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": str(len(message.media_sids) or len(message.media_urls)),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": message.to,
        "uri": f"{uri}.json",
    }


def media_uri(media: Media) -> str:
    """The media's content URL (without ``.json``), relative to the API base."""
    return f"{ACCOUNTS}/{media.account_sid}/Messages/{media.message_sid}/Media/{media.sid}"


def media_json(media: Media) -> dict[str, Any]:
    return {
        "account_sid": media.account_sid,
        "content_type": media.content_type,
        "date_created": rfc2822(media.date_created),
        "date_updated": rfc2822(media.date_created),
        "parent_sid": media.message_sid,
        "sid": media.sid,
        "uri": f"{media_uri(media)}.json",
    }


def v2010_page(
    key: str,
    items: Sequence[dict[str, Any]],
    *,
    path: str,
    filters: list[tuple[str, str]],
    page: int,
    page_size: int,
    total: int,
) -> dict[str, Any]:
    """A v2010 list page; ``items`` is already the slice for ``page``."""

    def page_uri(number: int) -> str:
        query = [*filters, ("PageSize", str(page_size)), ("Page", str(number))]
        if number > 0:
            query.append(("PageToken", f"PASM{number * page_size}"))
        return f"{path}?{urlencode(query)}"

    start = page * page_size
    has_next = start + len(items) < total
    return {
        key: list(items),
        "end": start + max(len(items) - 1, 0),
        "first_page_uri": page_uri(0),
        "next_page_uri": page_uri(page + 1) if has_next else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": page_uri(page),
    }


# -- Content API ------------------------------------------------------------------


def primary_type(types: dict[str, Any]) -> str:
    """The content type WhatsApp sees (the richest one), e.g. ``twilio/quick-reply``."""
    for name in TEMPLATE_TYPES_BY_PRIORITY:
        if name in types:
            return name
    return next(iter(types), "twilio/text")


def render(text: str, variables: dict[str, str]) -> str:
    """Fill ``{{1}}``-style placeholders, leaving unknown ones as they are."""
    return PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def template_body(content: Content, variables: dict[str, str]) -> str:
    """The text a template message shows, with the defaults overridden by ``variables``."""
    values = {**content.variables, **variables}
    spec = content.types.get(primary_type(content.types))
    # A card's text is its title (and subtitle); other types have a body.
    body = (spec.get("body") or spec.get("title")) if isinstance(spec, dict) else None
    if not isinstance(body, str):
        text = content.types.get("twilio/text")
        body = text.get("body") if isinstance(text, dict) else ""
    return render(body if isinstance(body, str) else "", values)


def template_media(content: Content, variables: dict[str, str]) -> list[str]:
    """The file(s) a content carries in its header (card or media), variables filled."""
    values = {**content.variables, **variables}
    spec = content.types.get(primary_type(content.types))
    media = spec.get("media") if isinstance(spec, dict) else None
    if not isinstance(media, list):
        return []
    return [render(url, values) for url in media if isinstance(url, str)]


def content_links(base: str, sid: str) -> dict[str, str]:
    return {
        "approval_create": f"{base}/v1/Content/{sid}/ApprovalRequests/whatsapp",
        "approval_fetch": f"{base}/v1/Content/{sid}/ApprovalRequests",
    }


def content_json(base: str, content: Content) -> dict[str, Any]:
    return {
        "sid": content.sid,
        "account_sid": content.account_sid,
        "friendly_name": content.friendly_name,
        "language": content.language,
        "variables": content.variables,
        "types": content.types,
        "url": f"{base}/v1/Content/{content.sid}",
        "date_created": iso8601(content.date_created),
        "date_updated": iso8601(content.date_updated),
        "links": content_links(base, content.sid),
    }


def approval_fields(content: Content) -> dict[str, Any]:
    """The WhatsApp approval block (``unsubmitted`` before any request)."""
    approval = content.approval or Approval(
        name="", category="", status="unsubmitted", content_type=""
    )
    return {
        "name": approval.name,
        "category": approval.category,
        "content_type": approval.content_type,
        "status": approval.status,
        "rejection_reason": approval.rejection_reason,
        "allow_category_change": approval.allow_category_change,
    }


def approval_fetch_json(base: str, content: Content) -> dict[str, Any]:
    return {
        "sid": content.sid,
        "account_sid": content.account_sid,
        "whatsapp": {"type": "whatsapp", **approval_fields(content)},
        "url": f"{base}/v1/Content/{content.sid}/ApprovalRequests",
    }


def content_and_approvals_json(content: Content) -> dict[str, Any]:
    return {
        "date_created": iso8601(content.date_created),
        "date_updated": iso8601(content.date_updated),
        "sid": content.sid,
        "account_sid": content.account_sid,
        "friendly_name": content.friendly_name,
        "language": content.language,
        "variables": content.variables,
        "types": content.types,
        "approval_requests": approval_fields(content),
    }


def content_page(
    items: Sequence[dict[str, Any]], *, base: str, path: str, page: int, page_size: int, total: int
) -> dict[str, Any]:
    """A Content API list page: ``contents`` plus a ``meta`` block of absolute URLs."""

    def page_url(number: int) -> str:
        return f"{base}{path}?{urlencode({'PageSize': page_size, 'Page': number})}"

    has_next = page * page_size + len(items) < total
    return {
        "contents": list(items),
        "meta": {
            "page": page,
            "page_size": page_size,
            "first_page_url": page_url(0),
            "previous_page_url": page_url(page - 1) if page > 0 else None,
            "url": page_url(page),
            "next_page_url": page_url(page + 1) if has_next else None,
            "key": "contents",
        },
    }
