"""Contacts to and from CSV.

Import is all or nothing: every row is checked before anything is written, and one bad row
means nothing is imported and every bad row is reported by its spreadsheet row number (the
heading row is row 1). The writes then happen in the caller's single transaction. A phone
number that is already a contact updates that contact (cells left empty keep what it has,
tags are added); the same number twice in one file is reported, since we could not know which
row is right. Files are capped (MAX_IMPORT_BYTES, MAX_IMPORT_ROWS); a small file is imported
in the request, a larger one by a job (see imports.py).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from clientcompass import csv_safe
from clientcompass.auth.permissions import Permission
from clientcompass.auth.principal import Principal
from clientcompass.contacts import repository
from clientcompass.contacts.schemas import ContactIn, ImportResult, ImportRowError
from clientcompass.contacts.service import display_name
from clientcompass.db import UnitOfWork
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.models import Contact
from clientcompass.phones import international
from clientcompass.web.forms import clean_text, messages_by_field

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
LOOKUP_BATCH = 1000
EXPORT_HEADER = (
    "name",
    "phone",
    "email",
    "address",
    "tags",
    "notes",
    "whatsapp_name",
    "created_at",
    # The name people know them by (contacts.service.display_name); import ignores it.
    "display_name",
)
# Headings people use in their own spreadsheets, normalised (lowercase, letters and digits).
HEADINGS = {
    "name": ("name", "fullname", "contactname", "customer", "customername", "client"),
    "phone": (
        "phone",
        "phonenumber",
        "mobile",
        "mobilenumber",
        "cell",
        "cellphone",
        "cellnumber",
        "whatsapp",
        "whatsappnumber",
        "number",
        "tel",
        "telephone",
    ),
    "email": ("email", "emailaddress", "mail"),
    "address": ("address", "physicaladdress", "streetaddress"),
    "tags": ("tags", "tag", "labels"),
    "notes": ("notes", "note", "comments", "comment"),
}


class FileTooLarge(DomainError):
    status_code = 413
    code = "too_large"


def too_large() -> FileTooLarge:
    return FileTooLarge(
        f"That file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB. Split it and "
        "import the parts one after another.",
        field="file",
    )


def check_declared_size(content_length: str | None) -> None:
    """Refuse an upload by its declared size, before reading it (a little room for the form)."""
    declared = int(content_length) if content_length and content_length.isdigit() else 0
    if declared > MAX_IMPORT_BYTES + 64 * 1024:
        raise too_large()


@dataclass(frozen=True)
class ParsedRow:
    row: int
    given: frozenset[str]
    contact: ContactIn


def _decode(data: bytes) -> str:
    """UTF-8 (with or without Excel's BOM), else Windows-1252, which Excel uses in South Africa."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                "We could not read that file. Save it as “CSV UTF-8” and try again.", field="file"
            ) from exc


def _columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, heading in enumerate(header):
        key = re.sub(r"[^a-z0-9]", "", heading.lower())
        for field, names in HEADINGS.items():
            if key in names and field not in columns:
                columns[field] = index
    if "phone" not in columns:
        raise InvalidInput(
            "The first row must name the columns, with one called “phone” "
            "(also: name, email, address, tags, notes).",
            field="file",
        )
    return columns


def _phone_cell(value: str) -> str:
    """Spreadsheets drop the + of an international number: 27821234567 means +27 82 123 4567."""
    value = value.strip()
    return f"+{value}" if re.fullmatch(r"27\d{9}", value) else value


def _row_errors(row: int, exc: ValidationError) -> list[ImportRowError]:
    """A row's problems in the same plain words every form uses (web/forms.py)."""
    errors = messages_by_field(exc.errors(), default="row")
    return [ImportRowError(row=row, field=f, message=m) for f, m in errors.items()]


@dataclass(frozen=True)
class Table:
    """The file's rows under its headings: (spreadsheet row number, cells), blank rows dropped."""

    columns: dict[str, int]
    rows: list[tuple[int, list[str]]]


def read_table(data: bytes) -> Table:
    """Decode and split the file; refuses a file too large, empty or without a phone column."""
    if len(data) > MAX_IMPORT_BYTES:
        raise too_large()
    text = _decode(data)
    # Any line ending a spreadsheet writes: \r\n, \n, or a bare \r (old Mac exports). The csv
    # module splits them itself when the text is opened with newline="" (without it, a bare
    # \r was "new-line character seen in unquoted field" and a 500).
    first_line = next(iter(text.splitlines()), "")
    delimiter = max((",", ";", "\t"), key=first_line.count)
    try:
        records = [
            (number, [clean_text(csv_safe.restore(cell)) for cell in record])
            for number, record in enumerate(
                csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), 1
            )
            if any(cell.strip() for cell in record)
        ]
    except csv.Error as exc:  # e.g. a cell over the csv module's 128 KB field limit
        raise InvalidInput(
            f"We could not read that file ({exc}). Save it as “CSV UTF-8” and try again.",
            field="file",
        ) from exc
    if not records:
        raise InvalidInput("That file is empty.", field="file")
    columns = _columns(records[0][1])
    rows = records[1:]
    if not rows:
        raise InvalidInput("That file has headings but no contacts under them.", field="file")
    if len(rows) > MAX_IMPORT_ROWS:
        raise InvalidInput(
            f"That file has {len(rows):,} contacts; import at most {MAX_IMPORT_ROWS:,} at a time.",
            field="file",
        )
    return Table(columns, rows)


class RowChecker:
    """Checks rows a batch at a time (so a job can report progress between batches),
    remembering every phone number seen so a repeat is caught however far apart."""

    def __init__(self, columns: dict[str, int]) -> None:
        self.columns = columns
        self.parsed: list[ParsedRow] = []
        self.errors: list[ImportRowError] = []
        self.first_row_of: dict[str, int] = {}

    def check(self, rows: list[tuple[int, list[str]]]) -> None:
        for number, cells in rows:
            self._check_one(number, cells)

    def _check_one(self, number: int, cells: list[str]) -> None:
        values = {
            field: cells[index].strip() if index < len(cells) else ""
            for field, index in self.columns.items()
        }
        values["phone"] = _phone_cell(values["phone"])
        try:
            contact = ContactIn.model_validate(values)
        except ValidationError as exc:
            self.errors.extend(_row_errors(number, exc))
            return
        first = self.first_row_of.setdefault(contact.phone, number)
        if first != number:
            message = f"Same phone number as row {first}."
            self.errors.append(ImportRowError(row=number, field="phone", message=message))
            return
        given = frozenset(field for field, value in values.items() if value)
        self.parsed.append(ParsedRow(number, given, contact))


def parse_csv(data: bytes) -> tuple[list[ParsedRow], list[ImportRowError]]:
    """Check every row without touching the database: the good rows, and every problem."""
    table = read_table(data)
    checker = RowChecker(table.columns)
    checker.check(table.rows)
    return checker.parsed, checker.errors


def _updated_values(contact: Contact, row: ParsedRow) -> dict[str, object]:
    """An existing contact's new values: filled-in cells replace, tags are added."""
    values: dict[str, object] = {
        field: getattr(row.contact, field) if field in row.given else getattr(contact, field)
        for field in ("name", "email", "address", "notes")
    }
    values["tags"] = list(dict.fromkeys([*contact.tags, *row.contact.tags]))
    return values


async def import_table(uow: UnitOfWork, table: Table) -> ImportResult:
    """Check every row, then create or update them all; with any bad row, write nothing."""
    checker = RowChecker(table.columns)
    checker.check(table.rows)
    if checker.errors:
        return ImportResult(created=0, updated=0, errors=checker.errors)
    return await save_rows(uow, checker.parsed)


async def save_rows(uow: UnitOfWork, rows: list[ParsedRow]) -> ImportResult:
    """Write checked rows in the caller's transaction: new numbers created, known ones updated."""
    tenant_id = repository.tenant_id_of(uow)
    phones = [row.contact.phone for row in rows]
    existing: dict[str, Contact] = {}
    for start in range(0, len(phones), LOOKUP_BATCH):
        existing.update(await repository.by_phones(uow, phones[start : start + LOOKUP_BATCH]))
    new: list[dict[str, object]] = []
    changed: list[dict[str, object]] = []
    for row in rows:
        contact = existing.get(row.contact.phone)
        if contact is None:
            new.append(
                {
                    "tenant_id": tenant_id,
                    "id": uuid.uuid4(),
                    "phone_e164": row.contact.phone,
                    **row.contact.model_dump(include={"name", "email", "address", "tags", "notes"}),
                    "updated_at": uow.now,
                }
            )
        else:
            changed.append(
                {
                    "tenant_id": contact.tenant_id,
                    "id": contact.id,
                    **_updated_values(contact, row),
                    "updated_at": uow.now,
                }
            )
    # ORM bulk statements: one multi-row INSERT and one batched UPDATE by primary key.
    try:
        if new:
            await uow.session.execute(insert(Contact), new)
        if changed:
            await uow.session.execute(update(Contact), changed)
    except IntegrityError as exc:  # a number added by someone else since we looked
        raise InvalidInput(
            "One of these numbers was added to your contacts while importing, so nothing was "
            "imported. Upload the file again.",
            field="file",
        ) from exc
    return ImportResult(created=len(new), updated=len(changed))


async def export_csv(uow: UnitOfWork, actor: Principal) -> str:
    """Every contact as CSV, each cell neutralised against formula injection."""
    actor.require(Permission.EXPORT)
    contacts = await repository.all_in_order(uow)
    return csv_safe.write_csv(
        EXPORT_HEADER,
        (
            (
                c.name,
                international(c.phone_e164),
                c.email,
                c.address,
                ", ".join(c.tags),
                c.notes,
                c.profile_name,
                c.created_at.isoformat(timespec="seconds"),
                display_name(c),
            )
            for c in contacts
        ),
    )
