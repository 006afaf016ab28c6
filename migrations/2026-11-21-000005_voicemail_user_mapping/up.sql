-- Voicemails and Dialpad -> CRM user mappings (seed 000 "Voicemail System", "User Mapping"),
-- per app, with org_id for tenancy. The composite foreign key (org_id, app_id) -> apps makes a
-- row of one organization pointing at another organization's app impossible, whatever the code
-- does (a plain foreign key is checked without row-level security).

ALTER TABLE apps ADD CONSTRAINT apps_org_id_id_key UNIQUE (org_id, id);

CREATE TABLE dialpad_user_mappings (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    app_id          uuid        NOT NULL,
    dialpad_user_id bigint      NOT NULL CHECK (dialpad_user_id > 0),
    crm_user_id     text        NOT NULL CHECK (length(crm_user_id) BETWEEN 1 AND 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, app_id) REFERENCES apps (org_id, id) ON DELETE CASCADE,
    CONSTRAINT dialpad_user_mappings_app_user_key UNIQUE (app_id, dialpad_user_id)
);
CREATE INDEX dialpad_user_mappings_crm_idx ON dialpad_user_mappings (app_id, crm_user_id);
ALTER TABLE dialpad_user_mappings ENABLE ROW LEVEL SECURITY;
ALTER TABLE dialpad_user_mappings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dialpad_user_mappings
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER dialpad_user_mappings_updated_at BEFORE UPDATE ON dialpad_user_mappings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON dialpad_user_mappings TO platform_runtime;

-- Every mapping change (seed 000 "Security Recommendations": log all mapping changes, who made
-- them); append-only.
CREATE TABLE user_mapping_audit_log (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL REFERENCES organizations (id),
    app_id          uuid        NOT NULL,
    action          text        NOT NULL CHECK (action IN ('mapped', 'remapped', 'deleted')),
    dialpad_user_id bigint      NOT NULL,
    old_crm_user_id text,
    new_crm_user_id text,
    actor_user_id   uuid,
    actor_app_id    uuid,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_mapping_audit_log_app_idx ON user_mapping_audit_log (org_id, app_id, created_at DESC);
ALTER TABLE user_mapping_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_mapping_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_mapping_audit_log
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER user_mapping_audit_log_append_only BEFORE UPDATE OR DELETE ON user_mapping_audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER user_mapping_audit_log_no_truncate BEFORE TRUNCATE ON user_mapping_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
GRANT SELECT, INSERT ON user_mapping_audit_log TO platform_runtime;

-- Voicemails: independent of calls (a voicemail may come without a call), linked to one when
-- known. Re-deliveries of the same voicemail update it: keyed by its Dialpad call when there is
-- one, else by its recording.
CREATE TABLE voicemails (
    id               uuid        PRIMARY KEY,
    org_id           uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    app_id           uuid        NOT NULL,
    dialpad_call_id  bigint,
    dialpad_user_id  bigint      NOT NULL,
    from_number      text,
    to_number        text,
    recording_url    text,
    transcript       text,
    duration_seconds integer     CHECK (duration_seconds >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, app_id) REFERENCES apps (org_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX voicemails_app_call_key ON voicemails (app_id, dialpad_call_id) WHERE dialpad_call_id IS NOT NULL;
CREATE UNIQUE INDEX voicemails_app_recording_key ON voicemails (app_id, recording_url)
    WHERE dialpad_call_id IS NULL AND recording_url IS NOT NULL;
CREATE INDEX voicemails_app_user_idx ON voicemails (app_id, dialpad_user_id, created_at DESC);
ALTER TABLE voicemails ENABLE ROW LEVEL SECURITY;
ALTER TABLE voicemails FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON voicemails
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER voicemails_updated_at BEFORE UPDATE ON voicemails
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON voicemails TO platform_runtime;
