"""What a person can choose to hear about, and on which channel."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    PUSH = "push"
    EMAIL = "email"


class Kind(StrEnum):
    # A new customer writes (a new conversation or lead), or anyone writes in a conversation
    # nobody is assigned to: an unassigned conversation is the whole team's.
    NEW_CONVERSATION = "new_conversation"
    ASSIGNED_MESSAGE = "assigned_message"  # a new message in a conversation assigned to me
    ASSIGNED = "assigned"  # a conversation was assigned to me
    HANDOFF = "handoff"  # a flow handed a conversation to a person
    QUOTE_ANSWER = "quote_answer"  # a quote was accepted or declined
    INVOICE_PAID = "invoice_paid"
    DIGEST = "digest"  # the daily email at 07:00 (email only)


LABELS: dict[Kind, str] = {
    Kind.NEW_CONVERSATION: "New conversation or lead (and messages in unassigned ones)",
    Kind.ASSIGNED_MESSAGE: "New message in a conversation assigned to me",
    Kind.ASSIGNED: "A conversation is assigned to me",
    Kind.HANDOFF: "A flow hands a conversation to a person",
    Kind.QUOTE_ANSWER: "Quote accepted or declined",
    Kind.INVOICE_PAID: "Invoice paid",
    Kind.DIGEST: "Daily summary at 07:00",
}

# Which channels each kind can use: the digest is an email by nature.
CHANNELS: dict[Kind, tuple[Channel, ...]] = {
    kind: (Channel.EMAIL,) if kind is Kind.DIGEST else (Channel.PUSH, Channel.EMAIL)
    for kind in Kind
}

# Until a person chooses, push tells them everything and email sends only the new-lead email
# and the digest: an inbox on the road wants every ping, a mailbox wants few.
DEFAULTS: dict[Kind, dict[Channel, bool]] = {
    kind: {
        channel: channel is Channel.PUSH or kind in (Kind.NEW_CONVERSATION, Kind.DIGEST)
        for channel in CHANNELS[kind]
    }
    for kind in Kind
}
