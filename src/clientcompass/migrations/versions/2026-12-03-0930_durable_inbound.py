"""durable inbound: the follow-up job is written with the message; status changes in one place

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:30:00

Before, the webhook stored a message (one autocommitted statement) and only then deferred its
follow-up jobs (media download, a quote answer). A process that died in between left a stored
message whose work never happened, and Twilio's retry was deduplicated away. Now:

- `cc_record_inbound` writes one `conversations.inbound_recorded` job in the same statement
  (procrastinate's queue is a table in this database), so the message and its follow-up exist
  together or not at all.
- `messages.handled_at` is set by that job in the transaction that does the follow-up work, so
  a job that runs twice (a worker killed after committing, before marking the job done) does
  the work once; `cc_inbound_unhandled` lets a sweeper find any message whose job went missing.
- `cc_set_conversation_status` is the one place a conversation's status changes and its
  history line is written, for a teammate, the snooze alarm and the customer's reopening
  message alike, so every path writes the same event shape.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_RECORD_INBOUND_ARGS = (
    "uuid, uuid, uuid, uuid, uuid, text, text, text, text, text, jsonb, jsonb, jsonb, text, "
    "timestamptz"
)

SET_STATUS = """
CREATE FUNCTION cc_set_conversation_status(
    p_tenant_id uuid,
    p_conversation_id uuid,
    p_status conversation_status,
    p_until timestamptz,
    p_author_id uuid,
    p_by text,
    p_reason text,
    p_now timestamptz
) RETURNS text
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public AS $$
-- Returns the status it was before, or NULL when nothing changed.
DECLARE
    v_was conversation_status;
    v_until timestamptz;
BEGIN
    SELECT c.status, c.snoozed_until INTO v_was, v_until FROM conversations c
    WHERE c.tenant_id = p_tenant_id AND c.id = p_conversation_id FOR UPDATE;
    IF NOT FOUND OR (v_was = p_status AND v_until IS NOT DISTINCT FROM p_until) THEN
        RETURN NULL;
    END IF;
    UPDATE conversations c SET status = p_status, snoozed_until = p_until
    WHERE c.tenant_id = p_tenant_id AND c.id = p_conversation_id;
    INSERT INTO conversation_events (tenant_id, id, conversation_id, kind, body, author_id,
                                     data, created_at)
    VALUES (
        p_tenant_id, gen_random_uuid(), p_conversation_id,
        CASE WHEN p_status = 'open' AND v_was IN ('resolved', 'snoozed') THEN 'reopened'
             ELSE 'status' END,
        '', p_author_id,
        jsonb_build_object('status', p_status::text, 'until', p_until, 'by', p_by,
                           'reason', p_reason, 'was', v_was::text),
        p_now
    );
    RETURN v_was::text;
END
$$
"""

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
) RETURNS TABLE (message_id uuid, conversation_id uuid, contact_id uuid, media_ids uuid[],
                 reopened_from text)
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
    v_reopened text;
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
        unread_count = c.unread_count + 1
    WHERE c.tenant_id = p_tenant_id AND c.id = v_conversation;

    IF v_status IN ('resolved', 'snoozed') THEN  -- the customer wrote again: open it
        v_reopened := cc_set_conversation_status(p_tenant_id, v_conversation, 'open', NULL,
                                                 NULL, '', 'message', p_now);
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

    -- The follow-up work, queued in this same transaction: conversations/inbound.py.
    INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args)
    VALUES ('inbound', 'conversations.inbound_recorded', 0, NULL, NULL,
            jsonb_build_object('tenant_id', p_tenant_id::text, 'message_id', v_message::text));

    RETURN QUERY SELECT v_message, v_conversation, v_contact, v_media, v_reopened;
END
$$
"""

UNHANDLED = """
CREATE FUNCTION cc_inbound_unhandled(p_before timestamptz, p_limit int)
RETURNS TABLE (tenant_id uuid, message_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT m.tenant_id, m.id FROM messages m
    WHERE m.direction = 'inbound' AND m.handled_at IS NULL AND m.created_at < p_before
    ORDER BY m.created_at
    LIMIT p_limit
$$
"""


def upgrade() -> None:
    op.add_column("messages", sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
    # Everything stored before this revision had its follow-up deferred the old way.
    op.execute("UPDATE messages SET handled_at = created_at WHERE direction = 'inbound'")
    op.create_index(
        "ix_messages_tenant_id_unhandled",
        "messages",
        ["tenant_id", "created_at"],
        postgresql_where=sa.text("direction = 'inbound' AND handled_at IS NULL"),
    )
    op.execute(SET_STATUS)
    op.execute(f"DROP FUNCTION cc_record_inbound({OLD_RECORD_INBOUND_ARGS})")
    op.execute(RECORD_INBOUND)
    # The sweeper crosses tenants through this function only (the owner reads messages
    # through the owner_outbox_sweep policy of revision 0002); ids only.
    op.execute(UNHANDLED)
    op.execute("REVOKE ALL ON FUNCTION cc_inbound_unhandled(timestamptz, int) FROM PUBLIC")


def _previous_record_inbound() -> str:
    """Revision 0010's function, as that revision wrote it (revisions are never edited)."""
    path = Path(__file__).with_name("2026-11-27-0510_record_inbound_function.py")
    spec = importlib.util.spec_from_file_location("revision_0010", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.RECORD_INBOUND)


def downgrade() -> None:
    op.execute("DROP FUNCTION cc_inbound_unhandled(timestamptz, int)")
    op.execute(f"DROP FUNCTION cc_record_inbound({OLD_RECORD_INBOUND_ARGS})")
    op.execute(_previous_record_inbound())
    op.execute(
        "DROP FUNCTION cc_set_conversation_status(uuid, uuid, conversation_status, timestamptz, "
        "uuid, text, text, timestamptz)"
    )
    op.drop_index("ix_messages_tenant_id_unhandled", table_name="messages")
    op.drop_column("messages", "handled_at")
