"""customer erasure and legal hold

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 17:30:00

- `documents.legal_hold_until`: set by a customer's erasure (lifecycle/erasure.py) on each
  issued tax invoice and credit note of that customer, to 5 years from its issue date. The
  row keeps what SARS requires (recipient name, address, VAT number, amounts) until then;
  everything else about the customer is gone. `documents.anonymised_at` records when the
  legal-hold rule (lifecycle/legal_hold.py) anonymised the row after its hold ended, or when
  erasure anonymised a quote or a draft at once.
- `cc_legal_hold_due(on)`: the retention job finds which businesses have documents whose
  hold ended by `on` only through this one function, the pattern of `cc_retention_due()`
  (migration 0024): it runs as the owner, reads (never writes) and returns each business's
  id with a count, no row content. It also counts an anonymised document whose PDF's own
  `keep_until` has passed by the database's date but is still stored (its hold ended by a
  clock that ran ahead), so the PDF is deleted on a later run. Each business's rows are
  then changed in its own unit of work as the app role, behind the tenant wall. The owner's
  read-only policies below let the function see every business's documents and files (the
  tables force RLS on the owner too).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGAL_HOLD_DUE = """
CREATE FUNCTION cc_legal_hold_due(p_on date)
RETURNS TABLE (tenant_id uuid, due bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT d.tenant_id, count(*) FROM documents d
    WHERE (d.legal_hold_until IS NOT NULL AND d.legal_hold_until <= p_on)
       OR (d.anonymised_at IS NOT NULL AND EXISTS (
            SELECT 1 FROM files f WHERE f.tenant_id = d.tenant_id AND f.document_id = d.id
            AND f.keep_until <= current_date))
    GROUP BY d.tenant_id
$$
"""

SCANNED = ("documents", "files")


def upgrade() -> None:
    op.add_column("documents", sa.Column("legal_hold_until", sa.Date(), nullable=True))
    op.add_column(
        "documents", sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_documents_tenant_id_legal_hold_until",
        "documents",
        ["tenant_id", "legal_hold_until"],
        unique=False,
        postgresql_where=sa.text("legal_hold_until IS NOT NULL"),
    )
    for table in SCANNED:
        op.execute(
            f"CREATE POLICY owner_legal_hold_scan ON {table} FOR SELECT TO CURRENT_USER "
            "USING (true)"
        )
    op.execute(LEGAL_HOLD_DUE)
    op.execute("REVOKE ALL ON FUNCTION cc_legal_hold_due(date) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cc_legal_hold_due(date)")
    for table in SCANNED:
        op.execute(f"DROP POLICY IF EXISTS owner_legal_hold_scan ON {table}")
    op.drop_index("ix_documents_tenant_id_legal_hold_until", table_name="documents")
    op.drop_column("documents", "anonymised_at")
    op.drop_column("documents", "legal_hold_until")
