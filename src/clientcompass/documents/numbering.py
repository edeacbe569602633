"""Document numbers: gapless and unique under concurrency, given only at finalisation.

A number is `prefix` + optional year + `separator` + the sequence, zero-padded, e.g.
`INV-2026-0001`. The counter is keyed by everything but the sequence digits (the *scope*), so:
- changing only the padding continues the same sequence (INV-2026-0012 → INV-2026-00013);
- two patterns that print the same scope share one counter (a literal "2026" in the prefix
  and the year option), so a pattern change never produces a number that exists already;
- a new prefix or a new year starts its own sequence at 1.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import text

from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput


class DocumentKind(StrEnum):
    QUOTE = "quote"
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


PREFIX = re.compile(r"^[A-Za-z0-9/_-]{0,12}$")


@dataclass(frozen=True)
class NumberPattern:
    prefix: str
    include_year: bool = True
    separator: str = "-"
    padding: int = 4

    def __post_init__(self) -> None:
        if not PREFIX.match(self.prefix):
            raise InvalidInput(
                "Use up to 12 letters, digits, '-', '_' or '/' for the number prefix.",
                field="prefix",
            )
        if self.separator not in ("", "-", "/", "_"):
            raise InvalidInput("The separator is '-', '/', '_' or nothing.", field="separator")
        if not 1 <= self.padding <= 8:
            raise InvalidInput("Pad numbers to between 1 and 8 digits.", field="padding")

    def scope(self, issued_on: date) -> str:
        """Everything but the sequence digits: the counter's key."""
        year = f"{issued_on.year}{self.separator}" if self.include_year else ""
        return f"{self.prefix}{year}"

    def format(self, issued_on: date, value: int) -> str:
        return f"{self.scope(issued_on)}{value:0{self.padding}d}"


DEFAULT_PATTERNS = {
    DocumentKind.QUOTE: NumberPattern("QUO-"),
    DocumentKind.INVOICE: NumberPattern("INV-"),
    DocumentKind.CREDIT_NOTE: NumberPattern("CN-"),
}

NEXT_VALUE = text(
    """
    INSERT INTO document_counters (tenant_id, kind, scope, last_value)
    VALUES (:tenant_id, :kind, :scope, 1)
    ON CONFLICT (tenant_id, kind, scope)
    DO UPDATE SET last_value = document_counters.last_value + 1
    RETURNING last_value
    """
)


async def assign_number(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    kind: DocumentKind,
    pattern: NumberPattern,
    issued_on: date,
) -> str:
    """The next number in the pattern's scope. Call it in the finalising transaction: the row
    lock queues concurrent finalisations, and a rollback returns the number (no gaps)."""
    value = (
        await uow.session.execute(
            NEXT_VALUE,
            {"tenant_id": tenant_id, "kind": kind.value, "scope": pattern.scope(issued_on)},
        )
    ).scalar_one()
    return pattern.format(issued_on, int(value))
