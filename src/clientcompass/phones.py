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


def national(e164: str) -> str:
    """How people read a number: South African ones as dialled at home (082 123 4567), others
    in international form (+44 20 7946 0958). Anything unparsable is shown as stored."""
    try:
        number = phonenumbers.parse(e164, "ZA")
    except phonenumbers.NumberParseException:
        return e164
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 27
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


def international(e164: str) -> str:
    """The number with its country code, grouped (+27 82 123 4567): what an export writes, so
    a spreadsheet keeps it as text and the `+` is not dropped."""
    try:
        number = phonenumbers.parse(e164, "ZA")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
