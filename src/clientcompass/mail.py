"""Outgoing email over SMTP when configured; in development, the message goes to the log."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
import structlog

from clientcompass.config import Environment, Settings

log = structlog.get_logger(__name__)


async def send_mail(settings: Settings, *, to: str, subject: str, body: str) -> bool:
    """Send one plain-text message; False when there is nowhere to send it."""
    if not settings.smtp_host:
        if settings.env is Environment.DEVELOPMENT:
            # Development only: links in these mails are how a developer signs in without SMTP.
            # Anywhere else they are live sign-in and reset links, and never logged.
            log.info("email (SMTP not configured)", to=to, subject=subject, message_body=body)
        else:
            log.warning("email not sent: SMTP is not configured", subject=subject)
        return False
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
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
