"""What goes to Twilio's Content API: a template's create body, and the session card that
carries a document with Accept/Decline inside the 24-hour window (no approval needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clientcompass.models import MessageTemplate
from clientcompass.whatsapp.template_rules import CONTENT_TYPES, TemplateKind


def content_payload(template: MessageTemplate) -> dict[str, Any]:
    """The Content API create body: one content type, its sample values as `variables`."""
    kind = TemplateKind(template.kind)
    spec: dict[str, Any] = {"body": template.body}
    if kind is TemplateKind.MEDIA:
        spec["media"] = [template.media_url]
    if kind in (TemplateKind.QUICK_REPLY, TemplateKind.CALL_TO_ACTION):
        spec["actions"] = [dict(action) for action in template.actions]
    if kind is TemplateKind.CARD:
        spec = card_spec(template.body, template.media_url, template.actions)
    return {
        "friendly_name": template.name,
        "language": template.language,
        "variables": dict(template.variables),
        "types": {CONTENT_TYPES[kind]: spec},
    }


def card_spec(title: str, media_url: str, actions: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """A `twilio/card`: its text is the `title`, the file its header, the quick replies typed."""
    spec: dict[str, Any] = {"title": title}
    if media_url:
        spec["media"] = [media_url]
    spec["actions"] = [
        {"type": "QUICK_REPLY", "title": action["title"], "id": action["id"]} for action in actions
    ]
    return spec


# The session card documents go with inside the 24-hour window (no approval needed there):
# {{1}} the message, {{2}} the file's path under the app's signed media prefix, {{3}} the
# document id the Accept/Decline buttons name.
ANSWER_CARD_NAME = "cc_document_answer"
ANSWER_CARD_BUTTONS = (
    {"title": "Accept", "id": "accept:{{3}}"},
    {"title": "Decline", "id": "decline:{{3}}"},
)


def answer_card_payload(media_prefix: str) -> dict[str, Any]:
    """The Content API body of the session card, its file served under `media_prefix`."""
    return {
        "friendly_name": ANSWER_CARD_NAME,
        "language": "en",
        "variables": {
            "1": "Hi Sipho, here is your quote QUO-2026-0001.",
            "2": "token/QUO-2026-0001.pdf",
            "3": "3f2b8c1e-6d4a-4f5e-9b7c-2a1d0e9f8c7b",
        },
        "types": {"twilio/card": card_spec("{{1}}", media_prefix + "{{2}}", ANSWER_CARD_BUTTONS)},
    }
