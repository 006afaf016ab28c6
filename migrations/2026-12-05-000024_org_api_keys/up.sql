-- Organization API keys (service accounts) for the whole REST API, and the organization's
-- append-only audit trail of what keys and administrators did (docs/integrating.md).
--
-- A key is `sk_` + 64 hex characters, stored only as HMAC-SHA-256(pepper, key) like an app's key.
-- `scopes` are `<area>:read` / `<area>:write` strings checked by the gateway before a handler runs.
-- Rotation issues a new key and gives the old one an `expires_at` (overlap); revocation is at once.
CREATE TABLE org_api_keys (
    id                uuid        PRIMARY KEY,
    org_id            uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name              text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    scopes            text[]      NOT NULL CHECK (cardinality(scopes) >= 1),
    key_hash          bytea       NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    key_hint          text        NOT NULL,
    expires_at        timestamptz,
    revoked_at        timestamptz,
    rotated_from      uuid        REFERENCES org_api_keys (id) ON DELETE SET NULL,
    created_by        uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_used_at      timestamptz,
    last_used_address text
);
CREATE INDEX org_api_keys_org_idx ON org_api_keys (org_id, created_at DESC);
ALTER TABLE org_api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_api_keys
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, UPDATE ON org_api_keys TO platform_runtime;

-- The key a keyed hash names, if neither revoked nor expired, with whether its last-use record
-- is older than p_stale_secs (refreshed at most that often). Caller: tenancy::org_keys as
-- SystemOp::ApiKeyLookup, one round trip outside a transaction.
CREATE FUNCTION auth_org_key_by_hash(p_hash bytea, p_stale_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, scopes text[], key_hash bytea, stale boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT k.id, k.org_id, k.scopes, k.key_hash,
               k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => p_stale_secs)
          FROM org_api_keys k
         WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
           AND (k.expires_at IS NULL OR k.expires_at > now())
    $$;
REVOKE ALL ON FUNCTION auth_org_key_by_hash(bytea, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_org_key_by_hash(bytea, double precision) TO platform_runtime;

-- The organization's audit trail: append-only (refuse_change from 000002), read and inserted by
-- the runtime role in the tenant's transaction. `actor_type` says whose id `actor_id` is.
CREATE TABLE audit_events (
    id          uuid        PRIMARY KEY,
    org_id      uuid        NOT NULL REFERENCES organizations (id),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_type  text        NOT NULL CHECK (actor_type IN ('user', 'api_key', 'app', 'system')),
    actor_id    uuid,
    action      text        NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    target      text,
    address     text,
    request_id  text,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_org_time_idx ON audit_events (org_id, occurred_at DESC, id DESC);
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT ON audit_events TO platform_runtime;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Idempotency keys of write requests made with organization API keys (docs/integrating.md,
-- "Idempotency"): the first answer is kept for 24 h and given again for the same key and body;
-- `status` is NULL while the first request runs.
CREATE TABLE api_idempotency_keys (
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    api_key_id      uuid        NOT NULL REFERENCES org_api_keys (id) ON DELETE CASCADE,
    idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    bytea       NOT NULL CHECK (length(request_hash) = 32),
    status          smallint,
    content_type    text,
    body            bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, api_key_id, idempotency_key)
);
CREATE INDEX api_idempotency_keys_created_idx ON api_idempotency_keys (created_at);
ALTER TABLE api_idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_idempotency_keys
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON api_idempotency_keys TO platform_runtime;
