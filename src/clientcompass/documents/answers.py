"""What follows a customer's answer to a quote, however it came (a WhatsApp button or
keyword, or the public link): a note for the team in the customer's conversation and a
confirmation to the customer (the answer's event is announced by `quotes.answer`). All of it
is done by the system actor."""

from __future__ import annotations

import structlog

from clientcompass.conversations import service as conversations
from clientcompass.db import UnitOfWork
from clientcompass.documents.quotes import Answer
from clientcompass.models import Conversation, Document
from clientcompass.whatsapp.outbound import Outgoing

log = structlog.get_logger(__name__)

VIA = {"whatsapp": "on WhatsApp", "link": "through its link"}


async def tell_team(uow: UnitOfWork, quote: Document, answer: Answer, *, via: str) -> None:
    done = "accepted" if answer is Answer.ACCEPT else "declined"
    conversation = await conversations.conversation_with(uow, quote.contact_id, create=False)
    if conversation is not None:
        await conversations.add_note(
            uow, None, conversation.id, f"The customer {done} quote {quote.number} {VIA[via]}."
        )


def thanks(quote: Document, answer: Answer) -> str:
    if answer is Answer.ACCEPT:
        return (
            f"Thank you! Quote {quote.number} is accepted. We'll be in touch about the next steps."
        )
    return f"Thanks for letting us know. Quote {quote.number} is declined."


async def confirm(uow: UnitOfWork, conversation: Conversation, text: str) -> None:
    """A short answer in the window the customer's message just opened."""
    try:
        await conversations.send(uow, None, conversation.id, Outgoing(body=text))
    except conversations.WindowClosed:
        log.info(
            "answer confirmation not sent: window closed", conversation_id=str(conversation.id)
        )
