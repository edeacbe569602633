"""What the documents pages share: kinds by URL, reading the editor's form, labels, people.

The pages call the same services as the JSON API; this module only turns form fields into
the API's shapes and stored rows into words.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from clientcompass.db import UnitOfWork
from clientcompass.documents.money import format_zar
from clientcompass.documents.service import Kind
from clientcompass.documents.status import LABELS
from clientcompass.models import Contact, DocumentEvent

SLUGS = {Kind.QUOTE: "quotes", Kind.INVOICE: "invoices", Kind.CREDIT_NOTE: "credit-notes"}
NOUN = {Kind.QUOTE: "quote", Kind.INVOICE: "invoice", Kind.CREDIT_NOTE: "credit note"}
TITLE = {Kind.QUOTE: "Quote", Kind.INVOICE: "Invoice", Kind.CREDIT_NOTE: "Credit note"}
STATUS_FILTERS = {
    Kind.QUOTE: [
        "draft",
        "finalised",
        "sent",
        "viewed",
        "accepted",
        "declined",
        "expired",
        "invoiced",
    ],
    Kind.INVOICE: [
        "draft",
        "finalised",
        "sent",
        "viewed",
        "partially_paid",
        "paid",
        "overdue",
        "voided",
    ],
    Kind.CREDIT_NOTE: ["issued"],
}
LINE_FIELD = re.compile(r"lines\.(\d{1,3})\.(\w+)")
LINE_KEYS = (
    "description",
    "quantity",
    "unit",
    "unit_price",
    "discount_kind",
    "discount_value",
    "vat",
)
MAX_CONTACTS = 500


def path_of(kind: Kind, document_id: uuid.UUID | str) -> str:
    return f"/{SLUGS[kind]}/{document_id}"


def number_text(value: str) -> str:
    """A quantity or percentage as typed ("2,5"), with a decimal point. Not for money:
    amounts go to the schemas as typed, where `MoneyInput` reads them."""
    cleaned = value.strip().replace("R", "").replace(" ", "").replace("\u00a0", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    return cleaned.replace(",", "")


def blank_line() -> dict[str, str]:
    return {
        "description": "",
        "quantity": "1",
        "unit": "",
        "unit_price": "",
        "discount_kind": "percent",
        "discount_value": "",
        "vat": "standard",
    }


def form_lines(values: dict[str, str]) -> list[dict[str, str]]:
    """The line rows as typed (`lines.3.unit_price` …), in order, without wholly empty rows."""
    rows: dict[int, dict[str, str]] = {}
    for key, value in values.items():
        match = LINE_FIELD.fullmatch(key)
        if match and match.group(2) in LINE_KEYS:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = value
    lines = []
    for index in sorted(rows):
        row = {**blank_line(), **rows[index]}
        if row["description"].strip() or row["unit_price"].strip():
            lines.append(row)
    return lines


def line_data(line: dict[str, str]) -> dict[str, Any]:
    """One typed row as `LineIn` data: blanks take the defaults; amounts stay as typed."""
    kind = line["discount_kind"] or "percent"
    data: dict[str, Any] = {
        "description": line["description"],
        "unit": line["unit"],
        "discount_kind": kind,
        "vat": line["vat"] or "standard",
        "unit_price": line.get("unit_price", "").strip() or None,
    }
    if quantity := number_text(line.get("quantity", "")):
        data["quantity"] = quantity
    discount = line.get("discount_value", "").strip()
    if discount:
        data["discount_value"] = discount if kind == "amount" else number_text(discount)
    return data


def document_data(values: dict[str, str], lines: list[dict[str, str]]) -> dict[str, Any]:
    """The editor's fields as `DocumentIn` data (validated by the API's own schema)."""
    chosen = values.get("contact_id", "").strip()
    data: dict[str, Any] = {
        key: values.get(key, "")
        for key in (
            "recipient_name",
            "recipient_vat_number",
            "billing_address",
            "service_address",
            "job_description",
            "notes",
        )
    }
    if chosen and chosen != "new":
        data["contact_id"] = chosen
    elif values.get("new_contact.name", "").strip() or values.get("new_contact.phone", "").strip():
        data["new_contact"] = {
            "name": values.get("new_contact.name", ""),
            "phone": values.get("new_contact.phone", ""),
            "email": values.get("new_contact.email", ""),
        }
    data["price_mode"] = values.get("price_mode") or "exclusive"
    for key in ("issue_date", "valid_until", "due_date"):
        data[key] = values.get(key) or None
    data["terms"] = values.get("terms", "")
    data["deposit_percent"] = number_text(values.get("deposit_percent", "")) or "0"
    data["lines"] = [line_data(line) for line in lines]
    if values.get("lead_id", "").strip():
        data["lead_id"] = values["lead_id"].strip()
    return data


def line_values(lines: list[Any]) -> list[dict[str, str]]:
    """Stored lines as the editor shows them."""
    return [
        {
            "description": line.description,
            "quantity": f"{line.quantity.normalize():f}",
            "unit": line.unit,
            "unit_price": f"{line.unit_price.normalize():f}",
            "discount_kind": line.discount_kind,
            "discount_value": f"{line.discount_value.normalize():f}" if line.discount_value else "",
            "vat": line.vat,
        }
        for line in lines
    ]


async def contact_choices(uow: UnitOfWork) -> list[tuple[str, str]]:
    """The customers to pick from: (id, "Name · +27…"), by name."""
    assert uow.tenant_id is not None
    rows = await uow.session.execute(
        select(Contact.id, Contact.name, Contact.profile_name, Contact.phone_e164)
        .where(Contact.tenant_id == uow.tenant_id)
        .order_by(Contact.name, Contact.profile_name, Contact.phone_e164)
        .limit(MAX_CONTACTS)
    )
    return [
        (str(row.id), f"{row.name or row.profile_name or 'No name'} · {row.phone_e164}")
        for row in rows
    ]


def when(value: datetime | None, timezone: str) -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(timezone)).strftime("%-d %b %Y %H:%M")


def event_text(event: DocumentEvent) -> str:
    """One history line in words."""
    detail: dict[str, Any] = event.detail or {}
    via = {"whatsapp": "on WhatsApp", "link": "via the link", "team": "recorded by the team"}
    match event.kind:
        case "created":
            return "Created as a draft"
        case "finalised":
            return f"Finalised as {detail.get('number', '')}"
        case "sent":
            return "Sent on WhatsApp"
        case "viewed":
            return "Opened by the customer"
        case "accepted" | "declined":
            return f"{event.kind.title()} {via.get(str(detail.get('via', '')), '')}".strip()
        case "invoiced":
            count = len(detail.get("invoices") or [])
            return "Turned into an invoice" if count == 1 else f"Turned into {count} invoices"
        case "payment":
            method = str(detail.get("method", "")).upper()
            return f"Payment of {format_zar(int(detail.get('amount_cents', 0)))} ({method})"
        case "credited":
            amount = format_zar(int(detail.get("amount_cents", 0)))
            return f"Credit note {detail.get('credit_note', '')} for {amount}"
        case _:
            return event.kind.replace("_", " ").capitalize()


def status_label(status: str) -> str:
    return LABELS.get(status, status.replace("_", " ").capitalize())
