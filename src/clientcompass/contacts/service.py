"""Contact use cases for the API and the pages: read, create, edit, delete an unused one.

Services flush and never commit: the caller's unit of work does (see db.UnitOfWork).
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from clientcompass import names
from clientcompass.audit import service as audit
from clientcompass.auth.principal import Principal
from clientcompass.contacts import repository
from clientcompass.contacts.repository import Cursor
from clientcompass.contacts.schemas import (
    ContactConversation,
    ContactDetail,
    ContactDocument,
    ContactIn,
    ContactOut,
    ContactPatch,
    MarketingConsent,
    required_phone,
)
from clientcompass.conversations import service as conversations
from clientcompass.conversations.schemas import MessageIn
from clientcompass.db import UnitOfWork
from clientcompass.errors import Conflict, InvalidInput
from clientcompass.models import AuditAction, Contact, Message


def display_name(contact: Contact) -> str:
    return names.display_name(contact.name, contact.profile_name, contact.phone_e164)


def contact_out(contact: Contact) -> ContactOut:
    return ContactOut(
        id=contact.id,
        phone=contact.phone_e164,
        name=contact.name,
        profile_name=contact.profile_name,
        display_name=display_name(contact),
        email=contact.email,
        address=contact.address,
        tags=list(contact.tags),
        notes=contact.notes,
        wa_id=contact.wa_id,
        created_at=contact.created_at,
        updated_at=contact.updated_at,
        marketing=MarketingConsent(
            opted_in=contact.marketing_opted_out_at is None,
            opted_out_at=contact.marketing_opted_out_at,
            how=contact.marketing_opt_out_note,
        ),
    )


async def list_contacts(
    uow: UnitOfWork, *, search: str = "", limit: int = 50, cursor: str = ""
) -> tuple[list[ContactOut], str | None]:
    """A page of contacts in name order, optionally matching `search`; and the next cursor."""
    after = Cursor.decode(cursor) if cursor else None
    contacts, following = await repository.list_page(uow, search=search, limit=limit, after=after)
    return [contact_out(c) for c in contacts], following.encode() if following else None


async def get_contact(uow: UnitOfWork, contact_id: uuid.UUID) -> ContactOut:
    return contact_out(await repository.get(uow, contact_id))


async def get_detail(uow: UnitOfWork, contact_id: uuid.UUID) -> ContactDetail:
    """The contact with their conversations and documents (newest first), for the contact
    page and the API."""
    contact = await repository.get(uow, contact_id)
    conversations = [
        ContactConversation(
            id=conversation.id,
            channel_id=conversation.channel_id,
            channel_name=channel.name,
            status=conversation.status,
            last_message_at=conversation.last_message_at,
            last_message_preview=conversation.last_message_preview,
        )
        for conversation, channel in await repository.conversations_of(uow, contact_id)
    ]
    documents = [
        ContactDocument(
            id=document.id,
            kind=document.kind,
            number=document.number,
            status=document.status,
            issue_date=document.issue_date,
            total_cents=document.total_cents,
        )
        for document in await repository.documents_of(uow, contact_id)
    ]
    return ContactDetail(
        **contact_out(contact).model_dump(), conversations=conversations, documents=documents
    )


async def _ensure_phone_free(uow: UnitOfWork, phone: str, *, keep: uuid.UUID | None = None) -> None:
    other = await repository.find_by_phone(uow, phone)
    if other is not None and other.id != keep:
        raise InvalidInput(
            f"{display_name(other)} already has this number. Open that contact, or merge the two.",
            field="phone",
        )


async def _flush(uow: UnitOfWork) -> None:
    """Flush, turning a lost race on the unique phone into the same message as the check."""
    try:
        await uow.session.flush()
    except IntegrityError as exc:
        raise InvalidInput("Another contact already has this number.", field="phone") from exc


async def create_contact(uow: UnitOfWork, principal: Principal, data: ContactIn) -> Contact:
    await _ensure_phone_free(uow, data.phone)
    contact = Contact(
        tenant_id=principal.tenant_id,
        id=uuid.uuid4(),
        phone_e164=data.phone,
        name=data.name,
        email=data.email,
        address=data.address,
        tags=data.tags,
        notes=data.notes,
        updated_at=uow.now,
    )
    uow.session.add(contact)
    await _flush(uow)
    await uow.session.refresh(contact)  # the generated sort_name
    return contact


async def update_contact(
    uow: UnitOfWork, principal: Principal, contact_id: uuid.UUID, patch: ContactPatch
) -> Contact:
    """Change the fields given. Changing the phone also changes where WhatsApp replies go."""
    contact = await repository.get(uow, contact_id, for_update=True)
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if "phone" in changes and changes["phone"] != contact.phone_e164:
        await _ensure_phone_free(uow, changes["phone"], keep=contact.id)
        contact.phone_e164 = changes["phone"]
    for field in ("name", "email", "address", "tags", "notes"):
        if field in changes:
            setattr(contact, field, changes[field])
    contact.updated_at = uow.now
    await _flush(uow)
    await uow.session.refresh(contact)
    return contact


async def delete_contact(uow: UnitOfWork, principal: Principal, contact_id: uuid.UUID) -> None:
    """Only a contact nothing points at: conversations and documents are history to keep."""
    contact = await repository.get(uow, contact_id, for_update=True)
    if await repository.is_referenced(uow, contact.id):
        raise Conflict(
            "This contact has conversations or documents, so it cannot be deleted. "
            "Merge it into another contact instead."
        )
    await uow.session.delete(contact)
    # No name or number in the trail: it outlives the contact by 90 days, and a deleted
    # customer's details should go with them. The id ties the event to earlier records.
    await audit.record(
        uow,
        AuditAction.CONTACT_DELETED,
        actor_id=principal.user_id,
        target_kind="contact",
        target_id=contact.id,
    )
    await uow.session.flush()


async def find_by_phone_text(uow: UnitOfWork, text: str) -> Contact:
    """The contact with the number a person typed (any format the phone field accepts)."""
    try:
        phone = required_phone(text)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="duplicate_phone") from exc
    contact = await repository.find_by_phone(uow, phone)
    if contact is None:
        raise InvalidInput("No contact has that number.", field="duplicate_phone")
    return contact


async def message(
    uow: UnitOfWork, actor: Principal, contact_id: uuid.UUID, data: MessageIn
) -> Message:
    """Write to a contact first: into their conversation (started if they have none), free
    text inside the 24-hour window, an approved template outside it. A refused send leaves
    no new conversation behind (the transaction rolls back)."""
    await repository.get(uow, contact_id)
    conversation = await conversations.conversation_with(uow, contact_id)
    assert conversation is not None
    outgoing = await conversations.outgoing_from(uow, data, conversation.id)
    return await conversations.send(uow, actor, conversation.id, outgoing)


async def start_conversation(uow: UnitOfWork, contact_id: uuid.UUID) -> uuid.UUID:
    """The contact page's "Message on WhatsApp": the conversation to open in the inbox."""
    await repository.get(uow, contact_id)
    return (await conversations.start(uow, contact_id)).id


async def likely_duplicates(uow: UnitOfWork, contact_id: uuid.UUID) -> list[ContactOut]:
    """What the contact page offers to merge: the same name, or the same number another way."""
    contact = await repository.get(uow, contact_id)
    return [contact_out(other) for other in await repository.likely_duplicates(uow, contact)]
