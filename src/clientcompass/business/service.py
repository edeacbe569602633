"""The business profile, its logo and its banking details (sealed at rest)."""

from __future__ import annotations

import json
import uuid
from decimal import ROUND_HALF_UP, Decimal

from clientcompass.audit import service as audit
from clientcompass.auth.principal import Principal
from clientcompass.business.schemas import (
    BankingDetails,
    BankingDetailsMasked,
    BusinessProfileIn,
    BusinessProfileOut,
)
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput, NotFound
from clientcompass.models import AuditAction, BusinessProfile, Tenant

LOGO_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def banking_context(profile: BusinessProfile) -> str:
    """Binds the sealed value to its row, so a copy pasted into another tenant won't open."""
    return f"business_profiles.banking_details:{profile.tenant_id}"


async def get_profile(uow: UnitOfWork, actor: Principal) -> BusinessProfile:
    return await profile_of(uow, actor.tenant_id)


async def profile_of(uow: UnitOfWork, tenant_id: uuid.UUID) -> BusinessProfile:
    """The profile where there is no signed-in member: jobs and the public document link."""
    profile = await uow.session.get(BusinessProfile, tenant_id)
    if profile is None:
        raise NotFound("This business has no profile yet.")
    return profile


def profile_out(profile: BusinessProfile) -> BusinessProfileOut:
    return BusinessProfileOut(
        trading_name=profile.trading_name,
        registered_name=profile.registered_name,
        registration_number=profile.registration_number,
        vat_number=profile.vat_number,
        physical_address=profile.physical_address,
        postal_address=profile.postal_address,
        phone=profile.phone,
        email=profile.email or None,
        default_vat_rate=(Decimal(profile.default_vat_rate_bp) / 100).quantize(Decimal("0.01")),
        default_quote_terms=profile.default_quote_terms,
        default_invoice_terms=profile.default_invoice_terms,
        timezone=profile.timezone,
        has_logo=profile.logo is not None,
        has_banking_details=profile.banking_details_sealed is not None,
    )


async def update_profile(
    uow: UnitOfWork, actor: Principal, data: BusinessProfileIn
) -> BusinessProfile:
    actor.require_manager()
    profile = await get_profile(uow, actor)
    profile.trading_name = data.trading_name
    profile.registered_name = data.registered_name
    profile.registration_number = data.registration_number
    profile.vat_number = data.vat_number
    profile.physical_address = data.physical_address.strip()
    profile.postal_address = data.postal_address.strip()
    profile.phone = data.phone
    profile.email = str(data.email or "")
    profile.default_vat_rate_bp = int(
        (data.default_vat_rate * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )
    profile.default_quote_terms = data.default_quote_terms.strip()
    profile.default_invoice_terms = data.default_invoice_terms.strip()
    profile.timezone = data.timezone
    profile.updated_at = uow.now
    tenant = await uow.session.get(Tenant, actor.tenant_id)
    if tenant is not None:
        tenant.name = data.trading_name
    await uow.session.flush()
    return profile


def logo_type(content: bytes, *, max_bytes: int) -> str:
    """The logo's content type, or why it is refused (checked before anything is saved, so
    the page can show it beside every other field's error)."""
    if len(content) > max_bytes:
        raise InvalidInput(
            f"That logo is too large; the limit is {max_bytes // 1024} KB.", field="logo"
        )
    content_type = next(
        (kind for magic, kind in LOGO_SIGNATURES.items() if content.startswith(magic)), None
    )
    if content_type is None:
        raise InvalidInput("Upload the logo as a PNG or JPEG image.", field="logo")
    return content_type


async def set_logo(
    uow: UnitOfWork, actor: Principal, content: bytes, *, max_bytes: int
) -> BusinessProfile:
    actor.require_manager()
    content_type = logo_type(content, max_bytes=max_bytes)
    profile = await get_profile(uow, actor)
    profile.logo = content
    profile.logo_content_type = content_type
    profile.updated_at = uow.now
    await uow.session.flush()
    return profile


async def set_banking_details(
    uow: UnitOfWork, actor: Principal, keyring: Keyring, details: BankingDetails
) -> None:
    """Seal and store banking details. The caller has already done the password step-up."""
    actor.require_manager()
    profile = await get_profile(uow, actor)
    plaintext = json.dumps(details.model_dump(mode="json"), sort_keys=True)
    profile.banking_details_sealed = keyring.encrypt(plaintext, context=banking_context(profile))
    profile.updated_at = uow.now
    await audit.record(
        uow,
        AuditAction.BANKING_DETAILS_CHANGED,
        actor_id=actor.user_id,
        target_kind="business",
        target_label=details.bank,
    )
    await uow.session.flush()


def read_banking_details(profile: BusinessProfile, keyring: Keyring) -> BankingDetails | None:
    if profile.banking_details_sealed is None:
        return None
    plaintext = keyring.decrypt(profile.banking_details_sealed, context=banking_context(profile))
    return BankingDetails.model_validate_json(plaintext)


def mask_banking_details(details: BankingDetails) -> BankingDetailsMasked:
    return BankingDetailsMasked(
        bank=details.bank,
        account_holder=details.account_holder,
        account_number_last4=details.account_number[-4:],
        branch_code=details.branch_code,
        account_type=details.account_type,
    )
