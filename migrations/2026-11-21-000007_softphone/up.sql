-- Softphone call legs (seed 002 "VoIP Calling Features"): one row per <Client> leg Twilio dials
-- for a user's browser softphone, keyed by the leg's CallSid. Twilio's status callbacks for the
-- leg move it forward only (ringing < answered < completed), so a repeated or late callback
-- changes nothing and the `call_answered` / `user_call_started` / `user_call_ended` events are
-- published once, in the same transaction, before Twilio is answered.
CREATE TABLE softphone_calls (
    org_id           uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    leg_sid          text        NOT NULL CHECK (leg_sid ~ '^CA[0-9a-f]{32}$'),
    parent_call_sid  text        CHECK (parent_call_sid ~ '^CA[0-9a-f]{32}$'),
    user_id          uuid        REFERENCES users (id) ON DELETE SET NULL,
    extension        text        NOT NULL,
    from_number      text,
    status           text        NOT NULL CHECK (status IN ('ringing', 'answered', 'completed')),
    answered_at      timestamptz,
    ended_at         timestamptz,
    duration_seconds integer     CHECK (duration_seconds >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, leg_sid)
);
CREATE INDEX softphone_calls_user_recent_idx ON softphone_calls (org_id, user_id, created_at DESC);
ALTER TABLE softphone_calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE softphone_calls FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON softphone_calls
    USING (org_id = current_org_id())
    WITH CHECK (org_id = current_org_id());
CREATE TRIGGER softphone_calls_updated_at BEFORE UPDATE ON softphone_calls
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON softphone_calls TO platform_runtime;
