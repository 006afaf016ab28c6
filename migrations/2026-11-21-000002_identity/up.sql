-- Identity and access (seed 002 "Authentication System", "User Management"; seed 000 "API Key
-- Management"): user extensions, database sessions behind every JWT, apps with hashed API keys,
-- an append-only API-key audit log, login throttling, and the two narrow cross-tenant look-ups
-- that authentication needs before a tenant is known.

-- Users: the seed-002 extension (the softphone identity) and the last sign-in.
ALTER TABLE users ADD COLUMN extension text CHECK (extension ~ '^[0-9]{2,8}$');
ALTER TABLE users ADD COLUMN last_login_at timestamptz;
CREATE UNIQUE INDEX users_org_extension_key ON users (org_id, extension) WHERE extension IS NOT NULL;

-- Sessions: one row per issued JWT. The token carries the session id (`sid`) and a random token
-- id (`jti`); only SHA-256(jti) is stored. Logout and revocation set revoked_at, which every
-- request checks.
CREATE TABLE user_sessions (
    id           uuid        PRIMARY KEY,
    org_id       uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   bytea       NOT NULL CHECK (length(token_hash) = 32),
    user_agent   text        CHECK (length(user_agent) <= 512),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX user_sessions_user_idx ON user_sessions (org_id, user_id) WHERE revoked_at IS NULL;
ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_sessions
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON user_sessions TO platform_runtime;

-- Apps: API clients of an organization (seed 000). The key itself is never stored: only
-- HMAC-SHA-256(server pepper, key) and a hint (first 8 … last 4).
CREATE TABLE apps (
    id                 uuid        PRIMARY KEY,
    org_id             uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name               text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    is_active          boolean     NOT NULL DEFAULT true,
    api_key_hash       bytea       UNIQUE CHECK (length(api_key_hash) = 32),
    api_key_hint       text,
    api_key_rotated_at timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((api_key_hash IS NULL) = (api_key_hint IS NULL))
);
CREATE INDEX apps_org_id_idx ON apps (org_id);
ALTER TABLE apps ENABLE ROW LEVEL SECURITY;
ALTER TABLE apps FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON apps
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER apps_updated_at BEFORE UPDATE ON apps
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON apps TO platform_runtime;

-- The API-key audit log (seed 000): append-only. The runtime role may only insert and read, and
-- triggers refuse UPDATE, DELETE and TRUNCATE for everyone, the owner included. Its foreign keys
-- restrict (no cascade): an app with history is deactivated, never deleted. `performed_by` is the
-- acting user's id as recorded, deliberately without a foreign key, so that deleting a user
-- never rewrites history.
CREATE TABLE api_key_audit_log (
    id           uuid        PRIMARY KEY,
    org_id       uuid        NOT NULL REFERENCES organizations (id),
    app_id       uuid        NOT NULL REFERENCES apps (id),
    action       text        NOT NULL CHECK (action IN ('created', 'rotated', 'revoked')),
    old_key_hint text,
    new_key_hint text,
    performed_by uuid,
    performed_at timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_key_audit_log_app_idx ON api_key_audit_log (org_id, app_id, performed_at DESC);
ALTER TABLE api_key_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_key_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_key_audit_log
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT ON api_key_audit_log TO platform_runtime;

CREATE FUNCTION refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$;
CREATE TRIGGER api_key_audit_log_append_only BEFORE UPDATE OR DELETE ON api_key_audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER api_key_audit_log_no_truncate BEFORE TRUNCATE ON api_key_audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Login throttling, per account and per client address, shared by every gateway instance.
-- Not tenant data: the key is a SHA-256 of the normalised email or of the address, never the
-- email itself.
CREATE TABLE login_throttle (
    key          bytea       PRIMARY KEY CHECK (length(key) = 32),
    window_start timestamptz NOT NULL,
    failures     integer     NOT NULL CHECK (failures >= 0)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO platform_runtime;

-- Narrow cross-tenant look-ups (docs/architecture.md, "Tenancy"). Each returns only what its
-- caller needs, runs as the owner (which bypasses RLS), and is the only way the runtime role can
-- see a row before it knows the tenant. Callers: tenancy::sessions and tenancy::api_keys, as
-- SystemOp::LoginLookup, SystemOp::ApiKeyLookup and SystemOp::SessionCheck (one round trip each,
-- outside a transaction: these run on every authenticated request).
CREATE FUNCTION auth_login_candidate(p_email text)
    RETURNS TABLE (user_id uuid, org_id uuid, password_hash text, is_active boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT u.id, u.org_id, u.password_hash, u.is_active FROM users u WHERE u.email = p_email $$;
REVOKE ALL ON FUNCTION auth_login_candidate(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_login_candidate(text) TO platform_runtime;

CREATE FUNCTION auth_app_by_key_hash(p_hash bytea)
    RETURNS TABLE (app_id uuid, org_id uuid, api_key_hash bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT a.id, a.org_id, a.api_key_hash FROM apps a WHERE a.api_key_hash = p_hash AND a.is_active $$;
REVOKE ALL ON FUNCTION auth_app_by_key_hash(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_app_by_key_hash(bytea) TO platform_runtime;

-- The session a signed token names, if it is open and its user active, in exactly the org, user
-- and session the token claims. Returns the stored token hash (compared by the caller in
-- constant time), the user's current role, and whether last_seen_at is older than p_stale_secs.
CREATE FUNCTION auth_session_check(p_session uuid, p_org uuid, p_user uuid, p_stale_secs double precision)
    RETURNS TABLE (token_hash bytea, role text, stale boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT s.token_hash, u.role, s.last_seen_at < now() - make_interval(secs => p_stale_secs)
          FROM user_sessions s
          JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id
         WHERE s.id = p_session AND s.org_id = p_org AND s.user_id = p_user
           AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active
    $$;
REVOKE ALL ON FUNCTION auth_session_check(uuid, uuid, uuid, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_session_check(uuid, uuid, uuid, double precision) TO platform_runtime;
