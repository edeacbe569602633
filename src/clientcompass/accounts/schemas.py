from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from clientcompass.models.user import ApiToken, Role


class SignUp(BaseModel):
    business_name: str = Field(min_length=2, max_length=200)
    owner_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Field(min_length=10, max_length=1024)


class Login(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=10, max_length=1024)


class ProfileUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    email: str
    role: Role
    business_name: str


class ApiTokenOut(BaseModel):
    """A personal API token as listed: never its secret."""

    id: uuid.UUID
    name: str
    user_id: uuid.UUID
    holder_name: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, api_token: ApiToken, holder_name: str) -> ApiTokenOut:
        return cls(
            id=api_token.id,
            name=api_token.name,
            user_id=api_token.user_id,
            holder_name=holder_name,
            created_at=api_token.created_at,
            last_used_at=api_token.last_used_at,
        )


class EmailChangeRequest(BaseModel):
    new_email: EmailStr
    password: str = Field(min_length=1, max_length=1024, description="Step-up: your password")


class EmailChangePending(BaseModel):
    """A change waiting for the link sent to the new address; the old one signs in until then."""

    pending_email: str
    expires_at: datetime


class DeviceOut(BaseModel):
    """A signed-in browser of mine: named by a digest of its session, never the session id."""

    device: str
    label: str
    ip: str
    signed_in_at: datetime
    last_used_at: datetime
    current: bool


class DeviceSignOut(BaseModel):
    device: str = Field(min_length=1, max_length=64)


class SignedOut(BaseModel):
    signed_out: int
