DELETE FROM jobs WHERE kind = 'voice.alert';
CREATE OR REPLACE FUNCTION voice_due_orgs(p_limit integer)
    RETURNS TABLE (org_id uuid, kind text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    (SELECT DISTINCT t.org_id, 'tool_link' FROM org_tools t
      WHERE t.link_status = 'failed' AND t.next_attempt_at <= now() LIMIT p_limit)
    UNION ALL
    (SELECT s.org_id, 'twilio_sync' FROM vapi_twilio_sync s
      WHERE s.state <> 'linked' AND s.next_attempt_at <= now() LIMIT p_limit)
    UNION ALL
    (SELECT DISTINCT a.org_id, 'alert' FROM voice_alerts a
      WHERE a.status = 'pending' AND a.next_attempt_at <= now() LIMIT p_limit)
$$;
