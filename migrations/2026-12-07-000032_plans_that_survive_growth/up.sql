-- Plans that survive a table's growth (found in issue 21's delivery benchmark with auto_explain).
-- A prepared statement's generic plan is cached per connection until the table is analyzed
-- again; planned while the table was young, three hot statements kept walking a whole
-- organization's rows per call once it had grown (20,000 events: 8-34 ms each instead of 0.1):
--
-- - the event worker's read and update of its batch's events (`id = ANY($1) AND org_id = $2`)
--   chose `webhook_events_app_idx` (org_id, …) over the primary key, even when planned on an
--   empty table; the index serves no query (the application's foreign key is served by the
--   idempotency key's index, which starts with app_id), so it goes;
-- - the job runner's batch completion (`id = ANY($1) AND org_id = $2 AND status = 'running'`)
--   chose `jobs_org` (org_id, kind, status) the same way; no query needs it either (an
--   organization's deletion cascades through it rarely, on a table that only holds open jobs);
-- - `calls_upsert_dialpad`'s row lock by (app_id, dialpad_call_id) chose `calls_app_recent_idx`
--   (app_id, created_at) or a sequential scan; the listing needs that index, so the function
--   plans that one small statement for the table's size at each call (`EXECUTE`: tens of
--   microseconds against a scan that grows with the table); the upsert after it is arbitrated by
--   the unique key and keeps its cached plan.
DROP INDEX webhook_events_app_idx;
DROP INDEX jobs_org;
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
    EXECUTE 'SELECT c.status FROM calls c
              WHERE c.app_id = $1 AND c.org_id = $2 AND c.dialpad_call_id = $3
                FOR UPDATE'
       INTO v_prior USING p_app, p_org, p_call_id;
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
