"""push in one statement: a push job's devices read, and marked notified, each in one call

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 22:30:00

A push job read its devices in a unit of work of its own (BEGIN with the tenant, the SELECT,
COMMIT), then wrote "last notified" in another. Each is now one autocommit call, as
`cc_record_inbound` is for the webhook (notifications/push.py, bench/notify):

- `cc_push_targets(tenant, ids)`: the devices among `ids` that still exist, with their
  endpoint, sealed keys and when they were last notified.
- `cc_push_delivered(tenant, ids, at)`: "last notified" for the devices a push reached.

Both run as the caller (the app role), set the tenant themselves for their one statement and
filter on it, so the wall (forced RLS) holds inside them as anywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUSH_TARGETS = """
CREATE FUNCTION cc_push_targets(p_tenant_id uuid, p_ids uuid[])
RETURNS TABLE (id uuid, endpoint text, keys_encrypted text, last_used_at timestamptz)
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public AS $$
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant_id::text, true);
    RETURN QUERY
    SELECT s.id, s.endpoint::text, s.keys_encrypted, s.last_used_at
    FROM push_subscriptions s
    WHERE s.tenant_id = p_tenant_id AND s.id = ANY(p_ids);
END
$$
"""

PUSH_DELIVERED = """
CREATE FUNCTION cc_push_delivered(p_tenant_id uuid, p_ids uuid[], p_at timestamptz)
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public AS $$
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant_id::text, true);
    UPDATE push_subscriptions s SET last_used_at = p_at
    WHERE s.tenant_id = p_tenant_id AND s.id = ANY(p_ids);
END
$$
"""


def upgrade() -> None:
    op.execute(PUSH_TARGETS)
    op.execute(PUSH_DELIVERED)


def downgrade() -> None:
    op.execute("DROP FUNCTION cc_push_delivered(uuid, uuid[], timestamptz)")
    op.execute("DROP FUNCTION cc_push_targets(uuid, uuid[])")
