-- Foundation: the two tables every tenant capability hangs off, and the tenancy guard rails.
--
-- Roles (created by the operator or by `cargo xtask db start`, never by migrations):
--   platform_owner   owns every table, runs migrations (this file runs as it);
--   platform_runtime the gateway's role: owns nothing, NOSUPERUSER NOBYPASSRLS.
-- Every table with an org_id column has row-level security ENABLED and FORCED and a policy keyed on
-- the transaction-local setting app.current_org_id (see docs/architecture.md, "Tenancy").
-- NULLIF(..., '') because a pooled connection that once set the value reads back '' afterwards
-- (shared/STACK.md, "RLS policy and pooled connections").

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'platform_runtime') THEN
        RAISE EXCEPTION 'role platform_runtime is missing: create it first (NOSUPERUSER NOBYPASSRLS LOGIN), see docs/architecture.md';
    END IF;
END $$;

-- The runtime role may use the schema but never create objects in it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO platform_runtime;
-- Readiness compares the applied migrations with the embedded ones.
GRANT SELECT ON TABLE __diesel_schema_migrations TO platform_runtime;

-- The tenant's id within a transaction, NULL when none is set.
CREATE FUNCTION current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.current_org_id', true), '')::uuid $$;
GRANT EXECUTE ON FUNCTION current_org_id() TO platform_runtime;

CREATE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;

-- Organizations: the tenants. The row's own id is its org id.
CREATE TABLE organizations (
    id         uuid        PRIMARY KEY,
    name       text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    slug       text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    time_zone  text        NOT NULL DEFAULT 'UTC',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
    USING (id = current_org_id())
    WITH CHECK (id = current_org_id());
CREATE TRIGGER organizations_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations TO platform_runtime;

-- Users: people who sign in to an organization (seed 002 "Users"); the identity issue extends it.
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    org_id        uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email         text        NOT NULL CHECK (email = lower(email) AND position('@' IN email) > 1),
    name          text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    role          text        NOT NULL CHECK (role IN ('admin', 'manager', 'user')),
    password_hash text        NOT NULL,
    is_active     boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- An email signs in to exactly one organization.
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_org_id_idx ON users (org_id);
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON users TO platform_runtime;
