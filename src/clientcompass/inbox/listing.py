"""The conversation list: views, status and label filters, full-text search, keyset pages.

Pages are keyset on (last_message_at, id), newest first, never OFFSET, so the thousandth
page costs what the first does (index `ix_conversations_tenant_id_last_message_at_id`).
Search matches contact names and numbers, and message text through the GIN index on
`messages.search`, whose vector carries the tenant as a lexeme of its own: one index
lookup intersects "this tenant" with the words.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, Select, and_, func, literal, null, select, tuple_
from sqlalchemy.dialects.postgresql import REGCONFIG, TSQUERY, aggregate_order_by

from clientcompass.auth.principal import Principal
from clientcompass.contacts.repository import search_terms as contact_search_terms
from clientcompass.contacts.repository import tsquery_for as contact_tsquery
from clientcompass.conversations.schemas import ContactOut, ConversationOut, WindowOut
from clientcompass.conversations.window import window_state
from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput
from clientcompass.inbox.schemas import ConversationPage
from clientcompass.models import (
    Contact,
    Conversation,
    ConversationLabel,
    ConversationStatus,
    User,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TERMS = 8


class View(StrEnum):
    ALL = "all"
    MINE = "mine"
    UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class Filters:
    view: View = View.ALL
    status: ConversationStatus | None = None
    label: str = ""
    q: str = ""


@dataclass(frozen=True)
class Cursor:
    at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        """`<microseconds since 1970>.<id hex>`: exact, and safe in a URL as is."""
        micros = (self.at - EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.id.hex}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            micros, hex_id = text.split(".", 1)
            return cls(EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=hex_id))
        except ValueError as exc:
            raise InvalidInput("That page link is not valid.", field="after") from exc


def search_terms(q: str) -> str:
    """Words typed, as prefix terms ANDed together; punctuation cannot reach tsquery syntax."""
    words = re.findall(r"\w+", q.lower())[:MAX_TERMS]
    return " & ".join(f"{word}:*" for word in words)


def _search(tenant_id: uuid.UUID, q: str) -> Select[*tuple[Any, ...]] | None:
    """Ids of conversations whose messages or contact match, from `cc_inbox_search` (two
    GIN lookups; see migration 0008 for why it runs as the owner, confined to the tenant).

    Contact names and numbers use the contacts' own search vector and query syntax (from the
    contacts feature), so a number typed as 082 123 4567 or +27 82… matches."""
    typed = q.strip()[:100]
    if not typed:
        return None
    simple = literal("simple").cast(REGCONFIG)
    contact_terms = contact_search_terms(typed)
    terms = search_terms(typed)
    contacts = (
        func.to_tsquery(simple, contact_tsquery(tenant_id, contact_terms))
        if contact_terms
        else null()
    )
    messages = (
        literal(f"t{tenant_id.hex}", TSQUERY).op("&&")(func.to_tsquery(simple, terms))
        if terms
        else null()
    )
    found = func.cc_inbox_search(messages, contacts).table_valued("conversation_id")
    return select(found.c.conversation_id)


ROW_COLUMNS: tuple[Any, ...] = (
    Conversation.id,
    Conversation.channel_id,
    Conversation.status,
    Conversation.last_inbound_at,
    Conversation.last_message_at,
    Conversation.last_message_preview,
    Conversation.unread_count,
    Conversation.assignee_id,
    Conversation.snoozed_until,
    Contact.id.label("contact_id"),
    Contact.phone_e164,
    Contact.name,
    Contact.profile_name,
    Contact.email,
    Contact.created_at.label("contact_created_at"),
    User.name.label("assignee_name"),
    # The row's labels in the same round trip (one index probe per row).
    select(func.array_agg(aggregate_order_by(ConversationLabel.label, ConversationLabel.label)))
    .where(ConversationLabel.tenant_id == Conversation.tenant_id)
    .where(ConversationLabel.conversation_id == Conversation.id)
    .scalar_subquery()
    .label("labels"),
)


def _base(actor: Principal, filters: Filters) -> Select[*tuple[Any, ...]]:
    """The list's rows as plain columns: building ORM objects cost more than the SQL."""
    tenant_id = actor.tenant_id
    query = (
        select(*ROW_COLUMNS)
        .join(
            Contact,
            and_(
                Contact.tenant_id == Conversation.tenant_id, Contact.id == Conversation.contact_id
            ),
        )
        .outerjoin(
            User,
            and_(User.tenant_id == Conversation.tenant_id, User.id == Conversation.assignee_id),
        )
        .where(Conversation.tenant_id == tenant_id)
    )
    if filters.view is View.MINE:
        query = query.where(Conversation.assignee_id == actor.user_id)
    elif filters.view is View.UNASSIGNED:
        query = query.where(Conversation.assignee_id.is_(None))
    if filters.status is not None:
        query = query.where(Conversation.status == filters.status)
    if filters.label:
        labelled = (
            select(ConversationLabel.conversation_id)
            .where(ConversationLabel.tenant_id == tenant_id)
            .where(ConversationLabel.label == filters.label.strip().lower())
        )
        query = query.where(Conversation.id.in_(labelled))
    hits = _search(tenant_id, filters.q)
    if hits is not None:
        query = query.where(Conversation.id.in_(hits))
    return query


def _row_out(row: Row[Any], now: datetime) -> ConversationOut:
    state = window_state(row.last_inbound_at, now)
    return ConversationOut(
        id=row.id,
        channel_id=row.channel_id,
        contact=ContactOut(
            id=row.contact_id,
            phone=row.phone_e164,
            name=row.name,
            profile_name=row.profile_name,
            email=row.email,
            created_at=row.contact_created_at,
        ),
        status=row.status,
        last_message_at=row.last_message_at,
        last_message_preview=row.last_message_preview,
        unread_count=row.unread_count,
        window=WindowOut(
            is_open=state.is_open, closes_at=state.closes_at, seconds_left=state.seconds_left(now)
        ),
        assignee_id=row.assignee_id,
        assignee_name=row.assignee_name or "",
        labels=list(row.labels or []),
        snoozed_until=row.snoozed_until,
    )


async def list_page(
    uow: UnitOfWork,
    actor: Principal,
    filters: Filters,
    *,
    after: Cursor | None = None,
    limit: int = 50,
) -> ConversationPage:
    """One page of the list, newest activity first, and the cursor for the next."""
    query = _base(actor, filters).order_by(
        Conversation.last_message_at.desc(), Conversation.id.desc()
    )
    if after is not None:
        query = query.where(
            tuple_(Conversation.last_message_at, Conversation.id) < tuple_(after.at, after.id)
        )
    # The unread total rides along as an uncorrelated subquery (computed once).
    query = query.add_columns(
        _unread_total_query(actor.tenant_id).scalar_subquery().label("unread_total")
    )
    rows = (await uow.session.execute(query.limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [_row_out(row, uow.now) for row in rows]
    last = rows[-1] if rows else None
    next_cursor = (
        Cursor(last.last_message_at, last.id).encode()
        if more and last is not None and last.last_message_at is not None
        else None
    )
    total = int(rows[0].unread_total) if rows else await unread_total(uow)
    return ConversationPage(conversations=items, next_cursor=next_cursor, unread_total=total)


async def get_one(
    uow: UnitOfWork, actor: Principal, conversation_id: uuid.UUID
) -> ConversationOut | None:
    query = _base(actor, Filters()).where(Conversation.id == conversation_id)
    row = (await uow.session.execute(query)).first()
    return _row_out(row, uow.now) if row is not None else None


UNREAD_CAP = 100


def _unread_total_query(tenant_id: uuid.UUID) -> Select[int]:
    """Conversations with unread messages, for the tab title, counted up to `UNREAD_CAP`
    (the title says 99+ beyond): a busy inbox costs no more than a quiet one."""
    unread = (
        select(Conversation.id)
        .where(Conversation.tenant_id == tenant_id)
        .where(Conversation.unread_count > 0)
        .limit(UNREAD_CAP)
        .subquery()
    )
    return select(func.count()).select_from(unread)


async def unread_total(uow: UnitOfWork) -> int:
    assert uow.tenant_id is not None
    return int(await uow.session.scalar(_unread_total_query(uow.tenant_id)) or 0)
