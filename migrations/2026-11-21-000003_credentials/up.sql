-- Customer-provided credentials (BYOC; seed 004, seed 001 §5.7 "Fortress Protocol";
-- shared/SPEC.md §2). Secrets are sealed with AES-256-GCM by the application: the database holds
-- only the key id, the 96-bit nonce and the ciphertext (with its tag). The associated data binds
-- every ciphertext to its (org_id, provider), so a ciphertext copied to another row or
-- organization does not decrypt. `metadata` holds non-secret facts shown in the integrations
-- status (for example a phone number or the connected Google account).

CREATE TABLE org_credentials (
    id                 uuid        PRIMARY KEY,
    org_id             uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider           text        NOT NULL
                       CHECK (provider IN ('twilio', 'google_calendar', 'resend', 'elevenlabs', 'outlook')),
    key_id             text        NOT NULL CHECK (key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
    nonce              bytea       NOT NULL CHECK (length(nonce) = 12),
    ciphertext         bytea       NOT NULL CHECK (length(ciphertext) >= 16),
    metadata           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    is_active          boolean     NOT NULL DEFAULT true,
    last_verified_at   timestamptz,
    verification_error text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz,
    CHECK (is_active = (deleted_at IS NULL))
);
-- One active credential per (org, provider); replaced and disconnected rows stay as history.
CREATE UNIQUE INDEX org_credentials_active_key ON org_credentials (org_id, provider) WHERE is_active;
CREATE INDEX org_credentials_key_id_idx ON org_credentials (key_id);
ALTER TABLE org_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_credentials
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER org_credentials_updated_at BEFORE UPDATE ON org_credentials
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE ON org_credentials TO platform_runtime;

-- Every write, verification and disconnection of a credential; append-only like the API-key log.
CREATE TABLE credential_audit_log (
    id          uuid        PRIMARY KEY,
    org_id      uuid        NOT NULL REFERENCES organizations (id),
    provider    text        NOT NULL,
    action      text        NOT NULL
                CHECK (action IN ('stored', 'verified', 'verification_failed', 'disconnected')),
    detail      text,
    actor       uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credential_audit_log_org_idx ON credential_audit_log (org_id, created_at DESC);
ALTER TABLE credential_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE credential_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON credential_audit_log
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER credential_audit_log_append_only BEFORE UPDATE OR DELETE ON credential_audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER credential_audit_log_no_truncate BEFORE TRUNCATE ON credential_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
GRANT SELECT, INSERT ON credential_audit_log TO platform_runtime;
