"""Twilio and WhatsApp error codes, explained in words a business owner can act on."""

from __future__ import annotations

EXPLANATIONS: dict[int, str] = {
    63016: "Not delivered: the 24-hour window with this customer is closed. Send an approved template instead.",
    63024: "Not delivered: this number cannot receive WhatsApp messages. Check the number or contact the customer another way.",
    63018: "Twilio is rate-limiting this sender. The message will be retried shortly.",
    63003: "Not delivered: the customer's WhatsApp number is not reachable.",
    63007: "This WhatsApp sender is not set up on the Twilio account. Check the channel settings.",
    63019: "Not delivered: WhatsApp could not fetch the attached file.",
    63032: "Not delivered: the customer has opted out of messages from this business.",
    63049: "Not delivered: WhatsApp held back this marketing message for this customer.",
    21211: "The customer's phone number is not a valid WhatsApp number.",
    21408: "This Twilio account may not send to that country.",
    21610: "The customer has opted out (replied STOP).",
    21614: "The number is not a valid mobile number.",
    21619: "The message has no text, file or template.",
    20003: "Twilio rejected the credentials. Check the Account SID and Auth Token.",
    20429: "Twilio is rate-limiting requests. The message will be retried shortly.",
    11751: "Not delivered: the attached file is too large or of an unsupported type.",
    30007: "Not delivered: the carrier filtered the message.",
    30008: "Not delivered: an unknown error occurred at the carrier.",
}


def explain(code: int | None, fallback: str = "") -> str:
    if code is None:
        return fallback
    return EXPLANATIONS.get(code, fallback or f"Twilio reported error {code}.")
