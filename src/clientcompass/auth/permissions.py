"""Who may do what beyond their role's everyday work: one table, enforced by the services
and shown on the team page, so what the page says is what the server does."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from clientcompass.models.user import Role


class Permission(StrEnum):
    EXPORT = "export"
    CORRECT_INVOICES = "correct_invoices"
    RECORD_PAYMENTS = "record_payments"
    DELETE_SHARED_CANNED = "delete_shared_canned"


@dataclass(frozen=True)
class Grant:
    label: str
    roles: frozenset[Role]
    refused: str  # what someone without it is told


MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
EVERYONE = frozenset(Role)

GRANTS: dict[Permission, Grant] = {
    Permission.EXPORT: Grant(
        "Download CSV exports of contacts, quotes and invoices",
        MANAGERS,
        "Only an owner or admin can download exports. Ask one of them for the file.",
    ),
    Permission.CORRECT_INVOICES: Grant(
        "Void an invoice or issue a credit note",
        MANAGERS,
        "Only an owner or admin can correct an issued invoice. Ask one of them to do it.",
    ),
    Permission.RECORD_PAYMENTS: Grant(
        "Record payments against invoices",
        EVERYONE,
        "You can't record payments. Ask an owner or admin.",
    ),
    Permission.DELETE_SHARED_CANNED: Grant(
        "Delete canned responses a teammate made (everyone may delete their own)",
        MANAGERS,
        "Only an owner or admin can delete a canned response a teammate made.",
    ),
}


def allowed(role: Role, permission: Permission) -> bool:
    return role in GRANTS[permission].roles
