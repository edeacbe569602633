"""Erasing a customer's personal data (POPIA s24), with the legal hold on tax documents.

One unit of work, behind the tenant wall, as the app role. The contact row stays as an
anonymous tombstone (conversations and held invoices point at it); everything that says who
the customer was, or what they said, is removed or overwritten for good:

- messages: body, media list, template variables, the raw webhook details and error text are
  blanked (the search vector is a generated column, so it follows); message media rows go,
  with their files. A message still queued is marked failed, so nothing blank is sent.
- the thread's notes and label events are deleted, other events lose their text; labels go.
- leads: answers, photos, ad referral, service, suburb, urgency, reasons.
- flow runs: answers and the journal's details; a live run is stopped.
- marketing consent: the history stays, without the free-text reason, as proof that an
  objection to direct marketing (POPIA s69) was recorded and honoured; no phone number or
  hash of one is kept, so a number that writes again is a new contact.
- quotes, drafts and other non-tax documents: recipient, addresses, VAT number, description
  and notes are anonymised and their stored PDF deleted.
- issued tax invoices and credit notes keep what SARS requires (recipient name, address,
  VAT number, amounts, and the issued PDF) on a legal hold until 5 years from issue
  (`documents.legal_hold_until`); then the retention rule in lifecycle/legal_hold.py
  anonymises them too.
- the contact: name, WhatsApp profile name, email, address, notes, tags and wa_id go; the
  phone number becomes `erased-<random>`, not a number, so the unique (tenant, phone) index
  still holds and a real number can never match it.
- outgoing webhook deliveries and queued or finished background jobs that carry the
  customer (by the contact's, conversations' or leads' ids, or by their name, phone or email
  together with the business's id) are deleted.
- the Redis event stream: after commit, `purge_stream` deletes (XDEL) every entry of the
  business's capped stream that names one of those ids. Trimming would drop everyone's
  recent events; XDEL removes exactly these. Pub/sub keeps nothing.

The audit trail records the erasure with counts only. What is not reached: a backup, and
dead row versions until PostgreSQL's autovacuum reclaims them.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import phonenumbers
from redis.asyncio import Redis
from sqlalchemy import select, text

from clientcompass import files
from clientcompass.accounts import service as accounts
from clientcompass.audit import service as audit
from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput, NotFound
from clientcompass.lifecycle import export
from clientcompass.models import AuditAction, Contact, Document, DocumentStatus
from clientcompass.realtime.bus import stream_name

ERASED_NAME = "Erased customer"
PLACEHOLDER_PREFIX = "erased-"
TAX_KINDS = ("invoice", "credit_note")
NOT_FOUND = "That contact does not exist."
PASSWORD_MISSING = "Enter your password to confirm it's you."  # noqa: S105 (a message)
MIN_NAME = 5
# Stream entries read per XRANGE call while purging (the stream holds ~10,000).
STREAM_PAGE = 1000


def is_erased(phone_e164: str) -> bool:
    return phone_e164.startswith(PLACEHOLDER_PREFIX)


def placeholder_phone() -> str:
    """Not a number (letters), unique (48 random bits), within the column's 20 characters."""
    return PLACEHOLDER_PREFIX + secrets.token_hex(6)


def phone_forms(e164: str) -> list[str]:
    """The ways a number may have been written: +27821234567, 27821234567, 0821234567,
    082 123 4567 and +27 82 123 4567."""
    if not e164.startswith("+"):
        return []
    forms = {e164, e164[1:]}
    try:
        number = phonenumbers.parse(e164, "ZA")
    except phonenumbers.NumberParseException:
        return sorted(forms)
    for style in (
        phonenumbers.PhoneNumberFormat.NATIONAL,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    ):
        written = phonenumbers.format_number(number, style)
        forms.add(written)
        forms.add(re.sub(r"\D", "", written))
    return sorted(form for form in forms if len(form) >= 6)


@dataclass
class Preview:
    """What the confirmation page lists: counts of what goes and the documents kept."""

    contact: Contact
    conversations: int
    messages: int
    media: int
    leads: int
    flow_runs: int
    anonymised_documents: list[Document]
    held_documents: list[Document]

    def hold_until(self, document: Document) -> date:
        return files.keep_until(document.issue_date)


@dataclass
class Erased:
    contact_id: uuid.UUID
    counts: dict[str, int]
    # The ids the customer's events name, for `purge_stream` after commit.
    ids: set[str] = field(default_factory=set)


def is_tax_document(document: Document) -> bool:
    """Issued tax invoices and credit notes: numbered, not drafts."""
    return (
        document.kind in TAX_KINDS
        and document.status != DocumentStatus.DRAFT.value
        and document.number is not None
    )


async def _contact(uow: UnitOfWork, contact_id: uuid.UUID, *, for_update: bool) -> Contact:
    assert uow.tenant_id is not None
    query = select(Contact).where(Contact.tenant_id == uow.tenant_id, Contact.id == contact_id)
    if for_update:
        query = query.with_for_update()
    contact = await uow.session.scalar(query)
    if contact is None:
        raise NotFound(NOT_FOUND)
    return contact


async def _ids(uow: UnitOfWork, sql: str, **params: object) -> list[uuid.UUID]:
    rows = await uow.session.execute(text(sql), {"tenant": uow.tenant_id, **params})
    return [row[0] for row in rows]


async def _count(uow: UnitOfWork, sql: str, **params: object) -> int:
    found = await uow.session.scalar(text(sql), {"tenant": uow.tenant_id, **params})
    return int(found or 0)


async def _documents(uow: UnitOfWork, contact_id: uuid.UUID) -> list[Document]:
    assert uow.tenant_id is not None
    return list(
        await uow.session.scalars(
            select(Document)
            .where(Document.tenant_id == uow.tenant_id, Document.contact_id == contact_id)
            .order_by(Document.issue_date, Document.created_at)
        )
    )


CONVERSATIONS = "SELECT id FROM conversations WHERE tenant_id = :tenant AND contact_id = :contact"
MESSAGES_IN = "FROM messages WHERE tenant_id = :tenant AND conversation_id = ANY(:conversations)"
MEDIA_IN = (
    f"FROM message_media WHERE tenant_id = :tenant AND message_id IN (SELECT id {MESSAGES_IN})"
)


async def preview(uow: UnitOfWork, actor: Principal, contact_id: uuid.UUID) -> Preview:
    actor.require_manager()
    contact = await _contact(uow, contact_id, for_update=False)
    conversations = await _ids(uow, CONVERSATIONS, contact=contact.id)
    documents = await _documents(uow, contact.id)
    return Preview(
        contact=contact,
        conversations=len(conversations),
        messages=await _count(uow, f"SELECT count(*) {MESSAGES_IN}", conversations=conversations),
        media=await _count(uow, f"SELECT count(*) {MEDIA_IN}", conversations=conversations),
        leads=await _count(
            uow,
            "SELECT count(*) FROM leads WHERE tenant_id = :tenant AND contact_id = :contact",
            contact=contact.id,
        ),
        flow_runs=await _count(
            uow,
            "SELECT count(*) FROM flow_runs WHERE tenant_id = :tenant AND contact_id = :contact",
            contact=contact.id,
        ),
        anonymised_documents=[d for d in documents if not is_tax_document(d)],
        held_documents=[d for d in documents if is_tax_document(d)],
    )


async def erase(
    uow: UnitOfWork,
    actor: Principal,
    contact_id: uuid.UUID,
    *,
    password: str,
    stepped_up: bool = False,
) -> Erased:
    """Step-up with the actor's password (owners and admins), then erase. A session that
    confirmed it moments ago (accounts/step_up.py) may leave it out; a password that is given
    is checked all the same. A wrong password or another business's contact changes nothing."""
    actor.require_manager()
    contact = await _contact(uow, contact_id, for_update=True)
    if password or not stepped_up:
        if not password:
            raise InvalidInput(PASSWORD_MISSING, field="password")
        user = await accounts.get_user(uow, actor.user_id)
        await accounts.verify_current_password(user, password, field="password")
    return await erase_contact(uow, contact, actor_id=actor.user_id)


async def erase_contact(uow: UnitOfWork, contact: Contact, *, actor_id: uuid.UUID | None) -> Erased:
    """Erase without the step-up (the caller did it)."""
    assert uow.tenant_id is not None
    tenant = uow.tenant_id
    # What identifies them in free text elsewhere (job arguments, webhook payloads, audit
    # labels). A name shorter than MIN_NAME would match unrelated text too often.
    personal = [
        value
        for value in (contact.name, contact.profile_name, contact.email)
        if len(value) >= MIN_NAME and value != ERASED_NAME
    ] + phone_forms(contact.phone_e164)
    conversations = await _ids(uow, CONVERSATIONS, contact=contact.id)
    leads = await _ids(
        uow,
        "SELECT id FROM leads WHERE tenant_id = :tenant AND contact_id = :contact",
        contact=contact.id,
    )
    runs = await _ids(
        uow,
        "SELECT id FROM flow_runs WHERE tenant_id = :tenant AND contact_id = :contact",
        contact=contact.id,
    )
    counts: dict[str, int] = {"conversations": len(conversations), "leads": len(leads)}
    counts["flow_runs"] = len(runs)

    async def run(sql: str, **params: object) -> int:
        result = await uow.session.execute(
            text(sql), {"tenant": tenant, "conversations": conversations, **params}
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # -- messages and their media ------------------------------------------------------------
    media = (
        await uow.session.execute(
            text(f"SELECT id, file_id {MEDIA_IN}"),
            {"tenant": tenant, "conversations": conversations},
        )
    ).all()
    media_ids = [row[0] for row in media]
    file_ids = [row[1] for row in media if row[1] is not None]
    # A reply still waiting in the outbox is not sent blank: it fails, with no text.
    await run(
        "UPDATE messages SET status = 'failed', next_attempt_at = NULL "
        "WHERE tenant_id = :tenant AND conversation_id = ANY(:conversations) "
        "AND status = 'queued'"
    )
    counts["messages"] = await run(
        "UPDATE messages SET body = '', media = '[]'::jsonb, content_variables = '{}'::jsonb, "
        "details = '{}'::jsonb, error_message = '' "
        "WHERE tenant_id = :tenant AND conversation_id = ANY(:conversations)"
    )
    counts["media"] = await run(
        "DELETE FROM message_media WHERE tenant_id = :tenant AND id = ANY(:ids)", ids=media_ids
    )
    await _delete_files(uow, file_ids)

    # -- the thread ------------------------------------------------------------------------
    counts["notes"] = await run(
        "DELETE FROM conversation_events WHERE tenant_id = :tenant "
        "AND conversation_id = ANY(:conversations) AND kind IN ('note', 'labeled', 'unlabeled')"
    )
    await run(
        "UPDATE conversation_events SET body = '' WHERE tenant_id = :tenant "
        "AND conversation_id = ANY(:conversations)"
    )
    await run(
        "DELETE FROM conversation_labels WHERE tenant_id = :tenant "
        "AND conversation_id = ANY(:conversations)"
    )
    await run(
        "UPDATE conversations SET last_message_preview = '' WHERE tenant_id = :tenant "
        "AND id = ANY(:conversations)"
    )

    # -- leads, flow runs, marketing consent -------------------------------------------------
    await run(
        "UPDATE leads SET service = '', suburb = '', urgency = '', photos = '[]'::jsonb, "
        "answers = '{}'::jsonb, referral = NULL, lost_reason = '' "
        "WHERE tenant_id = :tenant AND id = ANY(:leads)",
        leads=leads,
    )
    await run(
        "UPDATE lead_stage_changes SET reason = '' WHERE tenant_id = :tenant "
        "AND lead_id = ANY(:leads)",
        leads=leads,
    )
    await run(
        "UPDATE flow_runs SET answers = '{}'::jsonb, end_reason = '', "
        "status = CASE WHEN status IN ('running', 'paused') THEN 'stopped' ELSE status END, "
        "ended_at = COALESCE(ended_at, :now), waiting = '', wake_at = NULL, updated_at = :now "
        "WHERE tenant_id = :tenant AND id = ANY(:runs)",
        runs=runs,
        now=uow.now,
    )
    await run(
        "UPDATE flow_run_steps SET detail = '{}'::jsonb WHERE tenant_id = :tenant "
        "AND run_id = ANY(:runs)",
        runs=runs,
    )
    await run(
        "UPDATE marketing_consent_events SET reason = '' WHERE tenant_id = :tenant "
        "AND contact_id = :contact",
        contact=contact.id,
    )

    # -- documents -------------------------------------------------------------------------
    held = anonymised = 0
    documents = await _documents(uow, contact.id)
    for document in documents:
        if is_tax_document(document):
            document.legal_hold_until = files.keep_until(document.issue_date)
            document.updated_at = uow.now
            held += 1
        else:
            anonymise_document(document, uow)
            anonymised += 1
    await uow.session.flush()
    loose = [d.id for d in documents if not is_tax_document(d)]
    await _delete_document_pdfs(uow, loose)
    counts["documents_anonymised"] = anonymised
    counts["documents_on_legal_hold"] = held

    # -- webhooks, jobs, the audit trail ---------------------------------------------------
    ids = {str(contact.id), *map(str, conversations), *map(str, leads), *map(str, loose)}
    counts["webhook_deliveries"] = await run(
        "DELETE FROM webhook_deliveries WHERE tenant_id = :tenant "
        "AND (payload LIKE ANY(:ids) OR payload LIKE ANY(:personal))",
        ids=_patterns(ids),
        personal=_patterns(personal),
    )
    counts["jobs"] = await run(
        "DELETE FROM procrastinate_jobs WHERE status <> 'doing' AND (args::text LIKE ANY(:ids) "
        "OR (args::text LIKE :tenant_pattern AND args::text LIKE ANY(:personal)))",
        ids=_patterns(ids),
        personal=_patterns(personal),
        tenant_pattern=f"%{tenant}%",
    )
    if personal:
        await run(
            "UPDATE audit_events SET target_label = '' WHERE tenant_id = :tenant "
            "AND target_label = ANY(:personal)",
            personal=personal,
        )

    # -- the contact itself ----------------------------------------------------------------
    contact.phone_e164 = placeholder_phone()
    contact.wa_id = ""
    contact.profile_name = ""
    contact.name = ERASED_NAME
    contact.email = ""
    contact.address = ""
    contact.tags = []
    contact.notes = ""
    contact.marketing_opt_out_note = ""
    contact.updated_at = uow.now
    await uow.session.flush()
    # A ZIP made before now copied what was just erased: none may outlive it.
    counts["exports_discarded"] = await export.discard_all(uow, contact_id=contact.id)

    await audit.record(
        uow,
        AuditAction.CUSTOMER_ERASED,
        actor_id=actor_id,
        target_kind="contact",
        target_id=contact.id,
        target_label=ERASED_NAME,
        details=dict(counts),
    )
    return Erased(contact.id, counts, ids)


def anonymise_document(document: Document, uow: UnitOfWork) -> None:
    """Clear what names or locates the customer on a document (its amounts stay)."""
    document.recipient_name = ERASED_NAME
    document.recipient_vat_number = ""
    document.billing_address = ""
    document.service_address = ""
    document.job_description = ""
    document.notes = ""
    document.reason = ""
    document.pdf_key = ""
    document.pdf_sha256 = ""
    document.legal_hold_until = None
    document.anonymised_at = uow.now
    document.updated_at = uow.now


def _patterns(values: Iterable[str]) -> list[str]:
    """LIKE patterns that find each value anywhere in a text."""
    escaped = (v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for v in values)
    return [f"%{value}%" for value in escaped]


async def _delete_files(uow: UnitOfWork, file_ids: list[uuid.UUID]) -> None:
    """WhatsApp media files (temporary: the database lets them go at any time)."""
    if file_ids:
        await uow.session.execute(
            text(
                "DELETE FROM files WHERE tenant_id = :tenant AND id = ANY(:ids) "
                "AND retention = 'temporary'"
            ),
            {"tenant": uow.tenant_id, "ids": file_ids},
        )


async def _delete_document_pdfs(uow: UnitOfWork, document_ids: list[uuid.UUID]) -> None:
    """The stored PDFs of quotes and drafts. Every finalised document's PDF is stored under
    the files table's legal hold (migration 0015), which only a tax document needs: a quote's
    is released first (retention `temporary`), then deleted, so its bytes are gone with it."""
    if not document_ids:
        return
    params = {"tenant": uow.tenant_id, "ids": document_ids}
    await uow.session.execute(
        text(
            "UPDATE files SET retention = 'temporary', keep_until = NULL "
            "WHERE tenant_id = :tenant AND document_id = ANY(:ids)"
        ),
        params,
    )
    await uow.session.execute(
        text("DELETE FROM files WHERE tenant_id = :tenant AND document_id = ANY(:ids)"), params
    )


async def purge_stream(redis: Redis, tenant_id: uuid.UUID, ids: Iterable[str]) -> int:
    """Delete (XDEL) the entries of the business's event stream that name any of `ids`; the
    number deleted. Entries are JSON of ids and statuses, so an id names the customer."""
    needles = [i for i in ids if i]
    if not needles:
        return 0
    stream = stream_name(tenant_id)
    deleted = 0
    start = "-"
    while True:
        entries = await redis.xrange(stream, min=start, max="+", count=STREAM_PAGE)
        if not entries:
            break
        doomed: list[bytes | str] = []
        for entry_id, fields in entries:
            if entry_id is not None and any(needle in _text(fields) for needle in needles):
                doomed.append(entry_id)
        if doomed:
            deleted += int(await redis.xdel(stream, *doomed))
        if len(entries) < STREAM_PAGE:
            break
        last = entries[-1][0]
        last_text = last.decode() if isinstance(last, bytes) else str(last)
        start = "(" + last_text
    return deleted


def _text(fields: dict[bytes | str, bytes | str] | None) -> str:
    """A stream entry's values as one text (redis-py gives bytes unless told to decode)."""
    values = (fields or {}).values()
    return " ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values)
