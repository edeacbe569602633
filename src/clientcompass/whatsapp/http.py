"""What the WhatsApp JSON routes and pages share: a channel and a template as the API shows
them, and connecting a sender. Neither kind of route imports the other."""

from __future__ import annotations

from clientcompass.auth.principal import Principal
from clientcompass.models import Channel, MessageTemplate
from clientcompass.web.state import AppState
from clientcompass.whatsapp import channels, template_rules
from clientcompass.whatsapp.schemas import ChannelIn, ChannelOut, TemplateOut


def channel_out(base_url: str, channel: Channel) -> ChannelOut:
    urls = channels.webhook_urls(base_url, channel)
    return ChannelOut(
        id=channel.id,
        name=channel.name,
        whatsapp_from=channel.whatsapp_from,
        account_sid=channel.account_sid,
        is_sandbox=channel.is_sandbox,
        inbound_webhook_url=urls.inbound,
        status_callback_url=urls.status,
    )


async def connect_from(state: AppState, principal: Principal, data: ChannelIn) -> Channel:
    """Connect a sender as the page and the API both do: checked with Twilio, then stored."""
    principal.require_manager()
    sender = channels.checked_sender(
        account_sid=data.account_sid,
        auth_token=data.auth_token,
        whatsapp_from=data.whatsapp_from,
        messaging_service_sid=data.messaging_service_sid,
    )
    return await channels.connect_twilio(
        state.unit_of_work,
        principal,
        state.keyring,
        state.twilio,
        sender,
        name=data.name,
        sends_per_second=state.settings.whatsapp_sends_per_second,
    )


def template_out(template: MessageTemplate) -> TemplateOut:
    return TemplateOut(
        id=template.id,
        channel_id=template.channel_id,
        name=template.name,
        language=template.language,
        category=template.category,
        kind=template.kind,
        body=template.body,
        variables=template.variables,
        actions=[{k: str(v) for k, v in action.items()} for action in template.actions],
        media_url=template.media_url,
        content_sid=template.content_sid,
        status=template.status,
        rejection_reason=template.rejection_reason,
        submitted_at=template.submitted_at,
        synced_at=template.synced_at,
        created_at=template.created_at,
        placeholders=[str(n) for n in template_rules.scan(template.body).numbers],
        preview=template_rules.fill(template.body, template.variables),
    )
