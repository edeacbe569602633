"""The promise test: /deletion.html and /privacy say what the software does. Each number on
the pages is compared with the constant or setting that makes it true, so changing a keeping
period, the grace period or the legal hold without changing what the pages say (or the
reverse) fails here."""

from __future__ import annotations

import re
from html import unescape

import httpx

from clientcompass.config import Settings
from clientcompass.files import LEGAL_HOLD_YEARS
from clientcompass.lifecycle import closure, export, meta, retention
from clientcompass.policy import policy
from tests.support import factories


def text_of(html: str) -> str:
    """What a person reads: tags out, entities decoded, whitespace collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def keep_days(settings: Settings, rule: str) -> int:
    return retention.rule_named(rule).keep_days(settings)


def test_the_deletion_page_says_what_the_code_does(client: httpx.Client) -> None:
    settings = factories.settings_of(client)
    page = client.get("/deletion.html")
    assert page.status_code == 200
    said = text_of(page.text)
    hours = settings.session_idle_seconds // 3600
    promises = [
        # Erasure, from the contact page, with the legal hold.
        "opens the customer's contact page and chooses Erase this customer's data",
        "asks for your password",
        f"under a legal hold until {LEGAL_HOLD_YEARS} years after issue",
        # Closure.
        "Settings → Business → Close this business",
        "Access ends at once for everyone in the business",
        f"A grace period of {closure.GRACE_DAYS} days starts",
        "a link that reopens the business exactly as it was",
        f"kept {closure.DOCUMENT_RETENTION_YEARS} years after they were issued",
        f"deleted {settings.closed_conversations_retention_years} years after closure",
        # Exports.
        "Settings → Data export",
        f"the link expires after {int(export.LIFETIME.total_seconds() // 3600)} hours",
        "everything about one customer from that customer's contact page",
        # Retention.
        f"background jobs (they hold email addresses and links): after "
        f"{keep_days(settings, 'finished_jobs')} days",
        f"invitations that were accepted, revoked or expired: after "
        f"{keep_days(settings, 'invitations')} days",
        f"password-reset links that were used or expired: after "
        f"{keep_days(settings, 'password_resets')} days",
        f"email-change links that were used or expired: after "
        f"{keep_days(settings, 'email_changes')} days",
        f"closure) and the outgoing webhook log: after {keep_days(settings, 'audit_trail')} days",
        f"{keep_days(settings, 'webhook_deliveries')} for the webhook log",
        f"WhatsApp media (temporary files): after {settings.media_retention_days} days",
        f"Sessions expire after {hours} hours of inactivity",
        # Meta's callback.
        f"data-deletion callback ( {meta.PATH} ) checks Meta's signed request",
        # The operator, from settings.
        settings.operator_name,
        settings.operator_address,
        settings.operator_email,
        settings.operator_phone,
    ]
    missing = [promise for promise in promises if promise not in said]
    assert not missing, missing
    assert keep_days(settings, "temporary_media") == settings.media_retention_days


def test_the_rules_behind_the_numbers_are_the_ones_that_run() -> None:
    names = {rule.name for rule in retention.RULES}
    assert {
        "finished_jobs",
        "invitations",
        "password_resets",
        "email_changes",
        "audit_trail",
        "temporary_media",
        "closed_business_personal_data",
        "closed_business_documents",
        "closed_business_conversations",
        "closed_business",
    } <= names
    settings = Settings()
    assert keep_days(settings, "closed_business_personal_data") == closure.GRACE_DAYS
    # "at least 5 years after issue"; "no longer than 7 years after closure".
    assert keep_days(settings, "closed_business_documents") >= LEGAL_HOLD_YEARS * 365.25
    assert keep_days(settings, "closed_business_conversations") <= 7 * 365
    assert closure.DOCUMENT_RETENTION_YEARS == LEGAL_HOLD_YEARS


def test_the_privacy_policy_makes_the_same_promises(client: httpx.Client) -> None:
    settings = factories.settings_of(client)
    page = client.get("/privacy")
    assert page.status_code == 200
    said = text_of(page.text)
    # The policy's words, each with the constant that keeps it.
    years_after_closure = re.search(r"up to (\d+) years after account closure", said)
    assert years_after_closure
    assert int(years_after_closure.group(1)) >= settings.closed_conversations_retention_years
    document_years = re.search(r"minimum of (\d+) years as required by South African tax", said)
    assert document_years and int(document_years.group(1)) == LEGAL_HOLD_YEARS
    idle = re.search(r"expire after (\d+) hours of inactivity", said)
    assert idle and int(idle.group(1)) * 3600 == settings.session_idle_seconds
    logs = re.search(r"System logs and metrics are retained for (\d+) days", said)
    assert logs and int(logs.group(1)) == keep_days(settings, "audit_trail")
    assert "Media files temporarily stored" in said and settings.media_retention_days > 0
    assert "/deletion.html" in said and 'href="/deletion.html"' in page.text
    for detail in policy.operator_details(settings).values():
        assert detail in said, detail
