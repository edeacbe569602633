"""Signing a person's own devices out, for the account page and the JSON API alike: the
session store does it, the audit trail records it. No step-up: it only takes access away."""

from __future__ import annotations

from clientcompass.audit import service as audit
from clientcompass.auth.devices import device_label
from clientcompass.auth.principal import Principal
from clientcompass.auth.sessions import Session
from clientcompass.errors import InvalidInput
from clientcompass.models import AuditAction
from clientcompass.web.state import AppState

NEEDS_A_SESSION = "Sign in with your password in a browser to manage your devices."


def session_of(principal: Principal) -> Session:
    """Devices are browser sessions: an API token has none to list or keep."""
    if principal.session is None:
        raise InvalidInput(NEEDS_A_SESSION)
    return principal.session


async def sign_out_others(state: AppState, principal: Principal) -> int:
    """Every other session of mine ends now; this one stays. Returns how many ended."""
    ended = await state.sessions.delete_others(session_of(principal))
    async with state.unit_of_work(principal.tenant_id) as uow:
        await audit.record(
            uow,
            AuditAction.SIGN_OUT_OTHERS,
            actor_id=principal.user_id,
            details={"sessions_ended": ended},
        )
    return ended


async def sign_out_device(state: AppState, principal: Principal, handle: str) -> bool:
    """Sign one of my devices out by its handle; False when none of mine has it."""
    session = session_of(principal)
    handle = handle[:64]
    label = next(
        (
            device_label(d.user_agent)
            for d in await state.sessions.devices(session)
            if d.handle == handle
        ),
        "",
    )
    if not await state.sessions.delete_device(session, handle):
        return False
    async with state.unit_of_work(principal.tenant_id) as uow:
        await audit.record(
            uow,
            AuditAction.SIGN_OUT_DEVICE,
            actor_id=principal.user_id,
            target_kind="device",
            target_label=label,
        )
    return True
