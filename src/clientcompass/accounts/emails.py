"""The emails an email-address change sends: the link to the new address, a notice to the
old one (at the request, and again once it is done)."""

from __future__ import annotations

from clientcompass.accounts.service import EMAIL_CHANGE_LIFETIME, EmailChangeLink
from clientcompass.db import UnitOfWork
from clientcompass.models import User


def verification_url(base_url: str, token: str) -> str:
    return f"{base_url}/verify-email?token={token}"


def defer_email_change_mails(uow: UnitOfWork, link: EmailChangeLink, base_url: str) -> None:
    """Queue, in the request's transaction, the link to the new address and the notice to the
    old one (who may not be the person asking)."""
    hours = int(EMAIL_CHANGE_LIFETIME.total_seconds() // 3600)
    uow.defer_job(
        "send_email",
        to=link.new_email,
        subject="Confirm your new Client Compass email address",
        body=(
            f"Hi {link.user.name},\n\nYou asked to sign in to Client Compass with this address "
            f"instead of {link.user.email}. Confirm it within {hours} hours with this link:\n"
            f"{verification_url(base_url, link.token)}\n\n"
            "Until you do, nothing changes. If you did not ask for this, ignore this email."
        ),
    )
    uow.defer_job(
        "send_email",
        to=link.user.email,
        subject="Someone asked to change your Client Compass email address",
        body=(
            f"Hi {link.user.name},\n\nA change of your sign-in email address to {link.new_email} "
            "was asked for, with your password. It takes effect only once the link sent to "
            "that address is used.\n\nIf this was not you, sign in, change your password and "
            "use “Sign out everywhere else” in your account settings."
        ),
    )


def defer_email_changed_notice(uow: UnitOfWork, user: User, old_email: str) -> None:
    uow.defer_job(
        "send_email",
        to=old_email,
        subject="Your Client Compass email address was changed",
        body=(
            f"Hi {user.name},\n\nYou now sign in to Client Compass with {user.email}; "
            f"{old_email} no longer works for signing in.\n\nIf this was not you, reply to "
            "this email or contact the owner of your business at once."
        ),
    )
