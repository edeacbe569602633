"""The legal hold's end: a retention rule that anonymises an erased customer's tax documents
once 5 years from issue have passed.

A customer's erasure (lifecycle/erasure.py) leaves their issued tax invoices and credit notes
with what SARS requires, and sets `documents.legal_hold_until` to 5 years from issue. When
that date has come, this rule anonymises the row like a quote at erasure (recipient name,
addresses, VAT number, description, notes), clears the hold and stamps `anonymised_at`; the
amounts and numbers stay, so the books still add up. The document's stored PDF is deleted
too, but only once the database's own guard (`cc_files_hold`, migration 0015) agrees its
`keep_until` has passed by the database's clock: a clock moved forward in a test, or a
server clock that runs ahead, can never delete a held PDF early.

Nothing is deleted from `documents` or its lines: the rule updates in place. Businesses with
due rows come from `cc_legal_hold_due()` (migration 0027), counts only; each business's rows
are changed in its own unit of work as the app role, behind the tenant wall, in batches.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text

from clientcompass.lifecycle.erasure import ERASED_NAME
from clientcompass.work import UnitsOfWork

BATCH = 1000
MAX_BATCHES = 1000

ANONYMISE = text(
    "UPDATE documents SET recipient_name = :erased, recipient_vat_number = '', "
    "billing_address = '', service_address = '', job_description = '', notes = '', "
    "reason = '', legal_hold_until = NULL, anonymised_at = :now, updated_at = :now "
    "WHERE tenant_id = :tenant AND id IN (SELECT id FROM documents WHERE tenant_id = :tenant "
    "AND legal_hold_until IS NOT NULL AND legal_hold_until <= :on "
    "ORDER BY legal_hold_until LIMIT :batch FOR UPDATE SKIP LOCKED) RETURNING id"
)
# The PDFs of anonymised documents whose files' hold has ended by the database's own date.
DELETE_PDFS = text(
    "DELETE FROM files WHERE tenant_id = :tenant AND id IN (SELECT f.id FROM files f "
    "JOIN documents d ON d.tenant_id = f.tenant_id AND d.id = f.document_id "
    "WHERE f.tenant_id = :tenant AND d.anonymised_at IS NOT NULL "
    "AND f.keep_until <= current_date LIMIT :batch)"
)


async def due_by_tenant(units: UnitsOfWork, before: datetime) -> list[tuple[uuid.UUID, int]]:
    async with units(None) as uow:
        rows = await uow.session.execute(
            text("SELECT tenant_id, due FROM cc_legal_hold_due(:on)"), {"on": before.date()}
        )
        return [(tenant_id, int(due)) for tenant_id, due in rows]


async def count(units: UnitsOfWork, before: datetime) -> int:
    """Documents whose legal hold has ended by `before` (the rule keeps 0 days past it)."""
    return sum(due for _, due in await due_by_tenant(units, before))


async def anonymise(units: UnitsOfWork, before: datetime, batch: int) -> int:
    """Anonymise every document whose hold ended by `before`; how many were."""
    done = 0
    for tenant_id, _ in await due_by_tenant(units, before):
        done += await _anonymise_for(units, tenant_id, before, batch)
    return done


async def _anonymise_for(
    units: UnitsOfWork, tenant_id: uuid.UUID, before: datetime, batch: int
) -> int:
    done = 0
    for _ in range(MAX_BATCHES):
        async with units(tenant_id) as uow:
            rows = await uow.session.execute(
                ANONYMISE,
                {
                    "tenant": tenant_id,
                    "on": before.date(),
                    "erased": ERASED_NAME,
                    "now": uow.now,
                    "batch": batch,
                },
            )
            changed = len(rows.all())
            await uow.session.execute(DELETE_PDFS, {"tenant": tenant_id, "batch": batch})
        done += changed
        if changed < batch:
            break
    return done
