"""Merging two contacts who are one person: everything moves to the kept contact.

A conversation is unique per (tenant, channel, contact). When both contacts talked on the
same channel, the duplicate's thread (messages, notes, events, labels) moves into the kept
conversation and the emptied conversation is deleted; otherwise the conversation just changes
hands. The kept contact keeps its own phone number (WhatsApp replies go there) and takes the
duplicate's fields where its own are empty; the duplicate's number is written into the notes
so it is not lost.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update

from clientcompass.auth.principal import Principal
from clientcompass.contacts import consent, repository
from clientcompass.contacts.service import display_name
from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput
from clientcompass.models import (
    Contact,
    Conversation,
    ConversationStatus,
    Document,
    FlowRun,
    Lead,
    Message,
    RunStatus,
)
from clientcompass.models.flows import LIVE_STATUSES
from clientcompass.models.inbox import ConversationEvent, ConversationLabel

# Every table with a foreign key to contacts or conversations, so a merge leaves nothing
# behind. tests/test_contacts_merge.py compares these with the database's foreign keys.
CONTACT_REFERENCES = frozenset(
    {"conversations", "documents", "leads", "marketing_consent_events", "flow_runs"}
)
CONVERSATION_REFERENCES = frozenset(
    {"messages", "conversation_events", "conversation_labels", "leads", "flow_runs"}
)
SKIP_SESSION_SYNC = {"synchronize_session": False}


def _merged_fields(keep: Contact, duplicate: Contact) -> None:
    """The kept contact's own values win; its empty fields take the duplicate's. Its display
    name never changes: a saved name is taken only when it had no name of either kind (a
    contact known by its WhatsApp name "Thandi Nkosi" must not become "T. Nkosi")."""
    fields = ["profile_name", "wa_id", "email", "address"]
    if not (keep.name or keep.profile_name):
        fields.append("name")
    for field in fields:
        if not getattr(keep, field):
            setattr(keep, field, getattr(duplicate, field))
    keep.tags = list(dict.fromkeys([*keep.tags, *duplicate.tags]))
    notes = [keep.notes] if keep.notes else []
    if duplicate.notes and duplicate.notes != keep.notes:
        notes.append(duplicate.notes)
    notes.append(f"Merged from {display_name(duplicate)} ({duplicate.phone_e164}).")
    keep.notes = "\n\n".join(notes)


async def _labels(uow: UnitOfWork, conversation: Conversation) -> set[str]:
    found = await uow.session.scalars(
        select(ConversationLabel.label).where(
            ConversationLabel.tenant_id == conversation.tenant_id,
            ConversationLabel.conversation_id == conversation.id,
        )
    )
    return set(found)


async def _fold_conversation(uow: UnitOfWork, kept: Conversation, gone: Conversation) -> None:
    """Move one conversation's thread into another on the same channel, then delete it."""
    tenant_id = kept.tenant_id
    # One live flow run per conversation: the folded thread's own stops (its history moves).
    await uow.session.execute(
        update(FlowRun)
        .where(FlowRun.tenant_id == tenant_id, FlowRun.conversation_id == gone.id)
        .where(FlowRun.status.in_(LIVE_STATUSES))
        .values(
            status=RunStatus.STOPPED.value,
            end_reason="the conversation was merged into another",
            ended_at=uow.now,
            wake_at=None,
        )
        .execution_options(**SKIP_SESSION_SYNC)
    )
    for model in (Message, ConversationEvent, Lead, FlowRun):
        await uow.session.execute(
            update(model)
            .where(model.tenant_id == tenant_id, model.conversation_id == gone.id)
            .values(conversation_id=kept.id)
            .execution_options(**SKIP_SESSION_SYNC)
        )
    kept_labels = await _labels(uow, kept)
    moving_labels = await _labels(uow, gone)
    await uow.session.execute(
        delete(ConversationLabel)
        .where(
            ConversationLabel.tenant_id == tenant_id, ConversationLabel.conversation_id == gone.id
        )
        .execution_options(**SKIP_SESSION_SYNC)
    )
    for label in sorted(moving_labels - kept_labels):
        uow.session.add(
            ConversationLabel(tenant_id=tenant_id, conversation_id=kept.id, label=label)
        )
    if gone.last_message_at and (
        kept.last_message_at is None or gone.last_message_at > kept.last_message_at
    ):
        kept.last_message_at = gone.last_message_at
        kept.last_message_preview = gone.last_message_preview
    if gone.last_inbound_at and (
        kept.last_inbound_at is None or gone.last_inbound_at > kept.last_inbound_at
    ):
        kept.last_inbound_at = gone.last_inbound_at
    kept.unread_count += gone.unread_count
    if gone.status is ConversationStatus.OPEN:
        kept.status = ConversationStatus.OPEN
    kept.assignee_id = kept.assignee_id or gone.assignee_id
    await uow.session.flush()
    await uow.session.delete(gone)
    await uow.session.flush()


async def merge_contacts(
    uow: UnitOfWork, principal: Principal, keep_id: uuid.UUID, duplicate_id: uuid.UUID
) -> Contact:
    """Fold `duplicate_id` into `keep_id` and delete it; both must be this tenant's."""
    if keep_id == duplicate_id:
        raise InvalidInput("Choose a different contact to merge.", field="duplicate_id")
    # Lock both in id order, so two merges of the same pair cannot deadlock.
    locked = {
        contact_id: await repository.get(uow, contact_id, for_update=True)
        for contact_id in sorted((keep_id, duplicate_id))
    }
    keep, duplicate = locked[keep_id], locked[duplicate_id]
    tenant_id = keep.tenant_id
    conversations = list(
        await uow.session.scalars(
            select(Conversation)
            .where(
                Conversation.tenant_id == tenant_id,
                Conversation.contact_id.in_([keep.id, duplicate.id]),
            )
            .with_for_update()
        )
    )
    kept_by_channel = {c.channel_id: c for c in conversations if c.contact_id == keep.id}
    for conversation in conversations:
        if conversation.contact_id != duplicate.id:
            continue
        kept = kept_by_channel.get(conversation.channel_id)
        if kept is None:
            conversation.contact_id = keep.id
        else:
            await _fold_conversation(uow, kept, conversation)
    await uow.session.flush()
    for owned in (Document, Lead, FlowRun):
        await uow.session.execute(
            update(owned)
            .where(owned.tenant_id == tenant_id, owned.contact_id == duplicate.id)
            .values(contact_id=keep.id)
            .execution_options(**SKIP_SESSION_SYNC)
        )
    await consent.merge_into(uow, keep, duplicate)
    _merged_fields(keep, duplicate)
    keep.updated_at = uow.now
    await uow.session.delete(duplicate)
    await uow.session.flush()
    await uow.session.refresh(keep)
    return keep
