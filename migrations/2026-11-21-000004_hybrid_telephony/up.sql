-- Hybrid telephony (seed 001 §17.3, corrected by 3GPP: shared/SPEC.md §6): numbers verified as
-- caller IDs through the organization's Twilio, and the forwarding configuration of each.

CREATE TABLE verified_caller_ids (
    id                           uuid        PRIMARY KEY,
    org_id                       uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    phone_number                 text        NOT NULL CHECK (phone_number ~ '^\+[1-9]\d{6,14}$'),
    friendly_name                text        CHECK (length(friendly_name) <= 64),
    twilio_caller_id_sid         text        CHECK (twilio_caller_id_sid ~ '^PN[0-9a-fA-F]{32}$'),
    twilio_call_sid              text,
    status                       text        NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'verified', 'failed', 'expired')),
    -- argon2id PHC string of the 6-digit code; never the code itself.
    verification_code_hash       text,
    verification_code_expires_at timestamptz,
    verification_attempts        integer     NOT NULL DEFAULT 0 CHECK (verification_attempts BETWEEN 0 AND 3),
    verified_at                  timestamptz,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT verified_caller_ids_org_phone_key UNIQUE (org_id, phone_number)
);
CREATE INDEX verified_caller_ids_status_idx ON verified_caller_ids (org_id, status);
ALTER TABLE verified_caller_ids ENABLE ROW LEVEL SECURITY;
ALTER TABLE verified_caller_ids FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON verified_caller_ids
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER verified_caller_ids_updated_at BEFORE UPDATE ON verified_caller_ids
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON verified_caller_ids TO platform_runtime;

-- One row per verification call started, for the limit of 3 per number per hour (in the
-- database, so it holds across instances).
CREATE TABLE caller_id_verification_requests (
    id           uuid        PRIMARY KEY,
    org_id       uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    phone_number text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX caller_id_verification_requests_idx ON caller_id_verification_requests (org_id, phone_number, created_at);
ALTER TABLE caller_id_verification_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE caller_id_verification_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON caller_id_verification_requests
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, DELETE ON caller_id_verification_requests TO platform_runtime;

CREATE TABLE hybrid_forwarding_configs (
    id                          uuid        PRIMARY KEY,
    org_id                      uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    verified_caller_id          uuid        NOT NULL REFERENCES verified_caller_ids (id) ON DELETE CASCADE,
    sim_phone_number            text        NOT NULL CHECK (sim_phone_number ~ '^\+[1-9]\d{6,14}$'),
    forwarding_type             text        NOT NULL CHECK (forwarding_type IN ('total_ai', 'safety_net')),
    carrier                     text        NOT NULL
                                CHECK (carrier IN ('att', 'tmobile', 'verizon', 'sprint', 'other_gsm', 'other_cdma', 'international')),
    carrier_country_code        text        NOT NULL DEFAULT 'US',
    twilio_forwarding_number    text        NOT NULL CHECK (twilio_forwarding_number ~ '^\+[1-9]\d{6,14}$'),
    -- 3GPP TS 22.030: 5-30 s (the seed's 5-60 is invalid); NULL where the carrier sets it.
    ring_time_seconds           integer     CHECK (ring_time_seconds BETWEEN 5 AND 30),
    generated_activation_codes  text[]      NOT NULL,
    generated_deactivation_code text        NOT NULL,
    check_codes                 text[]      NOT NULL DEFAULT '{}',
    status                      text        NOT NULL DEFAULT 'pending_setup'
                                CHECK (status IN ('pending_setup', 'active', 'disabled')),
    user_confirmed_setup        boolean     NOT NULL DEFAULT false,
    confirmed_at                timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT hybrid_forwarding_configs_org_sim_key UNIQUE (org_id, sim_phone_number)
);
CREATE INDEX hybrid_forwarding_configs_caller_idx ON hybrid_forwarding_configs (org_id, verified_caller_id);
ALTER TABLE hybrid_forwarding_configs ENABLE ROW LEVEL SECURITY;
ALTER TABLE hybrid_forwarding_configs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON hybrid_forwarding_configs
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER hybrid_forwarding_configs_updated_at BEFORE UPDATE ON hybrid_forwarding_configs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON hybrid_forwarding_configs TO platform_runtime;

-- The daily cleanup (SystemOp::TelephonyCleanup; shared/SPEC.md §6): pending verifications whose
-- code has expired become 'expired'; failed and expired numbers are deleted 24 hours later unless
-- an active forwarding configuration uses them; initiation records older than a day go.
CREATE FUNCTION telephony_cleanup(OUT expired integer, OUT deleted integer, OUT pruned integer)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
    BEGIN
        UPDATE verified_caller_ids
           SET status = 'expired', verification_code_hash = NULL
         WHERE status = 'pending' AND verification_code_expires_at < now();
        GET DIAGNOSTICS expired = ROW_COUNT;
        DELETE FROM verified_caller_ids v
         WHERE v.status IN ('failed', 'expired')
           AND v.updated_at < now() - interval '24 hours'
           AND NOT EXISTS (SELECT 1 FROM hybrid_forwarding_configs f
                            WHERE f.verified_caller_id = v.id AND f.status = 'active');
        GET DIAGNOSTICS deleted = ROW_COUNT;
        DELETE FROM caller_id_verification_requests WHERE created_at < now() - interval '24 hours';
        GET DIAGNOSTICS pruned = ROW_COUNT;
    END $$;
REVOKE ALL ON FUNCTION telephony_cleanup() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telephony_cleanup() TO platform_runtime;

-- Twilio's caller-ID status callback names a verification; this finds its organization so the
-- callback's signature can be checked with that organization's auth token
-- (SystemOp::TwilioCallbackLookup).
CREATE FUNCTION telephony_verification_org(p_verification uuid) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT org_id FROM verified_caller_ids WHERE id = p_verification $$;
REVOKE ALL ON FUNCTION telephony_verification_org(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION telephony_verification_org(uuid) TO platform_runtime;
