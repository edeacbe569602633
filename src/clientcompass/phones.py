"""Phone numbers as the product stores them: E.164, read the way South Africans type them."""

from __future__ import annotations

import phonenumbers


def normalise_za_phone(value: str) -> str:
    """E.164 for a South African (or international) number; empty stays empty."""
    value = value.strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, "ZA")
    except phonenumbers.NumberParseException as exc:
        raise ValueError("Enter a phone number like 082 123 4567 or +27 82 123 4567.") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("That phone number is not valid. Check the digits.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
