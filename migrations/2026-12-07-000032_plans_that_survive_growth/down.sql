CREATE OR REPLACE FUNCTION calls_upsert_dialpad(
    p_id uuid, p_org uuid, p_app uuid, p_call_id bigint, p_user_id bigint, p_direction text,
    p_from text, p_to text, p_status text, p_rang_at timestamptz, p_started_at timestamptz,
    p_ended_at timestamptz, p_duration integer, p_recording_url text, p_at timestamptz)
    RETURNS TABLE (prior_status text, outcome text)
    LANGUAGE plpgsql SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_prior text;
BEGIN
    SELECT c.status INTO v_prior FROM calls c
     WHERE c.app_id = p_app AND c.org_id = p_org AND c.dialpad_call_id = p_call_id
       FOR UPDATE;
    RETURN QUERY
    INSERT INTO calls AS c (id, org_id, app_id, dialpad_call_id, dialpad_user_id, direction,
            from_number, to_number, status, rang_at, started_at, ended_at, duration_seconds,
            recording_url, last_event_at)
    VALUES (p_id, p_org, p_app, p_call_id, p_user_id, p_direction, p_from, p_to, p_status,
            p_rang_at, p_started_at, p_ended_at, p_duration, p_recording_url, p_at)
    ON CONFLICT (app_id, dialpad_call_id) DO UPDATE SET
        dialpad_user_id = coalesce(c.dialpad_user_id, EXCLUDED.dialpad_user_id),
        direction = coalesce(c.direction, EXCLUDED.direction),
        from_number = coalesce(c.from_number, EXCLUDED.from_number),
        to_number = coalesce(c.to_number, EXCLUDED.to_number),
        status = CASE WHEN call_status_rank(EXCLUDED.status) > call_status_rank(c.status)
                      THEN EXCLUDED.status ELSE c.status END,
        rang_at = coalesce(c.rang_at, EXCLUDED.rang_at),
        started_at = coalesce(c.started_at, EXCLUDED.started_at),
        ended_at = coalesce(c.ended_at, EXCLUDED.ended_at),
        duration_seconds = coalesce(EXCLUDED.duration_seconds, c.duration_seconds),
        recording_url = coalesce(EXCLUDED.recording_url, c.recording_url),
        last_event_at = greatest(c.last_event_at, EXCLUDED.last_event_at)
    RETURNING v_prior, c.outcome;
END $$;
CREATE INDEX jobs_org ON jobs (org_id, kind, status);
CREATE INDEX webhook_events_app_idx ON webhook_events (org_id, app_id, received_at DESC);
