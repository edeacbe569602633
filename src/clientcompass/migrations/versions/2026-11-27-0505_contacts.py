"""contacts: address, tags and notes; search

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 05:00:00

The list's order (`sort_name`) and the search document (`search`) are generated columns, so
every writer (the inbound webhook's raw SQL included) keeps them right without knowing they
exist. The GIN index carries the tenant as a lexeme inside the document: see
`CONTACT_SEARCH_EXPRESSION` in models/whatsapp.py for why.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the model's expressions as they were when this revision landed.
SORT_EXPRESSION = "lower(COALESCE(NULLIF(name, ''), NULLIF(profile_name, ''), phone_e164))"
SEARCH_EXPRESSION = (
    "setweight(to_tsvector('simple'::regconfig, 't' || replace(tenant_id::text, '-', '')), 'D')"
    " || setweight(to_tsvector('simple'::regconfig, name || ' ' || profile_name || ' ' || email"
    " || ' ' || translate(email, '@.', '  ') || ' ' || ltrim(phone_e164, '+')"
    " || CASE WHEN phone_e164 LIKE '+27%' THEN ' 0' || substr(phone_e164, 4) ELSE '' END), 'A')"
    " || setweight(array_to_tsvector(tags), 'A')"
)


def upgrade() -> None:
    op.add_column("contacts", sa.Column("address", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "contacts",
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
    )
    op.add_column("contacts", sa.Column("notes", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "contacts",
        sa.Column("sort_name", sa.Text(), sa.Computed(SORT_EXPRESSION, persisted=True)),
    )
    op.add_column(
        "contacts",
        sa.Column("search", postgresql.TSVECTOR(), sa.Computed(SEARCH_EXPRESSION, persisted=True)),
    )
    op.create_index(
        "ix_contacts_tenant_id_sort_name_id", "contacts", ["tenant_id", "sort_name", "id"]
    )
    op.create_index("ix_contacts_search", "contacts", ["search"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_contacts_search", table_name="contacts", postgresql_using="gin")
    op.drop_index("ix_contacts_tenant_id_sort_name_id", table_name="contacts")
    op.drop_column("contacts", "search")
    op.drop_column("contacts", "sort_name")
    op.drop_column("contacts", "notes")
    op.drop_column("contacts", "tags")
    op.drop_column("contacts", "address")
