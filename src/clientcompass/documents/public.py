"""The customer's public link to one document: signed, expiring, and no login.

The token names the tenant and the document (`links.sign` with the purpose "document"), so
a forged, altered or expired token is refused before any database lookup, and everything
the page reads goes through a unit of work scoped to the token's tenant: a token that pairs
one business with another business's document id finds nothing (RLS and the query agree).

Links sent from now on use the short token (`links.sign_short`, 40 characters: `/d/…` is 43
after the host), which names only the document; its tenant is then found by
`cc_document_tenant()` (SECURITY DEFINER, ids only) and everything else is read under that
tenant as before. Long tokens already sent keep working until they expire.

The page shows what the PDF prints and nothing more: no other documents, customers or ids.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import text

from clientcompass import links
from clientcompass.business import service as business
from clientcompass.config import Settings
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.documents import answers, pdf, quotes
from clientcompass.documents.money import format_zar
from clientcompass.documents.output import TITLES
from clientcompass.documents.service import Kind, get_document, load, printable
from clientcompass.documents.status import (
    AWAITING_ANSWER,
    LABELS,
    balance_cents,
    business_today,
    effective_status,
)
from clientcompass.errors import NotFound
from clientcompass.models import Document, DocumentStatus
from clientcompass.work import UnitsOfWork

PURPOSE = "document"
DEFAULT_LIFETIME_SECONDS = 60 * 24 * 3600  # 60 days: long enough to pay a slow invoice
NOT_FOUND = "This link is not valid or has expired. Ask the business to send it again."
# Link-preview fetchers (WhatsApp shows a preview of a link in a chat) are not the customer
# opening the document, so they must not mark it viewed.
PREVIEW_AGENTS = re.compile(
    r"whatsapp|facebookexternalhit|facebot|twitterbot|slackbot|telegrambot|discordbot|"
    r"linkedinbot|skypeuripreview|googlebot|bingbot|applebot|bot/|\bbot\b|crawler|spider",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PublicRef:
    """What a valid token grants: one document of one tenant."""

    tenant_id: uuid.UUID
    document_id: uuid.UUID


def public_token(
    settings: Settings, document: Document, *, lifetime: int = DEFAULT_LIFETIME_SECONDS
) -> str:
    """A signed token for the document's public page, valid for `lifetime` seconds."""
    return links.sign(
        settings.secret_key, PURPOSE, document.tenant_id, document.id, lifetime=lifetime
    )


def short_token(
    settings: Settings, document: Document, *, lifetime: int = DEFAULT_LIFETIME_SECONDS
) -> str:
    """The 40-character signed token the links we send carry."""
    return links.sign_short(settings.secret_key, PURPOSE, document.id, lifetime=lifetime)


def public_link(settings: Settings, document: Document) -> str:
    """The link sent to the customer (e.g. with the document on WhatsApp): short to read and
    tap, signed and expiring."""
    return f"{settings.base_url}/d/{short_token(settings, document)}"


def read_public_token(settings: Settings, token: str) -> PublicRef | None:
    """The document a long token grants, or None when it is forged, altered, malformed or
    expired (short tokens need the database for their tenant: `grant`)."""
    if len(token) > 200:
        return None
    granted = links.read(settings.secret_key, PURPOSE, token)
    return None if granted is None else PublicRef(*granted)


DOCUMENT_TENANT = text("select cc_document_tenant(:document_id)")


async def grant(units: UnitsOfWork, settings: Settings, token: str) -> PublicRef | None:
    """The document a token (short or long) grants; None when it is forged, altered,
    malformed or expired, checked before any lookup."""
    document_id = links.read_short(settings.secret_key, PURPOSE, token)
    if document_id is None:
        return read_public_token(settings, token)
    async with units(None) as uow:
        tenant_id = await uow.session.scalar(DOCUMENT_TENANT, {"document_id": document_id})
    return None if tenant_id is None else PublicRef(tenant_id, document_id)


def is_link_preview(user_agent: str) -> bool:
    return bool(PREVIEW_AGENTS.search(user_agent))


@dataclass(frozen=True)
class PublicView:
    """Everything the public page shows, formatted as the PDF prints it."""

    data: pdf.DocumentData
    kind: str
    title: str
    status: str
    status_label: str
    can_answer: bool
    has_logo: bool
    paid: str = ""
    credited: str = ""
    balance: str = ""
    owes: bool = False  # an invoice with a balance: the page shows how to pay


async def issued_document(uow: UnitOfWork, document_id: uuid.UUID) -> Document:
    """The document, if it was ever issued: a draft has no public page."""
    try:
        document = await get_document(uow, document_id)
    except NotFound as error:
        raise NotFound(NOT_FOUND) from error
    if document.status == DocumentStatus.DRAFT.value or document.number is None:
        raise NotFound(NOT_FOUND)
    return document


async def view(uow: UnitOfWork, keyring: Keyring, document_id: uuid.UUID) -> PublicView:
    """The page's content for one issued document of the unit's tenant."""
    document = await issued_document(uow, document_id)
    loaded = await load(uow, document.id)
    profile = await business.profile_of(uow, document.tenant_id)
    kind = Kind(document.kind)
    data = await printable(uow, keyring, loaded)
    status = effective_status(document, business_today(profile.timezone, uow.now))
    title = TITLES[kind]
    if kind is Kind.INVOICE and profile.vat_number:
        title = "Tax Invoice"
    invoice = kind is Kind.INVOICE
    return PublicView(
        data=data,
        kind=kind.value,
        title=title,
        status=status,
        status_label=LABELS.get(status, status.replace("_", " ").capitalize()),
        can_answer=kind is Kind.QUOTE and status in AWAITING_ANSWER,
        has_logo=profile.logo is not None,
        paid=format_zar(document.paid_cents) if invoice and document.paid_cents else "",
        credited=format_zar(document.credited_cents) if invoice and document.credited_cents else "",
        balance=format_zar(balance_cents(document)) if invoice else "",
        owes=invoice
        and balance_cents(document) > 0
        and document.status != DocumentStatus.VOIDED.value,
    )


async def record_view(uow: UnitOfWork, document_id: uuid.UUID) -> None:
    """The customer opened the link: "viewed", recorded once (quotes.mark_viewed)."""
    await issued_document(uow, document_id)
    await quotes.mark_viewed(uow, document_id)


async def answer(uow: UnitOfWork, document_id: uuid.UUID, choice: quotes.Answer) -> quotes.Answered:
    """The customer's Accept or Decline on the public page; repeating an answer changes
    nothing. A new answer is told to the team as an answer on WhatsApp is."""
    document = await issued_document(uow, document_id)
    if document.kind != Kind.QUOTE.value:
        raise NotFound(NOT_FOUND)
    answered = await quotes.answer(uow, document.id, choice, via="link")
    if answered.changed:
        await answers.tell_team(uow, answered.document, choice, via="link")
    return answered


async def logo(uow: UnitOfWork) -> tuple[bytes, str] | None:
    """The business's logo for the page header, if it has one."""
    assert uow.tenant_id is not None
    profile = await business.profile_of(uow, uow.tenant_id)
    if profile.logo is None:
        return None
    return profile.logo, profile.logo_content_type or "image/png"
