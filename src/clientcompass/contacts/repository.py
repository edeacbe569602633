"""Contact queries, always scoped by the unit of work's tenant (RLS is the second wall)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, cast, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import REGCONFIG

from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput, NotFound
from clientcompass.models import Channel, Contact, Conversation, Document

MAX_SEARCH_TERMS = 8
PHONE_LIKE = re.compile(r"[\d\s()+\-.]+")


@dataclass(frozen=True)
class Cursor:
    """Keyset position in the list's order (sort_name, id): no OFFSET, however deep."""

    sort_name: str
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.sort_name, str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sort_name, contact_id = json.loads(raw)
            return cls(str(sort_name), uuid.UUID(str(contact_id)))
        except (binascii.Error, ValueError, TypeError) as exc:
            raise InvalidInput(
                "That page link is broken. Start again from the first page.", field="cursor"
            ) from exc


def tenant_id_of(uow: UnitOfWork) -> uuid.UUID:
    if uow.tenant_id is None:
        raise RuntimeError("contacts need a tenant-scoped unit of work")
    return uow.tenant_id


def search_terms(text: str) -> list[str]:
    """Words to prefix-match. Something that looks like a phone number ("082 123 45",
    "+27 82…") is one run of digits, matching the E.164 digits or the 0-prefixed national form."""
    text = text.strip()
    digits = re.sub(r"\D", "", text)
    if PHONE_LIKE.fullmatch(text) and len(digits) >= 3:
        return [digits]
    return re.findall(r"[^\W_]+", text.lower())[:MAX_SEARCH_TERMS]


def tsquery_for(tenant_id: uuid.UUID, terms: Sequence[str]) -> str:
    """The tenant's lexeme AND each term as a prefix at weight A (see the model's expression).
    Terms are letters and digits only, so nothing a user types is tsquery syntax."""
    return " & ".join([f"t{tenant_id.hex}", *(f"{term}:*A" for term in terms)])


def listing(tenant_id: uuid.UUID, search: str = "") -> Select[Contact]:
    query = select(Contact).where(Contact.tenant_id == tenant_id)
    terms = search_terms(search)
    if terms:
        query = query.where(
            Contact.search.op("@@")(
                func.to_tsquery(cast("simple", REGCONFIG), tsquery_for(tenant_id, terms))
            )
        )
    return query


async def list_page(
    uow: UnitOfWork, *, search: str = "", limit: int = 50, after: Cursor | None = None
) -> tuple[list[Contact], Cursor | None]:
    """One page in name order, and the cursor of the next page (None on the last)."""
    query = listing(tenant_id_of(uow), search).order_by(Contact.sort_name, Contact.id)
    if after is not None:
        query = query.where(tuple_(Contact.sort_name, Contact.id) > (after.sort_name, after.id))
    contacts = list(await uow.session.scalars(query.limit(limit + 1)))
    if len(contacts) <= limit:
        return contacts, None
    last = contacts[limit - 1]
    return contacts[:limit], Cursor(last.sort_name, last.id)


async def get(uow: UnitOfWork, contact_id: uuid.UUID, *, for_update: bool = False) -> Contact:
    query = select(Contact).where(Contact.tenant_id == tenant_id_of(uow), Contact.id == contact_id)
    if for_update:
        query = query.with_for_update()
    contact = await uow.session.scalar(query)
    if contact is None:
        raise NotFound("That contact does not exist.")
    return contact


async def find_by_phone(uow: UnitOfWork, phone_e164: str) -> Contact | None:
    return await uow.session.scalar(
        select(Contact).where(
            Contact.tenant_id == tenant_id_of(uow), Contact.phone_e164 == phone_e164
        )
    )


async def likely_duplicates(uow: UnitOfWork, contact: Contact, *, limit: int = 5) -> list[Contact]:
    """Other contacts who are probably this person: the same name (saved or WhatsApp, any
    case), or the same number written another way (the same last nine digits: 082… and
    +27 82…, or a number saved without its country code)."""
    tenant_id = tenant_id_of(uow)
    names = {n.strip().lower() for n in (contact.name, contact.profile_name) if n.strip()}
    digits = "".join(ch for ch in contact.phone_e164 if ch.isdigit())[-9:]
    same_name = or_(
        func.lower(func.trim(Contact.name)).in_(names),
        func.lower(func.trim(Contact.profile_name)).in_(names),
    )
    same_number = (
        func.right(func.regexp_replace(Contact.phone_e164, "[^0-9]", "", "g"), 9) == digits
    )
    conditions = [same_number] + ([same_name] if names else [])
    rows = await uow.session.scalars(
        select(Contact)
        .where(Contact.tenant_id == tenant_id, Contact.id != contact.id, or_(*conditions))
        .order_by(Contact.created_at)
        .limit(limit)
    )
    return list(rows)


async def by_phones(uow: UnitOfWork, phones: Sequence[str]) -> dict[str, Contact]:
    if not phones:
        return {}
    found = await uow.session.scalars(
        select(Contact).where(
            Contact.tenant_id == tenant_id_of(uow), Contact.phone_e164.in_(list(phones))
        )
    )
    return {contact.phone_e164: contact for contact in found}


async def conversations_of(
    uow: UnitOfWork, contact_id: uuid.UUID
) -> list[tuple[Conversation, Channel]]:
    tenant_id = tenant_id_of(uow)
    rows = await uow.session.execute(
        select(Conversation, Channel)
        .join(
            Channel,
            (Channel.tenant_id == Conversation.tenant_id) & (Channel.id == Conversation.channel_id),
        )
        .where(Conversation.tenant_id == tenant_id, Conversation.contact_id == contact_id)
        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id)
    )
    return [(conversation, channel) for conversation, channel in rows]


async def documents_of(uow: UnitOfWork, contact_id: uuid.UUID) -> list[Document]:
    """The contact's quotes, invoices and credit notes, newest first."""
    tenant_id = tenant_id_of(uow)
    rows = await uow.session.scalars(
        select(Document)
        .where(Document.tenant_id == tenant_id, Document.contact_id == contact_id)
        .order_by(Document.created_at.desc(), Document.id)
        .limit(200)
    )
    return list(rows)


async def is_referenced(uow: UnitOfWork, contact_id: uuid.UUID) -> bool:
    """Whether conversations or documents point at the contact (then it is merged, not deleted)."""
    tenant_id = tenant_id_of(uow)
    conversations = select(Conversation.id).where(
        Conversation.tenant_id == tenant_id, Conversation.contact_id == contact_id
    )
    documents = select(Document.id).where(
        Document.tenant_id == tenant_id, Document.contact_id == contact_id
    )
    found = await uow.session.scalar(select(conversations.exists() | documents.exists()))
    return bool(found)


async def all_in_order(uow: UnitOfWork, *, batch: int = 1000) -> list[Contact]:
    """Every contact in name order, fetched in keyset batches (the export)."""
    everything: list[Contact] = []
    after: Cursor | None = None
    while True:
        page, after = await list_page(uow, limit=batch, after=after)
        everything.extend(page)
        if after is None:
            return everything
