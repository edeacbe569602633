"""Teammates: one-time invitation links, roles and removal (personal API tokens: auth/tokens.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import delete, func, select

from clientcompass.accounts.service import (
    create_user,
    expire_reset_links,
    normalise_email,
    register_login,
    release_login,
)
from clientcompass.audit import service as audit
from clientcompass.auth import bearer
from clientcompass.auth.lookup import lock_by_token
from clientcompass.auth.passwords import check_password_strength, hash_password
from clientcompass.auth.principal import Principal
from clientcompass.auth.tokens import revoke_all_tokens
from clientcompass.db import UnitOfWork
from clientcompass.errors import Conflict, Forbidden, Gone, NotFound
from clientcompass.models import (
    AuditAction,
    BusinessProfile,
    Invitation,
    PushSubscription,
    Role,
    Tenant,
    User,
)
from clientcompass.policy.policy import record_acceptance

log = structlog.get_logger(__name__)

INVITE_TOKEN_PREFIX = "cci"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str
    url: str


def invitation_url(base_url: str, token: str) -> str:
    return f"{base_url}/invite?token={token}"


async def invite(
    uow: UnitOfWork,
    actor: Principal,
    *,
    email: str,
    role: Role,
    lifetime_seconds: int,
    base_url: str,
) -> IssuedInvitation:
    """Create a one-time invitation and email its link (after commit)."""
    actor.require_manager()
    if role is Role.OWNER and actor.role is not Role.OWNER:
        raise Forbidden("Only an owner can invite another owner.")
    email = normalise_email(email)
    existing = await uow.session.scalar(
        select(User.id)
        .where(User.tenant_id == actor.tenant_id)
        .where(User.email == email)
        .where(User.is_active)
    )
    if existing is not None:
        raise Conflict(f"{email} is already a member of this business.", field="email")
    secret = bearer.issue(INVITE_TOKEN_PREFIX, actor.tenant_id)
    invitation = Invitation(
        tenant_id=actor.tenant_id,
        id=uuid.uuid4(),
        email=email,
        role=role,
        token_hash=secret.digest,
        invited_by=actor.user_id,
        expires_at=uow.now + timedelta(seconds=lifetime_seconds),
    )
    uow.session.add(invitation)
    await uow.session.flush()
    url = invitation_url(base_url, secret.token)
    days = max(1, lifetime_seconds // 86400)
    uow.defer_job(
        "send_email",
        to=email,
        subject=f"{actor.name} invited you to Client Compass",
        body=(
            f"{actor.name} invited you to join their team on Client Compass as {role.value}.\n\n"
            f"Accept within {days} day{'s' if days != 1 else ''} with this one-time link:\n{url}\n"
        ),
    )
    return IssuedInvitation(invitation, secret.token, url)


async def open_invitation(uow: UnitOfWork, token: str) -> Invitation:
    """The live invitation a link carries; scopes `uow` to its tenant."""
    invalid = Gone("This invitation link is invalid, used or expired. Ask for a new one.")
    invitation = await lock_by_token(uow, Invitation, INVITE_TOKEN_PREFIX, token)
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= uow.now
    ):
        raise invalid
    return invitation


@dataclass(frozen=True)
class InvitationView:
    """What the join page tells the invitee: who asked them, to which business, as what."""

    email: str
    business_name: str
    inviter_name: str
    role: Role


async def invitation_view(uow: UnitOfWork, token: str) -> InvitationView:
    invitation = await open_invitation(uow, token)
    # The name the business trades under (its profile), else the one it signed up with.
    profile = await uow.session.get(BusinessProfile, invitation.tenant_id)
    business_name = (profile.trading_name if profile is not None else "") or (
        await uow.session.scalar(select(Tenant.name).where(Tenant.id == invitation.tenant_id))
    )
    inviter = (
        await uow.session.get(User, (invitation.tenant_id, invitation.invited_by))
        if invitation.invited_by is not None
        else None
    )
    return InvitationView(
        invitation.email,
        business_name or "",
        inviter.name if inviter is not None else "",
        invitation.role,
    )


async def accept_invitation(uow: UnitOfWork, token: str, *, name: str, password: str) -> User:
    invitation = await open_invitation(uow, token)
    former = await uow.session.scalar(
        select(User)
        .where(User.tenant_id == invitation.tenant_id)
        .where(User.email == invitation.email)
        .where(User.removed_at.is_not(None))
    )
    if former is not None:
        user = await _rejoin(uow, former, name=name, password=password, role=invitation.role)
    else:
        user = await create_user(
            uow, email=invitation.email, name=name, password=password, role=invitation.role
        )
    invitation.accepted_at = uow.now
    # Joining accepts the privacy policy (the page says so and links it), as signing up does.
    record_acceptance(user, uow.now)
    await uow.session.flush()
    return user


async def _rejoin(uow: UnitOfWork, former: User, *, name: str, password: str, role: Role) -> User:
    """A removed member invited back: the same row (their past work stays theirs), with the
    name, password and role they accept with; their old tokens stay revoked."""
    check_password_strength(password)
    await register_login(uow, former.email, former.id)
    former.name = name.strip()
    former.password_hash = hash_password(password)
    former.password_changed_at = uow.now
    former.role = role
    former.is_active = True
    former.removed_at = None
    former.removed_by = None
    return former


async def list_members(uow: UnitOfWork, actor: Principal) -> list[User]:
    """The business's current members (removed ones are gone from the team)."""
    rows = await uow.session.scalars(
        select(User)
        .where(User.tenant_id == actor.tenant_id)
        .where(User.is_active)
        .order_by(User.created_at)
    )
    return list(rows)


async def list_pending_invitations(uow: UnitOfWork, actor: Principal) -> list[Invitation]:
    actor.require_manager()
    rows = await uow.session.scalars(
        select(Invitation)
        .where(Invitation.tenant_id == actor.tenant_id)
        .where(Invitation.accepted_at.is_(None))
        .where(Invitation.revoked_at.is_(None))
        .where(Invitation.expires_at > uow.now)
        .order_by(Invitation.created_at.desc())
    )
    return list(rows)


async def revoke_invitation(uow: UnitOfWork, actor: Principal, invitation_id: uuid.UUID) -> None:
    actor.require_manager()
    invitation = await uow.session.get(Invitation, (actor.tenant_id, invitation_id))
    if invitation is None:
        raise NotFound("That invitation does not exist.")
    if invitation.revoked_at is None:  # revoking twice changed nothing the second time
        invitation.revoked_at = uow.now
        await audit.record(
            uow,
            AuditAction.INVITATION_REVOKED,
            actor_id=actor.user_id,
            target_kind="invitation",
            target_id=invitation.id,
            target_label=invitation.email,
        )
    await uow.session.flush()


async def _lock_the_owner_set(uow: UnitOfWork, actor: Principal) -> Role:
    """Serialise every change that could take away an owner, and return the actor's role as
    it is now.

    Two owners demoting (or removing) each other at once would each count the other as the
    owner who stays, and both commit. A row lock on the business (FOR NO KEY UPDATE, which
    does not block inserts that merely reference the business) makes the second wait for the
    first to commit; under READ COMMITTED its next statements then see the first one's change.
    The actor's role is read after the lock, so an owner demoted a moment ago acts no more.
    """
    await uow.session.execute(
        select(Tenant.id).where(Tenant.id == actor.tenant_id).with_for_update(key_share=True)
    )
    role = await uow.session.scalar(
        select(User.role)
        .where(User.tenant_id == actor.tenant_id)
        .where(User.id == actor.user_id)
        .where(User.is_active)
    )
    if role is None:
        raise Forbidden("You are no longer a member of this business.")
    if not role.manages_business:
        raise Forbidden("Only an owner or admin can do that. Ask one of them to help.")
    return role


async def _active_member(uow: UnitOfWork, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    member = await uow.session.get(User, (tenant_id, user_id), populate_existing=True)
    if member is None or not member.is_active:
        raise NotFound("That member does not exist.")
    return member


async def change_role(uow: UnitOfWork, actor: Principal, user_id: uuid.UUID, role: Role) -> User:
    actor_role = await _lock_the_owner_set(uow, actor)
    member = await _active_member(uow, actor.tenant_id, user_id)
    if Role.OWNER in (role, member.role) and actor_role is not Role.OWNER:
        raise Forbidden("Only an owner can make or unmake an owner.")
    if member.role is Role.OWNER and role is not Role.OWNER:
        await _keep_an_owner(uow, actor.tenant_id, leaving=member.id)
    if member.role is not role:
        await audit.record(
            uow,
            AuditAction.ROLE_CHANGED,
            actor_id=actor.user_id,
            target_kind="user",
            target_id=member.id,
            target_label=member.name,
            details={"from": member.role.value, "to": role.value},
        )
    member.role = role
    await uow.session.flush()
    return member


async def remove_member(uow: UnitOfWork, actor: Principal, user_id: uuid.UUID) -> User:
    """Take someone off the team: they can no longer sign in, and their API tokens and
    password-reset links die with the commit. Owners and admins remove members; only an owner
    removes an owner, and never the last one.

    The caller ends their sessions once this commits (`SessionStore.delete_all`); until then,
    and whatever happens to Redis, every request checks that its user is still active.
    """
    actor_role = await _lock_the_owner_set(uow, actor)
    if user_id == actor.user_id:
        raise Conflict("You can't remove yourself. Ask another owner or admin to do it.")
    member = await _active_member(uow, actor.tenant_id, user_id)
    if member.role is Role.OWNER:
        if actor_role is not Role.OWNER:
            raise Forbidden("Only an owner can remove an owner.")
        await _keep_an_owner(uow, actor.tenant_id, leaving=member.id)
    member.is_active = False
    member.removed_at = uow.now
    member.removed_by = actor.user_id
    await revoke_all_tokens(uow, actor.tenant_id, member.id)
    await expire_reset_links(uow, actor.tenant_id, member.id)
    # Nothing more is pushed to their phones.
    await uow.session.execute(
        delete(PushSubscription)
        .where(PushSubscription.tenant_id == actor.tenant_id)
        .where(PushSubscription.user_id == member.id)
    )
    # Their email is free again: to sign up elsewhere, or to be invited back.
    await release_login(uow, member.email)
    await audit.record(
        uow,
        AuditAction.MEMBER_REMOVED,
        actor_id=actor.user_id,
        target_kind="user",
        target_id=member.id,
        target_label=member.name,
    )
    await uow.session.flush()
    log.info(
        "member_removed",
        tenant_id=str(actor.tenant_id),
        member_id=str(member.id),
        removed_by=str(actor.user_id),
    )
    return member


async def _keep_an_owner(uow: UnitOfWork, tenant_id: uuid.UUID, *, leaving: uuid.UUID) -> None:
    """Call only under `_lock_the_owner_set`: the count holds only while no one else changes it."""
    owners = await uow.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.tenant_id == tenant_id)
        .where(User.role == Role.OWNER)
        .where(User.is_active)
        .where(User.id != leaving)
    )
    if not owners:
        raise Conflict("A business needs at least one owner. Make someone else owner first.")
