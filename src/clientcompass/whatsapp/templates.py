"""WhatsApp templates: drafted here, created in Twilio's Content API, submitted to WhatsApp for
approval, and kept in step with WhatsApp's verdict by syncing.

These are the use cases, each working on a unit of work; what makes a template acceptable to
WhatsApp, and how one is filled and rendered, lives in `template_rules`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select

from clientcompass.auth.principal import Principal
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.errors import Conflict, DomainError, InvalidInput, NotFound
from clientcompass.models import Channel, Conversation, MessageTemplate, TemplateStatus
from clientcompass.twilio_client import (
    Credentials,
    OutcomeUnknown,
    TwilioClient,
    TwilioRejected,
    TwilioUnavailable,
)
from clientcompass.whatsapp import channels, outbound
from clientcompass.whatsapp.content import content_payload
from clientcompass.whatsapp.template_rules import (
    APPROVAL_STATUSES,
    SYNCED_STATUSES,
    TemplateDraft,
    check,
    not_approved_message,
    render_preview,
    send_values,
)
from clientcompass.work import UnitsOfWork

log = structlog.get_logger(__name__)


class NotApproved(InvalidInput):
    code = "template_not_approved"


class TwilioDown(DomainError):
    status_code = 503
    code = "twilio_unavailable"


async def _channel_for(uow: UnitOfWork, actor: Principal, channel_id: uuid.UUID | None) -> Channel:
    if channel_id is not None:
        return await channels.get_channel(uow, actor.tenant_id, channel_id)
    connected = [c for c in await channels.list_channels(uow, actor) if c.disabled_at is None]
    if not connected:
        raise InvalidInput(
            "Connect a WhatsApp number in Settings → WhatsApp before creating templates.",
            field="channel_id",
        )
    if len(connected) > 1:
        raise InvalidInput("Choose the WhatsApp number this template is for.", field="channel_id")
    return connected[0]


async def create(uow: UnitOfWork, actor: Principal, draft: TemplateDraft) -> MessageTemplate:
    """Store a checked draft; nothing reaches Twilio until it is submitted."""
    actor.require_manager()
    checked = check(draft)
    channel = await _channel_for(uow, actor, draft.channel_id)
    taken = await uow.session.scalar(
        select(MessageTemplate.id)
        .where(MessageTemplate.tenant_id == actor.tenant_id)
        .where(MessageTemplate.channel_id == channel.id)
        .where(MessageTemplate.name == checked.name)
    )
    if taken is not None:
        raise Conflict(
            f"There is already a template called {checked.name} on {channel.name}. Choose another name.",
            field="name",
        )
    template = MessageTemplate(
        tenant_id=actor.tenant_id,
        id=uuid.uuid4(),
        channel_id=channel.id,
        name=checked.name,
        language=checked.language,
        category=checked.category,
        kind=checked.kind.value,
        body=checked.body,
        variables=checked.variables,
        actions=checked.actions,
        media_url=checked.media_url,
        content_sid="",
        status=TemplateStatus.DRAFT,
        rejection_reason="",
        created_at=uow.now,
    )
    uow.session.add(template)
    await uow.session.flush()
    return template


async def get_template(
    uow: UnitOfWork, template_id: uuid.UUID, *, for_update: bool = False
) -> MessageTemplate:
    assert uow.tenant_id is not None
    query = (
        select(MessageTemplate)
        .where(MessageTemplate.tenant_id == uow.tenant_id)
        .where(MessageTemplate.id == template_id)
    )
    template = await uow.session.scalar(query.with_for_update() if for_update else query)
    if template is None:
        raise NotFound("That template does not exist.")
    return template


async def list_templates(
    uow: UnitOfWork,
    *,
    status: TemplateStatus | None = None,
    channel_id: uuid.UUID | None = None,
) -> list[MessageTemplate]:
    assert uow.tenant_id is not None
    query = (
        select(MessageTemplate)
        .where(MessageTemplate.tenant_id == uow.tenant_id)
        .order_by(MessageTemplate.created_at.desc(), MessageTemplate.name)
    )
    if status is not None:
        query = query.where(MessageTemplate.status == status)
    if channel_id is not None:
        query = query.where(MessageTemplate.channel_id == channel_id)
    return list(await uow.session.scalars(query))


async def list_approved(uow: UnitOfWork, channel_id: uuid.UUID) -> list[MessageTemplate]:
    """The approved templates on this number (what may go when the 24-hour window is closed)."""
    return await list_templates(uow, status=TemplateStatus.APPROVED, channel_id=channel_id)


def filled_by_a_person(template: MessageTemplate) -> bool:
    """Whether a person can fill it in the composer: a template whose header file is itself a
    placeholder (a quote's PDF) is filled by the app when it sends that document."""
    return "{{" not in template.media_url


@dataclass(frozen=True)
class Submission:
    template: MessageTemplate
    problem: DomainError | None = None


async def submit(
    uow: UnitOfWork,
    actor: Principal,
    keyring: Keyring,
    twilio: TwilioClient,
    template_id: uuid.UUID,
) -> Submission:
    """Create the content in Twilio (once) and ask WhatsApp to approve it: status → pending.

    A failure after Twilio has the content is returned as `problem`, not raised, so the
    caller commits the content SID and pressing Submit again does not create a second copy.
    """
    actor.require_manager()
    template = await get_template(uow, template_id, for_update=True)
    if template.status is not TemplateStatus.DRAFT:
        raise Conflict(_already_submitted(template))
    channel = await channels.get_channel(uow, template.tenant_id, template.channel_id)
    credentials = channels.credentials(channel, keyring)
    if not template.content_sid:
        try:
            created = await twilio.create_content(credentials, content_payload(template))
        except TwilioRejected as exc:
            raise InvalidInput(f"Twilio refused the template: {exc.message}") from exc
        except (TwilioUnavailable, OutcomeUnknown) as exc:
            raise TwilioDown(
                "Twilio could not be reached, so nothing was submitted. Try again in a minute."
            ) from exc
        template.content_sid = str(created["sid"])
        await uow.session.flush()
    try:
        await twilio.submit_whatsapp_approval(
            credentials, template.content_sid, name=template.name, category=template.category.value
        )
    except TwilioRejected as exc:
        return Submission(
            template, InvalidInput(f"Twilio did not accept the approval request: {exc.message}")
        )
    except TwilioUnavailable:
        return Submission(
            template,
            TwilioDown(
                "Twilio could not be reached to request approval. Press Submit again in a minute."
            ),
        )
    except OutcomeUnknown:
        # Twilio may have the request. Pending it is; a sync says `unsubmitted` if not.
        log.warning("approval request outcome unknown", template_id=str(template.id))
    template.status = TemplateStatus.PENDING
    template.submitted_at = uow.now
    template.rejection_reason = ""
    await uow.session.flush()
    return Submission(template)


def _already_submitted(template: MessageTemplate) -> str:
    if template.status is TemplateStatus.REJECTED:
        return (
            "WhatsApp rejected this template, and a rejected template cannot be submitted again. "
            "Create a corrected one under a new name."
        )
    return f"This template was already submitted (status: {template.status.value}). Use Sync now to check on it."


def apply_approval(template: MessageTemplate, whatsapp: Mapping[str, Any], uow: UnitOfWork) -> None:
    """Take Twilio's WhatsApp approval block as the truth about this template."""
    twilio_status = str(whatsapp.get("status") or "").lower()
    status = APPROVAL_STATUSES.get(twilio_status)
    template.synced_at = uow.now
    if status is None:
        log.warning(
            "unknown template approval status", status=twilio_status, template_id=str(template.id)
        )
        return
    reason = str(whatsapp.get("rejection_reason") or "").strip()
    if status is TemplateStatus.REJECTED and not reason:
        reason = "WhatsApp did not give a reason."
    template.status = status
    template.rejection_reason = (
        reason
        if status in (TemplateStatus.REJECTED, TemplateStatus.PAUSED, TemplateStatus.DISABLED)
        else ""
    )
    if status is TemplateStatus.DRAFT:
        template.submitted_at = None


async def _approval(
    twilio: TwilioClient, credentials: Credentials, content_sid: str
) -> dict[str, Any]:
    """WhatsApp's review of a template, as Twilio reports it (a deleted one reads as disabled)."""
    try:
        approval = await twilio.fetch_approval(credentials, content_sid)
    except TwilioRejected as exc:
        if exc.status != 404:
            raise InvalidInput(f"Twilio refused the status check: {exc.message}") from exc
        return {
            "status": "disabled",
            "rejection_reason": "The template was deleted in Twilio, so it cannot be sent.",
        }
    except (TwilioUnavailable, OutcomeUnknown) as exc:
        raise TwilioDown(
            "Twilio could not be reached to check the template. Try again in a minute."
        ) from exc
    whatsapp = approval.get("whatsapp")
    return whatsapp if isinstance(whatsapp, dict) else {}


async def sync_one(
    units: UnitsOfWork,
    keyring: Keyring,
    twilio: TwilioClient,
    tenant_id: uuid.UUID,
    template_id: uuid.UUID,
) -> MessageTemplate | None:
    """Ask Twilio for the template's WhatsApp approval status and record it; None when the
    template is gone. Read, release, ask, then write: no row stays locked (and no connection
    stays held) while Twilio answers. A template re-submitted meanwhile keeps its new state."""
    async with units(tenant_id) as uow:
        try:
            template = await get_template(uow, template_id)
        except NotFound:
            return None
        if not template.content_sid:
            return template  # a draft Twilio has never seen: nothing to ask
        channel = await channels.get_channel(uow, tenant_id, template.channel_id)
        credentials, asked_about = channels.credentials(channel, keyring), template.content_sid
    whatsapp = await _approval(twilio, credentials, asked_about)
    async with units(tenant_id) as uow:
        try:
            template = await get_template(uow, template_id, for_update=True)
        except NotFound:
            return None
        if template.content_sid == asked_about:
            apply_approval(template, whatsapp, uow)
            await uow.session.flush()
        return template


async def sync(
    units: UnitsOfWork,
    actor: Principal,
    keyring: Keyring,
    twilio: TwilioClient,
    template_id: uuid.UUID,
) -> MessageTemplate:
    """'Sync now' for one template, for someone who does not want to wait for the job."""
    actor.require_manager()
    template = await sync_one(units, keyring, twilio, actor.tenant_id, template_id)
    if template is None:
        raise NotFound("That template does not exist.")
    return template


@dataclass
class SyncReport:
    synced: list[MessageTemplate] = field(default_factory=list)
    failed: dict[uuid.UUID, str] = field(default_factory=dict)


async def sync_all(
    units: UnitsOfWork, actor: Principal, keyring: Keyring, twilio: TwilioClient
) -> SyncReport:
    """Sync every submitted template of the business; one failure does not stop the rest."""
    actor.require_manager()
    async with units(actor.tenant_id) as uow:
        ids = list(
            await uow.session.scalars(
                select(MessageTemplate.id)
                .where(MessageTemplate.tenant_id == actor.tenant_id)
                .where(MessageTemplate.content_sid != "")
                .where(MessageTemplate.status.in_(SYNCED_STATUSES))
                .order_by(MessageTemplate.synced_at.asc().nulls_first())
            )
        )
    report = SyncReport()
    for template_id in ids:
        try:
            synced = await sync_one(units, keyring, twilio, actor.tenant_id, template_id)
        except DomainError as exc:
            report.failed[template_id] = exc.message
        else:
            if synced is not None:
                report.synced.append(synced)
    return report


async def outgoing_for(
    uow: UnitOfWork,
    template_id: uuid.UUID,
    variables: Mapping[str, str],
    *,
    conversation_id: uuid.UUID | None = None,
) -> outbound.Outgoing:
    """What `outbound.enqueue` sends for this template: approved, every value filled, with the
    filled text as the thread's preview. With `conversation_id`, the template must belong to
    that conversation's WhatsApp number (its content lives in that number's Twilio account)."""
    template = await get_template(uow, template_id)
    if template.status is not TemplateStatus.APPROVED:
        raise NotApproved(not_approved_message(template), field="template")
    if conversation_id is not None:
        assert uow.tenant_id is not None
        conversation = await uow.session.get(Conversation, (uow.tenant_id, conversation_id))
        if conversation is not None and conversation.channel_id != template.channel_id:
            raise InvalidInput(
                "This template belongs to another WhatsApp number than this conversation.",
                field="template",
            )
    values = send_values(template, variables)
    return outbound.Outgoing(
        content_sid=template.content_sid,
        content_variables=values,
        preview_text=render_preview(template, values),
    )
