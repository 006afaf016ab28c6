CREATE FUNCTION kb_tsquery(p_text text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT pg_catalog.plainto_tsquery('pg_catalog.english'::pg_catalog.regconfig, p_text) $$;

DROP FUNCTION kb_keyword_hits(uuid, text, text, integer);
