-- CTI events (SPEC §5, seed 000 "Complete Event Flow"): Dialpad webhook secrets per app, the
-- append-only webhook event log with its processing state, Dialpad calls per app, and the
-- realtime outbox every gateway instance reads to fan events out to its WebSocket clients.

-- The Dialpad webhook secret of an app (contracts/telephony.md A.2: the JWT body is signed
-- HS256 with it), sealed with the credentials keyring like org_credentials
-- (associated data binds it to its org and app).
CREATE TABLE app_webhook_secrets (
    app_id     uuid        PRIMARY KEY,
    org_id     uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key_id     text        NOT NULL,
    nonce      bytea       NOT NULL CHECK (length(nonce) = 12),
    ciphertext bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, app_id) REFERENCES apps (org_id, id) ON DELETE CASCADE
);
ALTER TABLE app_webhook_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE app_webhook_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON app_webhook_secrets
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER app_webhook_secrets_updated_at BEFORE UPDATE ON app_webhook_secrets
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON app_webhook_secrets TO platform_runtime;

-- The app a Dialpad webhook URL names, before any tenant is known (SystemOp::DialpadWebhookLookup):
-- its organization, whether it is active, and its sealed secret if it has one.
CREATE FUNCTION dialpad_webhook_app(p_app uuid)
    RETURNS TABLE (org_id uuid, is_active boolean, key_id text, nonce bytea, ciphertext bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        SELECT a.org_id, a.is_active, s.key_id, s.nonce, s.ciphertext
          FROM apps a LEFT JOIN app_webhook_secrets s ON s.app_id = a.id AND s.org_id = a.org_id
         WHERE a.id = p_app
    $$;
REVOKE ALL ON FUNCTION dialpad_webhook_app(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dialpad_webhook_app(uuid) TO platform_runtime;

-- Every webhook event as received, stored before it is acknowledged. What arrived (org, app,
-- source, idempotency key, payload, time) never changes; only the processing columns do.
--   pending    waiting (next_attempt_at says from when)
--   processing claimed by a worker until locked_until; a worker that died lets the lease expire
--   done       its effects committed in the same transaction that set this
--   dead       failed permanently or too often; kept for the operator (docs/operations.md)
CREATE TABLE webhook_events (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL REFERENCES organizations (id),
    app_id          uuid        NOT NULL,
    source          text        NOT NULL CHECK (source IN ('dialpad')),
    idempotency_key text        NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    event_type      text        NOT NULL,
    payload         jsonb       NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'processing', 'done', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_by       text,
    locked_until    timestamptz,
    last_error      text,
    processed_at    timestamptz,
    FOREIGN KEY (org_id, app_id) REFERENCES apps (org_id, id),
    CONSTRAINT webhook_events_idempotency_key UNIQUE (app_id, source, idempotency_key)
);
CREATE INDEX webhook_events_pending_idx ON webhook_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_events_leased_idx ON webhook_events (locked_until) WHERE status = 'processing';
CREATE INDEX webhook_events_app_idx ON webhook_events (org_id, app_id, received_at DESC);
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_events
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE FUNCTION webhook_events_immutable() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN
        IF TG_OP = 'DELETE' OR NEW.id <> OLD.id OR NEW.org_id <> OLD.org_id OR NEW.app_id <> OLD.app_id
           OR NEW.source <> OLD.source OR NEW.idempotency_key <> OLD.idempotency_key
           OR NEW.event_type <> OLD.event_type OR NEW.payload <> OLD.payload
           OR NEW.received_at <> OLD.received_at THEN
            RAISE EXCEPTION 'webhook_events is append-only (what arrived never changes): % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END $$;
CREATE TRIGGER webhook_events_append_only BEFORE UPDATE OR DELETE ON webhook_events
    FOR EACH ROW EXECUTE FUNCTION webhook_events_immutable();
CREATE TRIGGER webhook_events_no_truncate BEFORE TRUNCATE ON webhook_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
GRANT SELECT, INSERT, UPDATE ON webhook_events TO platform_runtime;

-- Every stored event wakes the workers at commit (NOTIFY is transactional, and repeated
-- identical notifications in one transaction are sent once).
CREATE FUNCTION webhook_events_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN PERFORM pg_notify('webhook_events', ''); RETURN NULL; END $$;
CREATE TRIGGER webhook_events_wake AFTER INSERT ON webhook_events
    FOR EACH ROW EXECUTE FUNCTION webhook_events_notify();

-- Workers claim events of every organization (SystemOp::EventClaim): pending ones that are due,
-- and processing ones whose lease expired (their worker died). SKIP LOCKED lets any number of
-- workers on any number of instances claim without waiting on each other.
CREATE FUNCTION webhook_events_claim(p_worker text, p_limit integer, p_lease_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, app_id uuid, event_type text, payload jsonb, attempts integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        WITH claimed AS (
            UPDATE webhook_events e
               SET status = 'processing', attempts = e.attempts + 1, locked_by = p_worker,
                   locked_until = now() + make_interval(secs => p_lease_secs)
             WHERE e.id IN (SELECT w.id FROM webhook_events w
                             WHERE (w.status = 'pending' AND w.next_attempt_at <= now())
                                OR (w.status = 'processing' AND w.locked_until < now())
                             ORDER BY w.received_at
                             LIMIT p_limit
                               FOR UPDATE SKIP LOCKED)
            RETURNING e.id, e.org_id, e.app_id, e.event_type, e.payload, e.attempts, e.received_at)
        -- In arrival order within the batch (UPDATE ... RETURNING has no order of its own).
        SELECT id, org_id, app_id, event_type, payload, attempts FROM claimed ORDER BY received_at
    $$;
REVOKE ALL ON FUNCTION webhook_events_claim(text, integer, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhook_events_claim(text, integer, double precision) TO platform_runtime;

-- Dialpad calls per app (seed 000 "calls" table), upserted by the event processor. status only
-- moves forward: ringing < active < ended (call_status_rank).
CREATE FUNCTION call_status_rank(p_status text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE p_status WHEN 'ringing' THEN 1 WHEN 'active' THEN 2 WHEN 'ended' THEN 3 ELSE 0 END $$;
GRANT EXECUTE ON FUNCTION call_status_rank(text) TO platform_runtime;

CREATE TABLE calls (
    id               uuid        PRIMARY KEY,
    org_id           uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    app_id           uuid        NOT NULL,
    dialpad_call_id  bigint      NOT NULL,
    dialpad_user_id  bigint,
    direction        text,
    from_number      text,
    to_number        text,
    status           text        NOT NULL CHECK (status IN ('ringing', 'active', 'ended')),
    rang_at          timestamptz,
    started_at       timestamptz,
    ended_at         timestamptz,
    duration_seconds integer     CHECK (duration_seconds >= 0),
    recording_url    text,
    last_event_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (org_id, app_id) REFERENCES apps (org_id, id) ON DELETE CASCADE,
    CONSTRAINT calls_app_dialpad_call_key UNIQUE (app_id, dialpad_call_id)
);
CREATE INDEX calls_app_recent_idx ON calls (app_id, created_at DESC);
ALTER TABLE calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE calls FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON calls
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER calls_updated_at BEFORE UPDATE ON calls
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON calls TO platform_runtime;

-- The realtime outbox: one row per event for WebSocket clients, written in the transaction that
-- caused it; its seq is sent with NOTIFY realtime_events at commit (trigger below), and every instance fetches
-- the rows it is told about (payloads of any size) and catches up after a lost connection.
--   audience 'app'   the app's connections (app_id set); target_crm_user is added to the payload
--   audience 'users' the organization's signed-in dashboard users with at least min_role
CREATE TABLE realtime_events (
    seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    audience        text        NOT NULL CHECK (audience IN ('app', 'users')),
    app_id          uuid,
    min_role        text        CHECK (min_role IN ('admin', 'manager', 'user')),
    target_crm_user text,
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((audience = 'app') = (app_id IS NOT NULL))
);
CREATE INDEX realtime_events_created_idx ON realtime_events (created_at);
ALTER TABLE realtime_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE realtime_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON realtime_events
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT ON realtime_events TO platform_runtime;

-- Every outbox row announces its seq at commit, so an event is notified exactly when its cause
-- committed, whoever inserts it.
CREATE FUNCTION realtime_events_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN PERFORM pg_notify('realtime_events', NEW.seq::text); RETURN NULL; END $$;
CREATE TRIGGER realtime_events_announce AFTER INSERT ON realtime_events
    FOR EACH ROW EXECUTE FUNCTION realtime_events_notify();

-- The fan-out reads events of every organization to deliver them to this instance's clients
-- (SystemOp::RealtimeFanOut): by seq when notified, and every event after a seq when it
-- reconnects.
CREATE FUNCTION realtime_events_fetch(p_seqs bigint[])
    RETURNS SETOF realtime_events
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT * FROM realtime_events WHERE seq = ANY (p_seqs) ORDER BY seq $$;
REVOKE ALL ON FUNCTION realtime_events_fetch(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime_events_fetch(bigint[]) TO platform_runtime;

CREATE FUNCTION realtime_events_after(p_seq bigint, p_limit integer)
    RETURNS SETOF realtime_events
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT * FROM realtime_events WHERE seq > p_seq ORDER BY seq LIMIT p_limit $$;
REVOKE ALL ON FUNCTION realtime_events_after(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime_events_after(bigint, integer) TO platform_runtime;

-- The newest seq: where a starting instance begins (it delivers only what comes after).
CREATE FUNCTION realtime_events_head() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT coalesce(max(seq), 0) FROM realtime_events $$;
REVOKE ALL ON FUNCTION realtime_events_head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime_events_head() TO platform_runtime;

-- The outbox is transient: the daily cleanup (SystemOp::RealtimeCleanup) drops rows older than
-- a day, long after every connected instance has delivered them.
CREATE FUNCTION realtime_events_prune(OUT pruned bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ BEGIN
        DELETE FROM realtime_events WHERE created_at < now() - interval '1 day';
        GET DIAGNOSTICS pruned = ROW_COUNT;
    END $$;
REVOKE ALL ON FUNCTION realtime_events_prune() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime_events_prune() TO platform_runtime;
