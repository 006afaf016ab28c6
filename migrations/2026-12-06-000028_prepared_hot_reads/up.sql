-- The knowledge base's keyword search through diesel's query builder, so it is a prepared
-- statement cached per connection instead of raw SQL parsed and planned on every question
-- (issue 22: no per-call raw SQL on hot paths). `plainto_tsquery(regconfig, text)` cannot be
-- bound from diesel (it binds text, and there is no implicit text -> regconfig cast), so this
-- names the configuration once. IMMUTABLE, SECURITY INVOKER and without a SET clause, so the
-- planner inlines it: `tsv @@ kb_tsquery($1)` is planned exactly as
-- `tsv @@ plainto_tsquery('english', $1)` and uses the kb_chunks_fts index. 'english' is the
-- configuration of kb_chunks.tsv (migration 000010).
CREATE FUNCTION kb_tsquery(p_text text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT pg_catalog.plainto_tsquery('pg_catalog.english'::pg_catalog.regconfig, p_text) $$;

-- Unused since the fan-out reads through realtime_events_since (migration 000021).
DROP FUNCTION realtime_events_after(bigint, integer);
