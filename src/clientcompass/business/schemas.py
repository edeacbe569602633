"""What the business profile accepts; validators give messages a person can act on."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, EmailStr, Field, field_validator

from clientcompass.phones import normalise_za_phone


class AccountType(StrEnum):
    CHEQUE = "cheque"
    SAVINGS = "savings"
    TRANSMISSION = "transmission"
    BUSINESS = "business"


class BusinessProfileIn(BaseModel):
    trading_name: str = Field(min_length=2, max_length=200)
    registered_name: str = Field("", max_length=200)
    registration_number: str = Field("", max_length=50)
    vat_number: str = Field("", max_length=20)
    physical_address: str = Field("", max_length=1000)
    postal_address: str = Field("", max_length=1000)
    phone: str = Field("", max_length=30)
    # Blank means none (the form's empty box): the schema says so, as the validator does.
    email: EmailStr | Literal[""] | None = None
    default_vat_rate: Decimal = Field(Decimal("15"), ge=0, le=100, decimal_places=2)
    default_quote_terms: str = Field("", max_length=5000)
    default_invoice_terms: str = Field("", max_length=5000)
    timezone: str = "Africa/Johannesburg"

    @field_validator("trading_name", "registered_name", "registration_number", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("email", mode="before")
    @classmethod
    def _blank_email(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("vat_number")
    @classmethod
    def _vat_number(cls, value: str) -> str:
        digits = re.sub(r"\s", "", value)
        if digits and not re.fullmatch(r"4\d{9}", digits):
            raise ValueError("A South African VAT number has 10 digits and starts with 4.")
        return digits

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_za_phone(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError("Choose a time zone from the list, e.g. Africa/Johannesburg.")
        return value


class BusinessProfileOut(BusinessProfileIn):
    email: str | None = None
    has_logo: bool = False
    has_banking_details: bool = False


class BankingDetails(BaseModel):
    bank: str = Field(min_length=2, max_length=100)
    account_holder: str = Field(min_length=2, max_length=200)
    account_number: str = Field(min_length=6, max_length=20)
    branch_code: str = Field(min_length=6, max_length=6)
    account_type: AccountType

    @field_validator("account_number", "branch_code", mode="before")
    @classmethod
    def _digits(cls, value: object) -> object:
        if isinstance(value, str):
            value = re.sub(r"[\s-]", "", value)
            if not value.isdigit():
                raise ValueError("Use digits only.")
        return value


class BankingDetailsIn(BankingDetails):
    password: str = Field(min_length=1, max_length=1024, description="Step-up: your password")


class BankingDetailsMasked(BaseModel):
    bank: str
    account_holder: str
    account_number_last4: str
    branch_code: str
    account_type: AccountType
