"""A customer answering a quote on WhatsApp: a quick-reply button or a one-word reply.

The webhook stays fast: it only asks `wants_answer_job` (a look at the text, no query) and
defers the job; the job does the lookups. A button payload names the quote
(`accept:<quote id>`), and the quote must belong to the same business *and* the same
customer as the message, so a forged payload naming someone else's quote does nothing. A
plain keyword counts only when that customer has exactly one quote awaiting an answer.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from sqlalchemy import select

from clientcompass.auth.principal import AuthMethod, Principal
from clientcompass.db import UnitOfWork
from clientcompass.documents import quotes
from clientcompass.documents.quotes import Answer
from clientcompass.documents.service import Kind
from clientcompass.documents.status import AWAITING_ANSWER
from clientcompass.errors import Conflict
from clientcompass.inbox import service as inbox
from clientcompass.models import Conversation, Direction, Document, Message, Role
from clientcompass.whatsapp import events, outbound

log = structlog.get_logger(__name__)

ANSWER_TASK = "documents.answer_from_whatsapp"
SYSTEM_NAME = "Client Compass"
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


def wants_answer_job(body: str, button_payload: str) -> bool:
    """Cheap enough for the webhook: no query, only the text."""
    return parse(body, button_payload) is not None


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


def _system_actor(quote: Document) -> Principal | None:
    """Who the automatic note and confirmation are recorded under: the quote's author."""
    if quote.created_by is None:
        return None
    return Principal(
        quote.tenant_id, quote.created_by, Role.AGENT, SYSTEM_NAME, "", AuthMethod.API_TOKEN
    )


async def answer_from_message(
    uow: UnitOfWork, redis: Redis, message_id: uuid.UUID
) -> Outcome | None:
    """Record the answer an inbound message carries; None when it answers no quote of this
    customer. Tell the team in the thread and confirm to the customer, once."""
    assert uow.tenant_id is not None
    row = (
        await uow.session.execute(
            select(Message, Conversation)
            .join(
                Conversation,
                (Conversation.tenant_id == Message.tenant_id)
                & (Conversation.id == Message.conversation_id),
            )
            .where(Message.tenant_id == uow.tenant_id)
            .where(Message.id == message_id)
            .where(Message.direction == Direction.INBOUND)
        )
    ).first()
    if row is None:
        return None
    message, conversation = row
    button = message.details.get("button") or {}
    parsed = parse(
        message.body, str(button.get("payload") or "") if isinstance(button, dict) else ""
    )
    if parsed is None:
        return None
    quote = await _quote_for(uow, parsed, conversation)
    if quote is None:
        log.info("whatsapp answer matched no quote of this customer", message_id=str(message_id))
        return None
    actor = _system_actor(quote)
    try:
        answered = await quotes.answer(uow, quote.id, parsed.answer, via="whatsapp")
    except Conflict as exc:
        if actor is not None:
            await _reply(uow, actor, conversation, exc.message)
        return Outcome(quote, parsed.answer, changed=False)
    if answered.changed:
        await _tell(uow, redis, actor, conversation, quote, parsed.answer)
    return Outcome(quote, parsed.answer, answered.changed)


async def _tell(
    uow: UnitOfWork,
    redis: Redis,
    actor: Principal | None,
    conversation: Conversation,
    quote: Document,
    answer: Answer,
) -> None:
    done = "accepted" if answer is Answer.ACCEPT else "declined"
    if actor is not None:
        await inbox.add_note(
            uow,
            redis,
            actor,
            conversation.id,
            f"The customer {done} quote {quote.number} on WhatsApp.",
        )
        thanks = (
            f"Thank you! Quote {quote.number} is accepted. We'll be in touch about the next steps."
            if answer is Answer.ACCEPT
            else f"Thanks for letting us know. Quote {quote.number} is declined."
        )
        await _reply(uow, actor, conversation, thanks)
    tenant_id = quote.tenant_id

    async def publish() -> None:
        await events.publish(
            redis,
            tenant_id,
            f"document.{done}",
            document_id=str(quote.id),
            number=quote.number,
            conversation_id=str(conversation.id),
        )

    uow.on_commit(publish)


async def _reply(uow: UnitOfWork, actor: Principal, conversation: Conversation, text: str) -> None:
    """A short answer in the window the customer's message just opened."""
    try:
        await outbound.enqueue(uow, actor, conversation.id, outbound.Outgoing(body=text))
    except outbound.WindowClosed:
        log.info(
            "answer confirmation not sent: window closed", conversation_id=str(conversation.id)
        )
