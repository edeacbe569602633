"""HTML forms validated by the same Pydantic schemas the JSON API uses, and the one cleaner
of the text that comes in.

Text from outside (forms, JSON, query strings, CSV cells, WhatsApp messages) loses its control
characters here (`clean_text`): NUL cannot be stored in PostgreSQL text at all, and none of
them is something a person typed on purpose or can see. They are removed rather than refused:
an error about an invisible character is one nobody can act on, and a customer's WhatsApp
message must be stored whatever bytes it carries. Tab, newline and carriage return stay.

Pydantic's own wording ("String should have at least 10 characters", "Input should be a
valid decimal", email-validator's "The part after the @-sign…") is written for developers.
`plain_message` is the one place that turns an error into a sentence a person can act on,
for pages and the JSON API alike; what our own validators raise is kept word for word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from pydantic_core.core_schema import ErrorType

from clientcompass.errors import DomainError

M = TypeVar("M", bound=BaseModel)

# Pydantic's own error types; any other type is a PydanticCustomError of ours, kept as written.
PYDANTIC_TYPES = frozenset(get_args(ErrorType))
CHECK = "Check this value."
EMAIL = "Enter an email address like name@example.co.za."
NUMBER = "Enter a number, like 150 or 150.50."
WHOLE = "Enter a whole number, like 3."
DATE = "Enter a date, like 2026-12-31."
DATETIME = "Enter a date and time, like 2026-12-31 14:30."
CHOICE = "Choose one of the options given."
URL = "Enter a web address, like https://example.co.za."


# C0 controls but tab, LF and CR, and DEL; and UTF-16 surrogates, which only a JSON `\\ud800`
# escape can produce and which no UTF-8 text (so no PostgreSQL text) can hold.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ODD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
REPLACEMENT = "\ufffd"
# The same characters in a urlencoded form or query string: as a %-escape (a literal % is
# always %25 there, so every % starts an escape) or as a raw byte.
_FORM_CONTROL = re.compile(
    rb"%(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)
# JSON that may hold such a character: a \u escape of one (or of a surrogate). A false alarm
# (an escaped backslash before "u0000") only costs a parse.
_JSON_SUSPECT = re.compile(rb"\\u(?:00[01][0-9a-fA-F]|007[fF]|[dD][89a-fA-F][0-9a-fA-F]{2})")


def clean_text(value: str) -> str:
    """`value` without control characters (tab, newline, CR kept); a lone surrogate becomes
    U+FFFD."""
    if not _ODD.search(value):  # nearly always: one scan, no copy
        return value
    value = _CONTROL.sub("", value)
    return _SURROGATE.sub(REPLACEMENT, value)


def clean_value(value: Any) -> Any:
    """Every string in a parsed JSON value (keys too) through `clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(key)): clean_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_value(item) for item in value]
    return value


def clean_form_bytes(data: bytes) -> bytes:
    """A urlencoded body or query string without control characters, left byte for byte as
    it was otherwise. (An escape of invalid UTF-8 is no danger: it decodes to U+FFFD.)"""
    return _FORM_CONTROL.sub(b"", data)


def clean_json_bytes(data: bytes) -> bytes:
    """A JSON body without control characters in its strings. Untouched unless it has such
    an escape, and left for the API to refuse when it is not JSON at all."""
    if not _JSON_SUSPECT.search(data):
        return data
    try:
        parsed = json.loads(data)
    except ValueError:
        return data
    return json.dumps(clean_value(parsed), ensure_ascii=False).encode()


def _number(value: object) -> str:
    """10, not Decimal('10') or 10.0."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _options(expected: object) -> str:
    """pydantic's "'open', 'pending' or 'resolved'" without the quotes."""
    return str(expected).replace("'", "")


def _length(ctx: Mapping[str, Any]) -> str:
    minimum = int(ctx.get("min_length", 1))
    if minimum <= 1:
        return "Fill this in."
    return f"Use at least {minimum} characters."


def _items_short(ctx: Mapping[str, Any]) -> str:
    minimum = int(ctx.get("min_length", 1))
    return "Add at least one." if minimum <= 1 else f"Add at least {minimum}."


def _ours(ctx: Mapping[str, Any]) -> str | None:
    """The message of a ValueError / AssertionError our own validator raised."""
    error = ctx.get("error")
    if isinstance(error, Exception) and str(error):
        return str(error)
    return None


def _value_error(ctx: Mapping[str, Any]) -> str:
    ours = _ours(ctx)
    if ours is not None:
        return ours
    # EmailStr: PydanticCustomError("value_error", "value is not a valid email address: {reason}")
    return EMAIL if "reason" in ctx else CHECK


_TEXT = "Enter text here."
_SENTENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda ctx: "Fill this in.",
    "string_too_short": _length,
    "string_too_long": lambda ctx: f"Use at most {ctx.get('max_length')} characters.",
    "string_type": lambda ctx: _TEXT,
    "string_sub_type": lambda ctx: _TEXT,
    "string_unicode": lambda ctx: _TEXT,
    "string_pattern_mismatch": lambda ctx: "Check the format of this value.",
    "too_short": _items_short,
    "too_long": lambda ctx: f"Use at most {ctx.get('max_length')} items.",
    "decimal_parsing": lambda ctx: NUMBER,
    "decimal_type": lambda ctx: NUMBER,
    "decimal_max_digits": lambda ctx: "That number is too long.",
    "decimal_whole_digits": lambda ctx: "That number is too big.",
    "decimal_max_places": lambda ctx: (
        f"Use at most {ctx.get('decimal_places')} digits after the decimal point."
    ),
    "float_parsing": lambda ctx: NUMBER,
    "float_type": lambda ctx: NUMBER,
    "finite_number": lambda ctx: NUMBER,
    "int_parsing": lambda ctx: WHOLE,
    "int_parsing_size": lambda ctx: "That number is too big.",
    "int_type": lambda ctx: WHOLE,
    "int_from_float": lambda ctx: WHOLE,
    "greater_than": lambda ctx: f"Enter a number above {_number(ctx.get('gt'))}.",
    "greater_than_equal": lambda ctx: f"Enter {_number(ctx.get('ge'))} or more.",
    "less_than": lambda ctx: f"Enter a number below {_number(ctx.get('lt'))}.",
    "less_than_equal": lambda ctx: f"Enter {_number(ctx.get('le'))} or less.",
    "multiple_of": lambda ctx: f"Enter a multiple of {_number(ctx.get('multiple_of'))}.",
    "enum": lambda ctx: f"Choose one of: {_options(ctx.get('expected', ''))}.",
    "literal_error": lambda ctx: f"Choose one of: {_options(ctx.get('expected', ''))}.",
    "uuid_parsing": lambda ctx: CHOICE,
    "uuid_type": lambda ctx: CHOICE,
    "uuid_version": lambda ctx: CHOICE,
    "bool_parsing": lambda ctx: "Choose yes or no.",
    "bool_type": lambda ctx: "Choose yes or no.",
    "date_parsing": lambda ctx: DATE,
    "date_type": lambda ctx: DATE,
    "date_from_datetime_parsing": lambda ctx: DATE,
    "date_from_datetime_inexact": lambda ctx: DATE,
    "date_past": lambda ctx: "Choose a date in the past.",
    "date_future": lambda ctx: "Choose a date in the future.",
    "datetime_parsing": lambda ctx: DATETIME,
    "datetime_type": lambda ctx: DATETIME,
    "datetime_from_date_parsing": lambda ctx: DATETIME,
    "datetime_object_invalid": lambda ctx: DATETIME,
    "datetime_past": lambda ctx: "Choose a time in the past.",
    "datetime_future": lambda ctx: "Choose a time in the future.",
    "timezone_aware": lambda ctx: "Give the time with its time zone, like 14:30+02:00.",
    "timezone_naive": lambda ctx: "Give the time without a time zone.",
    "time_parsing": lambda ctx: "Enter a time, like 14:30.",
    "time_type": lambda ctx: "Enter a time, like 14:30.",
    "url_parsing": lambda ctx: URL,
    "url_type": lambda ctx: URL,
    "url_scheme": lambda ctx: URL,
    "url_syntax_violation": lambda ctx: URL,
    "url_too_long": lambda ctx: "That web address is too long.",
    "value_error": _value_error,
    "assertion_error": lambda ctx: _ours(ctx) or CHECK,
    "extra_forbidden": lambda ctx: "Leave this out: it is not a field we know.",
    "json_invalid": lambda ctx: "Send valid JSON.",
    "json_type": lambda ctx: "Send valid JSON.",
    "list_type": lambda ctx: "Give a list here.",
    "dict_type": lambda ctx: "Give a group of fields (an object) here.",
    "model_type": lambda ctx: "Give a group of fields (an object) here.",
    "model_attributes_type": lambda ctx: "Give a group of fields (an object) here.",
    "dataclass_type": lambda ctx: "Give a group of fields (an object) here.",
}


def plain_message(error: ErrorDetails) -> str:
    """One sentence a person can act on for one pydantic error, using its limits (ctx)."""
    kind = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    sentence = _SENTENCES.get(kind)
    if sentence is not None:
        message = sentence(ctx)
    elif kind not in PYDANTIC_TYPES:
        message = str(error["msg"])  # a PydanticCustomError of ours: already plain
    else:
        message = CHECK
    return message[:1].upper() + message[1:]


def messages_by_field(
    errors: Iterable[ErrorDetails], *, skip: tuple[str, ...] = (), default: str = "form"
) -> dict[str, str]:
    """One plain message per field (its first error), every field of the form at once."""
    fields: dict[str, str] = {}
    for error in errors:
        loc = [str(part) for part in error["loc"] if part not in skip and _names_a_field(part)]
        fields.setdefault(".".join(loc) or default, plain_message(error))
    return fields


# The tags pydantic puts in an error's location for the member of a union that failed
# (`email: EmailStr | Literal[""]` fails as `email.function-after[…]` and `email.literal['']`):
# a person, and the form's field names, know only the field.
_UNION_MEMBER_TAGS = frozenset({"str", "int", "float", "bool", "decimal", "date", "datetime"})
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _names_a_field(part: str | int) -> bool:
    if isinstance(part, int):
        return True  # a list item
    return bool(_FIELD_NAME.match(part)) and part not in _UNION_MEMBER_TAGS


def field_errors(exc: ValidationError) -> dict[str, str]:
    """One readable message per field, first error wins."""
    return messages_by_field(exc.errors())


def parse(schema: type[M], data: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    """Validate a form; its text is cleaned first (a multipart form's fields reach no other
    cleaner: see web/limits.py)."""
    try:
        return schema.model_validate(clean_value(data)), {}
    except ValidationError as exc:
        return None, field_errors(exc)


def domain_error_fields(exc: DomainError) -> dict[str, str]:
    return {exc.field or "form": exc.message}
