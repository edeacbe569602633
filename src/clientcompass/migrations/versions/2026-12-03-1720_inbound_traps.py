"""inbound traps: ad referrals only when an ad sent them, list-picker item ids

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 17:20:00

The webhook builds a message's `details` in Python (whatsapp/inbound.py) and
`cc_record_inbound` stores them as given, so the fix itself is there and the function is
unchanged (its signature, one statement and speed stay as revision 0012 made them). This
revision mends what was stored before it:

- Twilio sends `ReferralNumMedia=0` on every WhatsApp message, and every message was stored
  with a `referral` block because of it, so every lead would have looked ad-attributed. A
  block without Meta's click id or the ad's source id or URL is dropped.
- A list-picker reply kept its chosen item id only in the raw `twilio` parameters; it is
  copied to `list`, as new messages store it.

Messages are tenant-walled with forced RLS, so each tenant's rows are updated with that
tenant set, as the app would.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with whatsapp/inbound.py (AD_MARKERS); keys are stored without "Referral".
NOT_FROM_AD = """
    m.details ? 'referral'
    AND COALESCE(btrim(m.details->'referral'->>'CtwaClid'), '') = ''
    AND COALESCE(btrim(m.details->'referral'->>'SourceId'), '') = ''
    AND COALESCE(btrim(m.details->'referral'->>'SourceUrl'), '') = ''
"""
LIST_NOT_COPIED = "COALESCE(m.details->'twilio'->>'ListId', '') <> '' AND NOT m.details ? 'list'"

UPGRADE = f"""
DO $$
DECLARE
    v_tenant uuid;
BEGIN
    FOR v_tenant IN
        SELECT DISTINCT m.tenant_id FROM messages m
        WHERE m.direction = 'inbound' AND (({NOT_FROM_AD}) OR ({LIST_NOT_COPIED}))
    LOOP
        PERFORM set_config('app.tenant_id', v_tenant::text, true);
        UPDATE messages m SET details = m.details - 'referral'
        WHERE m.tenant_id = v_tenant AND m.direction = 'inbound' AND {NOT_FROM_AD};
        UPDATE messages m SET details = m.details || jsonb_build_object(
            'list', jsonb_build_object(
                'id', m.details->'twilio'->>'ListId',
                'title', COALESCE(m.details->'twilio'->>'ListTitle', '')))
        WHERE m.tenant_id = v_tenant AND m.direction = 'inbound' AND {LIST_NOT_COPIED};
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END
$$
"""

# The previous rule, for the way back: every non-empty Referral* parameter, prefix dropped.
OLD_REFERRAL = """
    (SELECT jsonb_object_agg(substr(p.key, 9), p.value)
     FROM jsonb_each_text(m.details->'twilio') AS p
     WHERE p.key LIKE 'Referral%' AND p.value <> '')
"""
HAD_OLD_REFERRAL = f"""
    jsonb_typeof(m.details->'twilio') = 'object' AND NOT m.details ? 'referral'
    AND {OLD_REFERRAL} IS NOT NULL
"""

DOWNGRADE = f"""
DO $$
DECLARE
    v_tenant uuid;
BEGIN
    FOR v_tenant IN
        SELECT DISTINCT m.tenant_id FROM messages m
        WHERE m.direction = 'inbound' AND (m.details ? 'list' OR ({HAD_OLD_REFERRAL}))
    LOOP
        PERFORM set_config('app.tenant_id', v_tenant::text, true);
        UPDATE messages m SET details = m.details - 'list'
        WHERE m.tenant_id = v_tenant AND m.direction = 'inbound' AND m.details ? 'list';
        UPDATE messages m SET details = m.details || jsonb_build_object('referral', {OLD_REFERRAL})
        WHERE m.tenant_id = v_tenant AND m.direction = 'inbound' AND {HAD_OLD_REFERRAL};
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END
$$
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
