-- Hot-lead alerts move onto the job runner (decision 38): one `voice.alert` job per alert,
-- queued in the report's transaction. `voice_alerts` keeps the alert and its outcome
-- (`pending` → `sent` | `failed`, attempts, last error); `voice_due_orgs` no longer lists them.
INSERT INTO jobs (org_id, kind, payload, attempts, run_at, created_at)
SELECT org_id, 'voice.alert', jsonb_build_object('alert_id', id), attempts, next_attempt_at, created_at
  FROM voice_alerts
 WHERE status = 'pending';

CREATE OR REPLACE FUNCTION voice_due_orgs(p_limit integer)
    RETURNS TABLE (org_id uuid, kind text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    (SELECT DISTINCT t.org_id, 'tool_link' FROM org_tools t
      WHERE t.link_status = 'failed' AND t.next_attempt_at <= now() LIMIT p_limit)
    UNION ALL
    (SELECT s.org_id, 'twilio_sync' FROM vapi_twilio_sync s
      WHERE s.state <> 'linked' AND s.next_attempt_at <= now() LIMIT p_limit)
$$;
