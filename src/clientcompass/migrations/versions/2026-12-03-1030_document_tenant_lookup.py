"""short public document links: find a document's tenant from its id alone

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:30:00

A quote's public link now carries a short signed token naming only the document (its id is
random and global), so `/d/{token}` fits in a WhatsApp message. The page must still read
everything under the document's tenant, and before a tenant is set no row is visible, so
`cc_document_tenant()` (SECURITY DEFINER, like `cc_login_lookup`) answers that one question:
the tenant id of a document id, nothing else. The app calls it only after the token's
signature and expiry have been checked.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT_TENANT = """
CREATE FUNCTION cc_document_tenant(p_document_id uuid)
RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT d.tenant_id FROM documents d WHERE d.id = p_document_id
$$
"""


def upgrade() -> None:
    # FORCE RLS binds the owner too: this policy lets the function (run as the owner) read
    # the documents' ids and tenants; the app role is not given it.
    op.execute(
        "CREATE POLICY owner_document_tenant ON documents FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute(DOCUMENT_TENANT)
    op.execute("REVOKE ALL ON FUNCTION cc_document_tenant(uuid) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cc_document_tenant(uuid)")
    op.execute("DROP POLICY IF EXISTS owner_document_tenant ON documents")
