"""record inbound in one round trip: cc_record_inbound() as the caller (RLS in force)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 05:10:00

The inbound webhook is the hottest path in the product. Measured with bench/webhook_ingest,
most of its CPU went on waiting for five round trips (BEGIN, set the tenant, upsert the
contact and conversation, insert the message, COMMIT). This function does the same writes
in one statement, and writes the contact and conversation only when they are new or
changed. It is SECURITY INVOKER, so it runs as the app's role and row-level
security applies to every write, exactly as before; it sets the tenant transaction-locally
first, so the statement's own transaction is scoped to that tenant and nothing leaks.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_INBOUND = """
CREATE FUNCTION cc_record_inbound(
    p_tenant_id uuid,
    p_channel_id uuid,
    p_contact_id uuid,
    p_conversation_id uuid,
    p_message_id uuid,
    p_phone text,
    p_wa_id text,
    p_profile_name text,
    p_sid text,
    p_body text,
    p_media jsonb,
    p_details jsonb,
    p_status_times jsonb,
    p_preview text,
    p_now timestamptz
) RETURNS TABLE (message_id uuid, conversation_id uuid, contact_id uuid, media_ids uuid[])
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public AS $$
#variable_conflict use_column
DECLARE
    v_conversation uuid;
    v_status conversation_status;
    v_contact uuid;
    v_profile_name text;
    v_wa_id text;
    v_message uuid;
    v_media uuid[] := '{}';
    v_item record;
    v_media_id uuid;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant_id::text, true);

    -- Read first and write only what changed: most messages come from a known customer in
    -- an existing conversation, and a no-op upsert would still write a new row version
    -- (and re-index the contact's search document) for every message.
    SELECT c.id, c.profile_name, c.wa_id INTO v_contact, v_profile_name, v_wa_id
    FROM contacts c WHERE c.tenant_id = p_tenant_id AND c.phone_e164 = p_phone;
    IF NOT FOUND THEN
        INSERT INTO contacts AS c (tenant_id, id, phone_e164, wa_id, profile_name, name, email,
                                   created_at, updated_at)
        VALUES (p_tenant_id, p_contact_id, p_phone, p_wa_id, p_profile_name, '', '', p_now, p_now)
        ON CONFLICT (tenant_id, phone_e164) DO NOTHING
        RETURNING c.id INTO v_contact;
        IF v_contact IS NULL THEN  -- another delivery created it a moment ago
            SELECT c.id INTO v_contact FROM contacts c
            WHERE c.tenant_id = p_tenant_id AND c.phone_e164 = p_phone;
        END IF;
    ELSIF (p_profile_name <> '' AND p_profile_name IS DISTINCT FROM v_profile_name)
       OR (p_wa_id <> '' AND p_wa_id IS DISTINCT FROM v_wa_id) THEN
        UPDATE contacts c SET
            profile_name = COALESCE(NULLIF(p_profile_name, ''), c.profile_name),
            wa_id = COALESCE(NULLIF(p_wa_id, ''), c.wa_id)
        WHERE c.tenant_id = p_tenant_id AND c.id = v_contact;
    END IF;

    SELECT v.id, v.status INTO v_conversation, v_status FROM conversations v
    WHERE v.tenant_id = p_tenant_id AND v.channel_id = p_channel_id AND v.contact_id = v_contact;
    IF NOT FOUND THEN
        INSERT INTO conversations AS v (tenant_id, id, channel_id, contact_id, status,
                                        last_message_preview, unread_count, created_at)
        VALUES (p_tenant_id, p_conversation_id, p_channel_id, v_contact, 'open', '', 0, p_now)
        ON CONFLICT (tenant_id, channel_id, contact_id) DO NOTHING
        RETURNING v.id INTO v_conversation;
        IF v_conversation IS NULL THEN
            SELECT v.id INTO v_conversation FROM conversations v
            WHERE v.tenant_id = p_tenant_id AND v.channel_id = p_channel_id
              AND v.contact_id = v_contact;
        END IF;
    END IF;

    INSERT INTO messages AS m (
        tenant_id, id, conversation_id, channel_id, direction, provider_sid, body, media,
        content_sid, content_variables, details, status, status_times, error_message,
        send_attempts, created_at
    ) VALUES (
        p_tenant_id, p_message_id, v_conversation, p_channel_id, 'inbound', p_sid, p_body,
        p_media, '', '{}'::jsonb, p_details, 'received', p_status_times, '', 0, p_now
    )
    ON CONFLICT (tenant_id, provider_sid) WHERE provider_sid IS NOT NULL DO NOTHING
    RETURNING m.id INTO v_message;

    IF v_message IS NULL THEN
        RETURN;  -- this MessageSid is stored already: nothing moves
    END IF;

    UPDATE conversations c SET
        last_inbound_at = GREATEST(c.last_inbound_at, p_now),
        last_message_at = GREATEST(c.last_message_at, p_now),
        last_message_preview = p_preview,
        unread_count = c.unread_count + 1,
        status = CASE WHEN c.status IN ('resolved', 'snoozed') THEN 'open'::conversation_status
                      ELSE c.status END,
        snoozed_until = CASE WHEN c.status IN ('resolved', 'snoozed') THEN NULL
                             ELSE c.snoozed_until END
    WHERE c.tenant_id = p_tenant_id AND c.id = v_conversation;

    IF v_status IN ('resolved', 'snoozed') THEN  -- the thread shows why it is open again
        INSERT INTO conversation_events (tenant_id, id, conversation_id, kind, body, author_id,
                                         data, created_at)
        VALUES (p_tenant_id, gen_random_uuid(), v_conversation, 'reopened', '', NULL,
                jsonb_build_object('reason', 'message', 'was', v_status::text), p_now);
    END IF;

    FOR v_item IN
        SELECT value, ordinality - 1 AS position FROM jsonb_array_elements(p_media) WITH ORDINALITY
    LOOP
        v_media_id := gen_random_uuid();
        INSERT INTO message_media (tenant_id, id, message_id, position, content_type, filename,
                                   source_url, storage_key, state, error, created_at)
        VALUES (p_tenant_id, v_media_id, v_message, v_item.position,
                v_item.value->>'content_type', '', v_item.value->>'url', '', 'pending', '', p_now);
        v_media := v_media || v_media_id;
    END LOOP;

    RETURN QUERY SELECT v_message, v_conversation, v_contact, v_media;
END
$$
"""


def upgrade() -> None:
    op.execute(RECORD_INBOUND)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION cc_record_inbound(uuid, uuid, uuid, uuid, uuid, text, text, text, text, "
        "text, jsonb, jsonb, jsonb, text, timestamptz)"
    )
