"""ORM models, one module per aggregate; importing this package registers them all."""

from clientcompass.models.base import Base
from clientcompass.models.tenant import BusinessProfile, Tenant, TenantSetting
from clientcompass.models.user import ApiToken, Invitation, LoginIndex, PasswordReset, Role, User

__all__ = [
    "ApiToken",
    "Base",
    "BusinessProfile",
    "Invitation",
    "LoginIndex",
    "PasswordReset",
    "Role",
    "Tenant",
    "TenantSetting",
    "User",
]
