"""A customer answering a quote on WhatsApp: a quick-reply button or a one-word reply.

This is the documents' handler in the inbound pipeline (conversations/inbound.py): it runs
once per inbound message, in the transaction that marks the message handled. A button
payload names the quote (`accept:<quote id>`), and the quote must belong to the same
business *and* the same customer as the message, so a forged payload naming someone else's
quote does nothing. A plain keyword counts only when that customer has exactly one quote
awaiting an answer.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import select

from clientcompass.conversations.inbound import Inbound
from clientcompass.db import UnitOfWork
from clientcompass.documents import answers, quotes
from clientcompass.documents.quotes import Answer
from clientcompass.documents.service import Kind
from clientcompass.documents.status import AWAITING_ANSWER
from clientcompass.errors import Conflict
from clientcompass.models import Conversation, Document

log = structlog.get_logger(__name__)

KEYWORDS = {
    "accept": Answer.ACCEPT,
    "yes accept": Answer.ACCEPT,
    "i accept": Answer.ACCEPT,
    "accepted": Answer.ACCEPT,
    "decline": Answer.DECLINE,
    "no decline": Answer.DECLINE,
    "i decline": Answer.DECLINE,
    "declined": Answer.DECLINE,
}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PAYLOAD = re.compile(rf"(accept|decline)(?:[:_ ]quote)?(?::({UUID}))?")
LONGEST_KEYWORD = max(len(word) for word in KEYWORDS) + 3


def keyword(text: str) -> Answer | None:
    """ACCEPT, "Yes accept", "decline!" … (case and trailing punctuation ignored)."""
    if len(text) > LONGEST_KEYWORD * 2:
        return None
    words = " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
    return KEYWORDS.get(words)


@dataclass(frozen=True)
class Parsed:
    answer: Answer
    quote_id: uuid.UUID | None


def parse(body: str, button_payload: str) -> Parsed | None:
    """What the message answers, if anything: a button payload first, then a keyword."""
    match = PAYLOAD.fullmatch(button_payload.strip().lower()) if button_payload else None
    if match:
        quote_id = uuid.UUID(match.group(2)) if match.group(2) else None
        return Parsed(Answer(match.group(1)), quote_id)
    if button_payload:
        return None  # some other template's button
    found = keyword(body)
    return Parsed(found, None) if found else None


@dataclass(frozen=True)
class Outcome:
    quote: Document
    answer: Answer
    changed: bool


async def _quote_for(
    uow: UnitOfWork, parsed: Parsed, conversation: Conversation
) -> Document | None:
    """The quote the customer means: the one named, if it is theirs; else their only quote
    awaiting an answer."""
    query = (
        select(Document)
        .where(Document.tenant_id == conversation.tenant_id)
        .where(Document.kind == Kind.QUOTE.value)
        .where(Document.contact_id == conversation.contact_id)
    )
    if parsed.quote_id is not None:
        return await uow.session.scalar(query.where(Document.id == parsed.quote_id))
    waiting = list(
        await uow.session.scalars(query.where(Document.status.in_(AWAITING_ANSWER)).limit(2))
    )
    return waiting[0] if len(waiting) == 1 else None


async def on_inbound(uow: UnitOfWork, inbound: Inbound) -> Outcome | None:
    """Record the answer an inbound message carries; None when it answers no quote of this
    customer. The team is told in the thread and the customer gets a confirmation, once."""
    parsed = parse(inbound.body, inbound.button_payload)
    if parsed is None:
        return None
    quote = await _quote_for(uow, parsed, inbound.conversation)
    if quote is None:
        log.info(
            "whatsapp answer matched no quote of this customer",
            message_id=str(inbound.message.id),
        )
        return None
    try:
        answered = await quotes.answer(uow, quote.id, parsed.answer, via="whatsapp")
    except Conflict as exc:
        await answers.confirm(uow, inbound.conversation, exc.message)
        return Outcome(quote, parsed.answer, changed=False)
    if answered.changed:
        await answers.tell_team(uow, quote, parsed.answer, via="whatsapp")
        await answers.confirm(uow, inbound.conversation, answers.thanks(quote, parsed.answer))
    return Outcome(quote, parsed.answer, answered.changed)
