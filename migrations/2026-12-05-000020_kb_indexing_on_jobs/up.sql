-- Knowledge-base indexing moves onto the job runner (decision 38): one `kb.index` job per
-- upload, re-index or re-embed, ordered per document. `kb_documents` keeps the document's
-- state for the console; `kb_due_orgs` (the workers' polling) goes.
INSERT INTO jobs (org_id, kind, order_key, payload, created_at)
SELECT org_id, 'kb.index', id::text, jsonb_build_object('document_id', id), created_at
  FROM kb_documents
 WHERE status IN ('pending', 'processing')
 ORDER BY created_at;
DROP FUNCTION kb_due_orgs(integer, integer);

-- `cargo xtask reembed` (and every start-up): queue every indexed document whose chunks were
-- embedded by another model than `p_model`, each with its indexing job. Returns how many.
CREATE OR REPLACE FUNCTION kb_queue_reembed(p_model text) RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    WITH queued AS (
        UPDATE kb_documents SET status = 'pending', next_attempt_at = now(), attempts = 0, error = NULL
         WHERE status IN ('ready', 'failed') AND embedding_model IS DISTINCT FROM p_model
           AND chunk_count > 0
        RETURNING id, org_id),
    jobs_queued AS (
        INSERT INTO jobs (org_id, kind, order_key, payload)
        SELECT org_id, 'kb.index', id::text, jsonb_build_object('document_id', id) FROM queued
        RETURNING 1)
    SELECT count(*)::integer FROM jobs_queued
$$;
