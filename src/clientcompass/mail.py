"""Outgoing email over SMTP when configured; in development, the message goes to the log.

A message is plain text, optionally with an HTML alternative (a mail client shows the best
part it can) and extra headers, such as RFC 8058's `List-Unsubscribe` pair on notifications.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage

import aiosmtplib
import structlog

from clientcompass.config import Environment, Settings

log = structlog.get_logger(__name__)


def build_message(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body: str,
    html: str = "",
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The message as sent: text first, then HTML (RFC 2046: the last part is preferred)."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    return message


async def send_mail(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body: str,
    html: str = "",
    headers: Mapping[str, str] | None = None,
) -> bool:
    """Send one message; False when there is nowhere to send it."""
    if not settings.smtp_host:
        if settings.env is Environment.DEVELOPMENT:
            # Development only: links in these mails are how a developer signs in without SMTP.
            # Anywhere else they are live sign-in, reset and unsubscribe links, never logged.
            log.info("email (SMTP not configured)", to=to, subject=subject, message_body=body)
        else:
            log.warning("email not sent: SMTP is not configured", subject=subject)
        return False
    message = build_message(settings, to=to, subject=subject, body=body, html=html, headers=headers)
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        start_tls=settings.smtp_starttls,
        timeout=30,
    )
    log.info("email sent", subject=subject)
    return True
