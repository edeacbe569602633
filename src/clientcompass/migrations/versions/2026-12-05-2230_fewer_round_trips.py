"""fewer round trips per customer's message: a push job's two calls, and a flow's first look

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05 22:30:00

Every customer's message runs these (bench/notify):

- A push job read its devices in a unit of work of its own (BEGIN with the tenant, the
  SELECT, COMMIT), then wrote "last notified" in another. Each is now one autocommit call,
  as `cc_record_inbound` is for the webhook (notifications/push.py):
  - `cc_push_targets(tenant, ids)`: the devices among `ids` that still exist, with their
    endpoint, sealed keys and when they were last notified;
  - `cc_push_delivered(tenant, ids, at)`: "last notified" for the devices a push reached.
  Both set the tenant themselves for their one statement and filter on it.
- `cc_flow_state(tenant, conversation)`: the flow handler's first look at a message, in the
  handler's own transaction (flows/runtime.py). It takes the conversation's flow lock, then,
  with a snapshot taken after the lock (a statement of its own, as PL/pgSQL gives), says
  whether a run is live there, which trials are armed and whether any flow could start. Four
  round trips were one each; a business without flows now needs nothing more.

All three run as the caller (the app role), so the wall (forced RLS) holds inside them as
anywhere else.
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


# Keep the lock's key in step with flows/runtime.py (LOCK_CONVERSATION).
FLOW_STATE = """
CREATE FUNCTION cc_flow_state(p_tenant_id uuid, p_conversation_id uuid)
RETURNS TABLE (live_run boolean, trials jsonb, startable boolean)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtextextended('flow:' || p_tenant_id::text || ':' || p_conversation_id::text, 0));
    RETURN QUERY SELECT
        EXISTS (
            SELECT 1 FROM flow_runs r
            WHERE r.tenant_id = p_tenant_id AND r.conversation_id = p_conversation_id
              AND r.status IN ('running', 'paused')),
        (SELECT s.value FROM tenant_settings s
         WHERE s.tenant_id = p_tenant_id AND s.key = 'flows.trials'),
        EXISTS (
            SELECT 1 FROM flow_versions v
            JOIN flows f ON f.tenant_id = v.tenant_id AND f.id = v.flow_id
                        AND f.live_version = v.number
            WHERE v.tenant_id = p_tenant_id AND v.trigger_kind <> 'manual');
END
$$
"""


def upgrade() -> None:
    op.execute(PUSH_TARGETS)
    op.execute(PUSH_DELIVERED)
    op.execute(FLOW_STATE)


def downgrade() -> None:
    op.execute("DROP FUNCTION cc_flow_state(uuid, uuid)")
    op.execute("DROP FUNCTION cc_push_delivered(uuid, uuid[], timestamptz)")
    op.execute("DROP FUNCTION cc_push_targets(uuid, uuid[])")
