-- Outbound webhooks following the Standard Webhooks specification (docs/integrating.md,
-- "Webhooks"; issue 23 §2). Owner: the `webhooks` crate.
--
-- A change that causes an event writes a message (and one delivery per subscribed endpoint, and
-- the delivery's job) in its own transaction: the event exists exactly when its cause committed.
-- Each attempt is recorded with the delivery's new state and the next attempt's job in one
-- transaction, so a crash between sending and recording sends again (at least once) and never
-- loses a message.

-- An organization's receiving endpoint. The signing secret (`whsec_` + base64 of 24 random bytes)
-- is sealed with the credentials keyring (AES-256-GCM, associated data "webhook:<org>:<id>");
-- after a rotation the previous secret keeps signing beside the new one until previous_until.
CREATE TABLE webhook_endpoints (
    id                  uuid        PRIMARY KEY,
    org_id              uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                 text        NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    description         text        NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- Event types delivered; empty: every type.
    event_types         text[]      NOT NULL DEFAULT '{}',
    enabled             boolean     NOT NULL DEFAULT true,
    disabled_reason     text,
    disabled_at         timestamptz,
    -- First failed attempt since the last success; an endpoint failing for 5 days is disabled.
    failing_since       timestamptz,
    secret_key_id       text        NOT NULL,
    secret_nonce        bytea       NOT NULL CHECK (length(secret_nonce) = 12),
    secret_ciphertext   bytea       NOT NULL,
    previous_key_id     text,
    previous_nonce      bytea       CHECK (length(previous_nonce) = 12),
    previous_ciphertext bytea,
    previous_until      timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((previous_ciphertext IS NULL) = (previous_until IS NULL))
);
CREATE INDEX webhook_endpoints_org_idx ON webhook_endpoints (org_id, created_at);
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER webhook_endpoints_updated_at BEFORE UPDATE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints TO platform_runtime;

-- One event as sent: `id` is the `webhook-id` header (`msg_` + 32 hex), `payload` the body
-- (`{"type", "timestamp", "data"}`). Kept 30 days for resend and replay.
CREATE TABLE webhook_messages (
    id          text        PRIMARY KEY CHECK (id ~ '^msg_[0-9a-f]{32}$'),
    org_id      uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    event_type  text        NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
    payload     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_messages_org_time_idx ON webhook_messages (org_id, created_at DESC);
CREATE INDEX webhook_messages_created_idx ON webhook_messages (created_at);
ALTER TABLE webhook_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_messages
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, DELETE ON webhook_messages TO platform_runtime;

-- A message's delivery to one endpoint: `pending` until an attempt succeeds (`succeeded`) or the
-- retry schedule is used up or the endpoint is disabled or deleted (`failed`).
CREATE TABLE webhook_deliveries (
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    message_id      text        NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, status);
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER webhook_deliveries_updated_at BEFORE UPDATE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries TO platform_runtime;

-- The delivery log: one row per attempt (time, status code, latency, the first 2 KiB of the
-- response body or the transport error).
CREATE TABLE webhook_attempts (
    id            uuid        PRIMARY KEY,
    org_id        uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    message_id    text        NOT NULL,
    endpoint_id   uuid        NOT NULL,
    attempt       integer     NOT NULL CHECK (attempt >= 1),
    succeeded     boolean     NOT NULL,
    status_code   integer,
    latency_ms    integer     NOT NULL CHECK (latency_ms >= 0),
    response_body text        NOT NULL DEFAULT '',
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (message_id, endpoint_id)
        REFERENCES webhook_deliveries (message_id, endpoint_id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, created_at DESC);
CREATE INDEX webhook_attempts_message_idx ON webhook_attempts (message_id, created_at);
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_attempts
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT ON webhook_attempts TO platform_runtime;

-- Messages older than 30 days go with their deliveries and attempts (SystemOp::WebhookCleanup,
-- daily).
CREATE FUNCTION webhook_messages_prune(OUT pruned bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ BEGIN
        DELETE FROM webhook_messages WHERE created_at < now() - interval '30 days';
        GET DIAGNOSTICS pruned = ROW_COUNT;
    END $$;
REVOKE ALL ON FUNCTION webhook_messages_prune() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhook_messages_prune() TO platform_runtime;
