-- The voice agent on Vapi (SPEC §3; seed 001 "Critical architecture rule", §4 "Vapi Tool
-- Registration Automation", §§11-12, §16 Phases 1-2, §18; contracts/vapi.md). Tenant tables are
-- under forced RLS; the cross-tenant routing lookups Vapi's webhook needs (assistant → org,
-- phone number → org) are SECURITY DEFINER functions returning only an organization id.

-- An organization's agents: one inbound, one outbound. `vapi_assistant_id` is set once the
-- assistant exists on Vapi.
CREATE TABLE voice_agents (
    org_id            uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    direction         text        NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    name              text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 40),
    system_prompt     text        NOT NULL DEFAULT '' CHECK (length(system_prompt) <= 20000),
    first_message     text        NOT NULL DEFAULT '' CHECK (length(first_message) <= 1000),
    voice_provider    text        NOT NULL,
    voice_id          text        NOT NULL,
    model_provider    text        NOT NULL,
    model             text        NOT NULL,
    vapi_assistant_id text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, direction),
    CONSTRAINT voice_agents_assistant_key UNIQUE (vapi_assistant_id)
);
ALTER TABLE voice_agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE voice_agents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON voice_agents
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER voice_agents_updated_at BEFORE UPDATE ON voice_agents
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON voice_agents TO platform_runtime;

-- Which organization an assistant belongs to (seed 004 "assistant_org_mapping"): the webhook's
-- first routing key.
CREATE TABLE assistant_org_mapping (
    vapi_assistant_id text        PRIMARY KEY,
    org_id            uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    direction         text        NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assistant_org_mapping_org_idx ON assistant_org_mapping (org_id);
ALTER TABLE assistant_org_mapping ENABLE ROW LEVEL SECURITY;
ALTER TABLE assistant_org_mapping FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assistant_org_mapping
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON assistant_org_mapping TO platform_runtime;

-- Per-organization voice settings: warm-transfer routing (seed 001 §18.4.2; a destination is an
-- E.164 number or a sip:/sips: URI) and the staff phone hot-lead alerts go to.
CREATE TABLE voice_settings (
    org_id               uuid        PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    transfer_default     text,
    transfer_departments jsonb       NOT NULL DEFAULT '{}'::jsonb
                                     CHECK (jsonb_typeof(transfer_departments) = 'object'),
    hot_lead_alert_phone text        CHECK (hot_lead_alert_phone ~ '^\+[1-9][0-9]{6,14}$'),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE voice_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE voice_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON voice_settings
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER voice_settings_updated_at BEFORE UPDATE ON voice_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON voice_settings TO platform_runtime;

-- The platform's global tool registry (seed 001 §4: registered once with the platform key,
-- versioned by the SHA-256 of the canonical definition). No tenant data.
CREATE TABLE vapi_tools (
    tool_name       text        PRIMARY KEY,
    vapi_tool_id    text        NOT NULL,
    definition_hash text        NOT NULL CHECK (definition_hash ~ '^[0-9a-f]{64}$'),
    registered_at   timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON vapi_tools TO platform_runtime;

-- Which global tools each organization uses, and whether they are linked to its assistants
-- (seed 001 §4 `org_tools`; a failed link is recorded and retried, never fatal).
CREATE TABLE org_tools (
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    tool_name       text        NOT NULL,
    vapi_tool_id    text        NOT NULL,
    definition_hash text        NOT NULL,
    link_status     text        NOT NULL DEFAULT 'pending' CHECK (link_status IN ('pending', 'linked', 'failed')),
    link_attempts   integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz,
    linked_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, tool_name)
);
ALTER TABLE org_tools ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_tools FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_tools
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER org_tools_updated_at BEFORE UPDATE ON org_tools
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON org_tools TO platform_runtime;

-- Twilio dual-sync (seed 001 §3.4): the Vapi credential and imported number of an organization's
-- Twilio, advanced step by step and resumable. `state` is the last step completed.
CREATE TABLE vapi_twilio_sync (
    org_id               uuid        PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    state                text        NOT NULL CHECK (state IN
                                     ('pending', 'credential_created', 'number_imported', 'linked', 'disconnecting')),
    phone_number         text        NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    vapi_credential_id   text,
    vapi_phone_number_id text,
    linked_assistant_id  text,
    attempts             integer     NOT NULL DEFAULT 0,
    last_error           text,
    next_attempt_at      timestamptz NOT NULL DEFAULT now(),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vapi_twilio_sync_number_key UNIQUE (vapi_phone_number_id)
);
ALTER TABLE vapi_twilio_sync ENABLE ROW LEVEL SECURITY;
ALTER TABLE vapi_twilio_sync FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON vapi_twilio_sync
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER vapi_twilio_sync_updated_at BEFORE UPDATE ON vapi_twilio_sync
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON vapi_twilio_sync TO platform_runtime;

-- Hot-lead alerts to the clinic's staff phone, an outbox worked after the end-of-call report
-- commits (one per call).
CREATE TABLE voice_alerts (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    call_log_id     uuid        NOT NULL REFERENCES call_logs (id) ON DELETE CASCADE,
    contact_id      uuid        REFERENCES contacts (id) ON DELETE SET NULL,
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT voice_alerts_call_key UNIQUE (call_log_id)
);
CREATE INDEX voice_alerts_due_idx ON voice_alerts (next_attempt_at) WHERE status = 'pending';
ALTER TABLE voice_alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE voice_alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON voice_alerts
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER voice_alerts_updated_at BEFORE UPDATE ON voice_alerts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON voice_alerts TO platform_runtime;

-- Call logs: outbound call-backs start as `pending` (our row, before Vapi is asked) and become
-- `initiated` once Vapi accepted the call (seed 001 §16 Phase 1); `metadata.idempotency_key`
-- makes a retried call-back find its first attempt.
ALTER TABLE call_logs DROP CONSTRAINT call_logs_status_check;
ALTER TABLE call_logs ADD CONSTRAINT call_logs_status_check
    CHECK (status IN ('pending', 'initiated', 'queued', 'ringing', 'in-progress', 'completed', 'failed'));
CREATE UNIQUE INDEX call_logs_org_idempotency_key ON call_logs (org_id, (metadata ->> 'idempotency_key'))
    WHERE metadata ? 'idempotency_key';

-- Routing: the organization of an assistant, and of an imported phone number. Nothing else
-- crosses tenants.
CREATE FUNCTION vapi_assistant_org(p_assistant text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT org_id FROM assistant_org_mapping WHERE vapi_assistant_id = p_assistant $$;
REVOKE ALL ON FUNCTION vapi_assistant_org(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vapi_assistant_org(text) TO platform_runtime;

CREATE FUNCTION vapi_phone_number_org(p_phone_number_id text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT org_id FROM vapi_twilio_sync WHERE vapi_phone_number_id = p_phone_number_id $$;
REVOKE ALL ON FUNCTION vapi_phone_number_org(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION vapi_phone_number_org(text) TO platform_runtime;

-- Workers: organizations with due work (failed tool links, unfinished dual-syncs, pending
-- alerts). Each organization's work then runs in its own tenant transaction.
CREATE FUNCTION voice_due_orgs(p_limit integer)
    RETURNS TABLE (org_id uuid, kind text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    (SELECT DISTINCT t.org_id, 'tool_link' FROM org_tools t
      WHERE t.link_status = 'failed' AND t.next_attempt_at <= now() LIMIT p_limit)
    UNION ALL
    (SELECT s.org_id, 'twilio_sync' FROM vapi_twilio_sync s
      WHERE s.state <> 'linked' AND s.next_attempt_at <= now() LIMIT p_limit)
    UNION ALL
    (SELECT DISTINCT a.org_id, 'alert' FROM voice_alerts a
      WHERE a.status = 'pending' AND a.next_attempt_at <= now() LIMIT p_limit)
$$;
REVOKE ALL ON FUNCTION voice_due_orgs(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION voice_due_orgs(integer) TO platform_runtime;

-- `cargo xtask sync-tools`: every organization with an assistant.
CREATE FUNCTION voice_orgs_with_assistants() RETURNS TABLE (org_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$ SELECT DISTINCT org_id FROM assistant_org_mapping ORDER BY org_id $$;
REVOKE ALL ON FUNCTION voice_orgs_with_assistants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION voice_orgs_with_assistants() TO platform_runtime;
