CREATE FUNCTION realtime_events_after(p_seq bigint, p_limit integer)
    RETURNS SETOF realtime_events
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT * FROM realtime_events WHERE seq > p_seq ORDER BY seq LIMIT p_limit $$;
REVOKE ALL ON FUNCTION realtime_events_after(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime_events_after(bigint, integer) TO platform_runtime;

DROP FUNCTION kb_tsquery(text);
