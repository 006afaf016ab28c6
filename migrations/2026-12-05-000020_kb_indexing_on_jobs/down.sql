DELETE FROM jobs WHERE kind = 'kb.index';
CREATE FUNCTION kb_due_orgs(p_limit integer, p_stale_secs integer)
    RETURNS TABLE (org_id uuid)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT DISTINCT d.org_id FROM kb_documents d
     WHERE (d.status = 'pending' AND d.next_attempt_at <= now())
        OR (d.status = 'processing' AND d.claimed_at < now() - make_interval(secs => p_stale_secs))
     LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION kb_due_orgs(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kb_due_orgs(integer, integer) TO platform_runtime;
CREATE OR REPLACE FUNCTION kb_queue_reembed(p_model text) RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    WITH queued AS (
        UPDATE kb_documents SET status = 'pending', next_attempt_at = now(), attempts = 0, error = NULL
         WHERE status IN ('ready', 'failed') AND embedding_model IS DISTINCT FROM p_model
           AND chunk_count > 0
        RETURNING 1)
    SELECT count(*)::integer FROM queued
$$;
