-- CRM, scheduling and messaging (SPEC §4; seed 001 §16 Phases 1-4, "messages", §3 "Calendar &
-- Integration Engine"; seed 003). Every table is a tenant table under forced RLS.

-- Overlap exclusion on (org_id uuid, time range) needs btree_gist's uuid operator class (a trusted
-- extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Contacts (leads). Phones are E.164 and unique per organization.
CREATE TABLE contacts (
    id                uuid        PRIMARY KEY,
    org_id            uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name              text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    phone             text        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    email             text        CHECK (email IS NULL OR position('@' IN email) > 1),
    lead_status       text        NOT NULL DEFAULT 'new'
                                  CHECK (lead_status IN ('new', 'contacted', 'booked', 'lost')),
    lead_temperature  text        NOT NULL DEFAULT 'warm'
                                  CHECK (lead_temperature IN ('hot', 'warm', 'cold')),
    lead_score        integer     NOT NULL DEFAULT 0 CHECK (lead_score BETWEEN 0 AND 100),
    service_interests text[]      NOT NULL DEFAULT '{}',
    notes             text        CHECK (length(notes) <= 10000),
    last_contacted_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT contacts_org_phone_key UNIQUE (org_id, phone)
);
CREATE INDEX contacts_org_recent_idx ON contacts (org_id, created_at DESC, id DESC);
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON contacts
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER contacts_updated_at BEFORE UPDATE ON contacts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON contacts TO platform_runtime;

-- Services pricing engine (seed 001 §16 Phase 3). Prices in minor units (cents) with an ISO 4217
-- currency; keywords are matched against call transcripts.
CREATE TABLE services (
    id               uuid        PRIMARY KEY,
    org_id           uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    price_minor      bigint      NOT NULL CHECK (price_minor >= 0),
    currency         text        NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    duration_minutes integer     NOT NULL DEFAULT 30 CHECK (duration_minutes BETWEEN 5 AND 480),
    keywords         text[]      NOT NULL DEFAULT '{}',
    is_active        boolean     NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX services_org_name_key ON services (org_id, lower(name));
ALTER TABLE services ENABLE ROW LEVEL SECURITY;
ALTER TABLE services FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON services
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER services_updated_at BEFORE UPDATE ON services
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON services TO platform_runtime;

-- The seven default services of every organization (seed 001 "Default Services Seeded").
CREATE FUNCTION seed_default_services(p_org uuid) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    INSERT INTO services (id, org_id, name, price_minor, currency, duration_minutes, keywords)
    SELECT gen_random_uuid(), p_org, d.name, d.price_minor, 'USD', d.duration_minutes, d.keywords
    FROM (VALUES
        ('Botox',               40000, 30, ARRAY['botox', 'wrinkle', 'wrinkles', 'injection', 'injections']),
        ('Facelift',           800000, 60, ARRAY['facelift', 'face lift']),
        ('Rhinoplasty',        600000, 60, ARRAY['rhinoplasty', 'nose job']),
        ('Breast Augmentation', 750000, 60, ARRAY['breast augmentation', 'breast implants', 'implants']),
        ('Liposuction',        500000, 60, ARRAY['liposuction', 'lipo']),
        ('Fillers',             50000, 30, ARRAY['filler', 'fillers', 'dermal filler', 'lip filler']),
        ('Consultation',        15000, 30, ARRAY['consultation', 'consult'])
    ) AS d (name, price_minor, duration_minutes, keywords)
    ON CONFLICT DO NOTHING;
$$;
REVOKE ALL ON FUNCTION seed_default_services(uuid) FROM PUBLIC;

CREATE FUNCTION organizations_seed_services() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    PERFORM seed_default_services(NEW.id);
    RETURN NEW;
END;
$$;
REVOKE ALL ON FUNCTION organizations_seed_services() FROM PUBLIC;
CREATE TRIGGER organizations_seed_services AFTER INSERT ON organizations
    FOR EACH ROW EXECUTE FUNCTION organizations_seed_services();
SELECT seed_default_services(id) FROM organizations;

-- Call logs (seed 001 "Critical Database Column Mappings", §16 Phase 4). Written by the Vapi
-- webhook; read by the calls dashboard. Money: total_cost is Vapi's reported cost in US dollars (a
-- float, as Vapi sends it; display only),
-- financial_value_minor the estimated value in minor units of the org's services' currency.
CREATE TABLE call_logs (
    id                    uuid          PRIMARY KEY,
    org_id                uuid          NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    vapi_call_id          text,
    call_sid              text          NOT NULL,
    contact_id            uuid          REFERENCES contacts (id) ON DELETE SET NULL,
    phone_number          text,
    from_number           text,
    caller_name           text,
    call_type             text          NOT NULL DEFAULT 'inbound' CHECK (call_type IN ('inbound', 'outbound')),
    status                text          NOT NULL DEFAULT 'ringing'
                                        CHECK (status IN ('queued', 'ringing', 'in-progress', 'completed', 'failed')),
    outcome               text,
    outcome_summary       text,
    transcript            text,
    recording_url         text,
    recording_status      text          CHECK (recording_status IN ('pending', 'processing', 'completed', 'failed')),
    duration_seconds      integer       CHECK (duration_seconds >= 0),
    total_cost            double precision CHECK (total_cost >= 0),
    sentiment             text,
    sentiment_label       text,
    sentiment_score       double precision,
    sentiment_summary     text,
    sentiment_urgency     text,
    transfer_to           text,
    transfer_time         timestamptz,
    transfer_reason       text,
    booking_confirmed     boolean       NOT NULL DEFAULT false,
    financial_value_minor bigint        NOT NULL DEFAULT 0 CHECK (financial_value_minor >= 0),
    started_at            timestamptz,
    ended_at              timestamptz,
    metadata              jsonb         NOT NULL DEFAULT '{}'::jsonb,
    created_at            timestamptz   NOT NULL DEFAULT now(),
    updated_at            timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT call_logs_vapi_call_id_key UNIQUE (vapi_call_id)
);
CREATE INDEX call_logs_org_recent_idx ON call_logs (org_id, created_at DESC, id DESC);
CREATE INDEX call_logs_org_contact_idx ON call_logs (org_id, contact_id);
ALTER TABLE call_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE call_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON call_logs
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER call_logs_updated_at BEFORE UPDATE ON call_logs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON call_logs TO platform_runtime;

-- Scheduling settings: one row per organization (absent: the defaults in the scheduling crate).
-- business_hours: [{"weekday": 1-7 (ISO, Monday = 1), "opens": "HH:MM", "closes": "HH:MM"}], local
-- to time_zone (an IANA name); closures: dates (local) the clinic is closed.
CREATE TABLE scheduling_settings (
    org_id            uuid        PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    time_zone         text        NOT NULL DEFAULT 'UTC',
    business_hours    jsonb       NOT NULL,
    closures          date[]      NOT NULL DEFAULT '{}',
    buffer_minutes    integer     NOT NULL DEFAULT 0 CHECK (buffer_minutes BETWEEN 0 AND 240),
    slot_step_minutes integer     NOT NULL DEFAULT 30 CHECK (slot_step_minutes BETWEEN 5 AND 240),
    require_approval  boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE scheduling_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE scheduling_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scheduling_settings
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER scheduling_settings_updated_at BEFORE UPDATE ON scheduling_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON scheduling_settings TO platform_runtime;

-- Appointments. [scheduled_time, blocked_until) is the time the clinic is taken: the visit plus
-- the buffer after it. PostgreSQL itself refuses two live (pending or confirmed) appointments of
-- one organization whose blocked times overlap: no double booking under any concurrency.
CREATE TABLE appointments (
    id                uuid        PRIMARY KEY,
    org_id            uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    contact_id        uuid        REFERENCES contacts (id) ON DELETE SET NULL,
    service_id        uuid        REFERENCES services (id) ON DELETE SET NULL,
    service_name      text,
    customer_name     text        NOT NULL CHECK (length(btrim(customer_name)) BETWEEN 1 AND 200),
    customer_phone    text        CHECK (customer_phone ~ '^\+[1-9][0-9]{6,14}$'),
    customer_email    text,
    notes             text        CHECK (length(notes) <= 10000),
    scheduled_time    timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    blocked_until     timestamptz NOT NULL,
    status            text        NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled', 'completed')),
    confirmation_sent boolean     NOT NULL DEFAULT false,
    source            text        NOT NULL DEFAULT 'dashboard' CHECK (source IN ('dashboard', 'voice_agent')),
    google_event_id   text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > scheduled_time AND blocked_until >= ends_at),
    CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
        org_id WITH =,
        tstzrange(scheduled_time, blocked_until, '[)') WITH &&
    ) WHERE (status IN ('pending', 'confirmed'))
);
CREATE INDEX appointments_org_time_idx ON appointments (org_id, scheduled_time);
ALTER TABLE appointments ENABLE ROW LEVEL SECURITY;
ALTER TABLE appointments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON appointments
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER appointments_updated_at BEFORE UPDATE ON appointments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON appointments TO platform_runtime;

-- The calendar outbox: one job per Google Calendar change an appointment needs, written in the
-- appointment's transaction and worked off with retries. Google event ids are derived from the
-- appointment id, so a job repeated after a crash finds its event instead of duplicating it.
CREATE TABLE calendar_sync_jobs (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    appointment_id  uuid        NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    action          text        NOT NULL CHECK (action IN ('upsert', 'delete')),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calendar_sync_jobs_due_idx ON calendar_sync_jobs (next_attempt_at) WHERE status = 'pending';
ALTER TABLE calendar_sync_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE calendar_sync_jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON calendar_sync_jobs
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER calendar_sync_jobs_updated_at BEFORE UPDATE ON calendar_sync_jobs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON calendar_sync_jobs TO platform_runtime;

-- Claims due calendar jobs of every organization for one worker pass: each claimed job's
-- next_attempt_at moves lease seconds ahead, so a worker that dies releases it by expiry.
CREATE FUNCTION calendar_sync_claim(p_limit integer, p_lease_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    WITH due AS (
        SELECT j.id FROM calendar_sync_jobs j
        WHERE j.status = 'pending' AND j.next_attempt_at <= now()
        ORDER BY j.next_attempt_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE calendar_sync_jobs j
    SET next_attempt_at = now() + make_interval(secs => p_lease_secs)
    FROM due WHERE j.id = due.id
    RETURNING j.id, j.org_id;
$$;
REVOKE ALL ON FUNCTION calendar_sync_claim(integer, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION calendar_sync_claim(integer, double precision) TO platform_runtime;

-- The messages audit (seed 001 "NEW DATABASE TABLE: messages"): every SMS, email, share and
-- export, recorded before the provider is called and updated with its outcome.
CREATE TABLE messages (
    id                  uuid        PRIMARY KEY,
    org_id              uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    contact_id          uuid        REFERENCES contacts (id) ON DELETE SET NULL,
    call_id             uuid        REFERENCES call_logs (id) ON DELETE SET NULL,
    appointment_id      uuid        REFERENCES appointments (id) ON DELETE SET NULL,
    direction           text        NOT NULL DEFAULT 'outbound' CHECK (direction IN ('inbound', 'outbound')),
    method              text        NOT NULL CHECK (method IN ('sms', 'email', 'share', 'export')),
    recipient           text        NOT NULL,
    content             text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    service_provider    text,
    external_message_id text,
    error_code          text,
    automatic           boolean     NOT NULL DEFAULT false,
    created_by          uuid,
    sent_at             timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_org_recent_idx ON messages (org_id, created_at DESC);
CREATE INDEX messages_contact_auto_idx ON messages (org_id, contact_id, created_at DESC) WHERE automatic;
CREATE INDEX messages_org_method_status_idx ON messages (org_id, method, status);
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON messages
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER messages_updated_at BEFORE UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON messages TO platform_runtime;

-- Recording share links: the token's SHA-256 only; 24 hours; every use counted.
CREATE TABLE share_links (
    id           uuid        PRIMARY KEY,
    org_id       uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    call_id      uuid        NOT NULL REFERENCES call_logs (id) ON DELETE CASCADE,
    token_hash   bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    recipient    text        NOT NULL,
    created_by   uuid,
    expires_at   timestamptz NOT NULL,
    use_count    integer     NOT NULL DEFAULT 0,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE share_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE share_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON share_links
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON share_links TO platform_runtime;

-- A share link opened by anyone holding it: the organization and link of a token hash (the
-- tenant is not known before the token is), for SystemOp::ShareLinkResolve.
CREATE FUNCTION share_link_resolve(p_token_hash bytea)
    RETURNS TABLE (id uuid, org_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT s.id, s.org_id FROM share_links s WHERE s.token_hash = p_token_hash;
$$;
REVOKE ALL ON FUNCTION share_link_resolve(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION share_link_resolve(bytea) TO platform_runtime;
