-- The organization's knowledge base (SPEC §7; seed 001 §3.1, §6a). Documents keep their
-- extracted text so they can be re-chunked and re-embedded without the upload; a document's
-- status is its durable indexing job (pending → processing → ready | failed), worked by the
-- knowledge-base worker. pgvector is not available on our machines (STACK.md): embeddings are
-- stored as little-endian f32 bytes beside the model that made them, and similarity runs over a
-- per-organization in-memory copy that `kb_settings.version` invalidates.

CREATE TABLE kb_documents (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title           text        NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    filename        text        NOT NULL CHECK (length(filename) <= 255),
    format          text        NOT NULL CHECK (format IN ('pdf', 'text', 'markdown')),
    size_bytes      integer     NOT NULL CHECK (size_bytes > 0),
    page_count      integer,
    body            text        NOT NULL,
    content_sha256  text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'processing', 'ready', 'failed')),
    error           text,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    chunk_count     integer     NOT NULL DEFAULT 0,
    embedding_model text,
    uploaded_by     uuid,
    indexed_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT kb_documents_org_sha_key UNIQUE (org_id, content_sha256)
);
CREATE INDEX kb_documents_org_created ON kb_documents (org_id, created_at DESC);
CREATE INDEX kb_documents_due ON kb_documents (next_attempt_at) WHERE status IN ('pending', 'processing');
ALTER TABLE kb_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE kb_documents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kb_documents
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER kb_documents_updated_at BEFORE UPDATE ON kb_documents
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON kb_documents TO platform_runtime;

-- Chunks: `heading` is the section path (`Pricing > Injectables`); `tsv` (full-text, English)
-- covers heading and content.
CREATE TABLE kb_chunks (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    document_id     uuid        NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
    ordinal         integer     NOT NULL CHECK (ordinal >= 0),
    heading         text        NOT NULL DEFAULT '',
    content         text        NOT NULL CHECK (length(content) > 0),
    embedding_model text        NOT NULL,
    embedding_dims  integer     NOT NULL CHECK (embedding_dims > 0),
    embedding       bytea       NOT NULL CHECK (length(embedding) = 4 * embedding_dims),
    -- Stored so that ranking reads it instead of re-parsing every matching chunk.
    tsv             tsvector    GENERATED ALWAYS AS
                                (to_tsvector('english'::regconfig, heading || ' ' || content)) STORED,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT kb_chunks_document_ordinal_key UNIQUE (document_id, ordinal)
);
CREATE INDEX kb_chunks_org_model ON kb_chunks (org_id, embedding_model);
CREATE INDEX kb_chunks_fts ON kb_chunks USING gin (tsv);
ALTER TABLE kb_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE kb_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kb_chunks
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON kb_chunks TO platform_runtime;

-- Per-organization retrieval overrides (NULL: the platform default, seed 001 §6a) and the
-- version every change to the organization's chunks bumps.
CREATE TABLE kb_settings (
    org_id               uuid        PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    similarity_threshold real        CHECK (similarity_threshold BETWEEN 0 AND 1),
    max_chunks           integer     CHECK (max_chunks BETWEEN 1 AND 20),
    max_context_chars    integer     CHECK (max_context_chars BETWEEN 200 AND 8000),
    version              bigint      NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE kb_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE kb_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON kb_settings
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
CREATE TRIGGER kb_settings_updated_at BEFORE UPDATE ON kb_settings
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
GRANT SELECT, INSERT, UPDATE, DELETE ON kb_settings TO platform_runtime;

-- The knowledge-base worker: organizations with a document to index (pending and due, or
-- claimed longer than `p_stale_secs` ago by a worker that died). Organization ids only.
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

-- `cargo xtask reembed`: queue every indexed document whose chunks were embedded by another
-- model than `p_model`. Returns how many documents were queued.
CREATE FUNCTION kb_queue_reembed(p_model text) RETURNS integer
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    WITH queued AS (
        UPDATE kb_documents SET status = 'pending', next_attempt_at = now(), attempts = 0, error = NULL
         WHERE status IN ('ready', 'failed') AND embedding_model IS DISTINCT FROM p_model
           AND chunk_count > 0
        RETURNING 1)
    SELECT count(*)::integer FROM queued
$$;
REVOKE ALL ON FUNCTION kb_queue_reembed(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kb_queue_reembed(text) TO platform_runtime;
