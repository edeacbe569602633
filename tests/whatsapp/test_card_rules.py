"""Card templates (`twilio/card`): a document header whose address may end in placeholders
after a fixed https://host/ prefix, text and quick-reply buttons. Pure rules, no database."""

from __future__ import annotations

import uuid

import pytest

from clientcompass.models import MessageTemplate, TemplateCategory, TemplateStatus
from clientcompass.whatsapp.content import answer_card_payload, content_payload
from clientcompass.whatsapp.template_rules import (
    Button,
    TemplateDraft,
    TemplateInvalid,
    check,
    send_values,
    template_numbers,
)

BODY = "Hi {{1}}, your quote {{2}} is ready.\n\nTap Accept or Decline below."
BUTTONS = (Button(title="Accept", id="accept:{{3}}"), Button(title="Decline", id="decline:{{3}}"))
SAMPLES = {"1": "Sipho", "2": "QUO-1", "3": "abc", "4": "sample/QUO-1.pdf"}


def card(**extra: object) -> TemplateDraft:
    fields: dict[str, object] = {
        "name": "quote_card",
        "category": "UTILITY",
        "kind": "card",
        "body": BODY,
        "variables": SAMPLES,
        "buttons": BUTTONS,
        "media_url": "https://app.example.co.za/m/{{4}}",
    }
    fields.update(extra)
    return TemplateDraft(**fields)  # type: ignore[arg-type]


def stored(draft: TemplateDraft) -> MessageTemplate:
    checked = check(draft)
    return MessageTemplate(
        tenant_id=uuid.uuid4(),
        id=uuid.uuid4(),
        channel_id=uuid.uuid4(),
        name=checked.name,
        language=checked.language,
        category=TemplateCategory.UTILITY,
        kind=checked.kind.value,
        body=checked.body,
        variables=checked.variables,
        actions=checked.actions,
        media_url=checked.media_url,
        content_sid="",
        status=TemplateStatus.DRAFT,
        rejection_reason="",
    )


def test_a_card_becomes_a_twilio_card_with_a_document_header_and_quick_replies() -> None:
    template = stored(card())
    payload = content_payload(template)
    assert payload["types"] == {
        "twilio/card": {
            "title": BODY,
            "media": ["https://app.example.co.za/m/{{4}}"],
            "actions": [
                {"type": "QUICK_REPLY", "title": "Accept", "id": "accept:{{3}}"},
                {"type": "QUICK_REPLY", "title": "Decline", "id": "decline:{{3}}"},
            ],
        }
    }
    assert payload["variables"] == SAMPLES  # the header's sample too: WhatsApp reviews it
    # A send fills the text's, the buttons' and the header's placeholders.
    assert template_numbers(template) == [1, 2, 3, 4]
    values = send_values(template, {"1": "Nomvula", "2": "QUO-7", "3": "q", "4": "tok/Q.pdf"})
    assert values["4"] == "tok/Q.pdf"


@pytest.mark.parametrize(
    ("media_url", "problem"),
    [
        ("", "Give the file's web address"),
        ("{{4}}", "full web address"),
        ("https://{{4}}/x.pdf", "full web address"),
        ("https://app.example.co.za{{4}}", "fixed"),
        ("https://app.example.co.za/m/{{x}}", "numbered placeholders"),
    ],
)
def test_a_card_header_keeps_its_domain_fixed(media_url: str, problem: str) -> None:
    with pytest.raises(TemplateInvalid) as refused:
        check(card(media_url=media_url))
    assert problem in refused.value.fields["media_url"]


def test_the_header_sample_must_name_a_file_type_and_be_given() -> None:
    with pytest.raises(TemplateInvalid) as refused:
        check(card(variables={**SAMPLES, "4": "sample/quote"}))
    assert "file's type" in refused.value.fields["media_url"]
    with pytest.raises(TemplateInvalid) as missing:
        check(card(variables={k: v for k, v in SAMPLES.items() if k != "4"}))
    assert "variables.4" in missing.value.fields


def test_a_card_needs_a_quick_reply_and_other_kinds_keep_their_rules() -> None:
    with pytest.raises(TemplateInvalid) as refused:
        check(card(buttons=()))
    assert "quick-reply" in refused.value.fields["actions"]
    with pytest.raises(TemplateInvalid) as media:
        check(
            TemplateDraft(
                name="m",
                category="UTILITY",
                kind="media",
                body="Your file",
                media_url="https://a.example/{{1}}",
            )
        )
    assert "fixed web address" in media.value.fields["media_url"]


def test_the_answer_card_is_session_content_with_a_fixed_media_prefix() -> None:
    payload = answer_card_payload("https://app.example.co.za/m/")
    spec = payload["types"]["twilio/card"]
    assert spec["title"] == "{{1}}" and spec["media"] == ["https://app.example.co.za/m/{{2}}"]
    assert [a["id"] for a in spec["actions"]] == ["accept:{{3}}", "decline:{{3}}"]
    assert all(a["type"] == "QUICK_REPLY" for a in spec["actions"])
    assert set(payload["variables"]) == {"1", "2", "3"}
