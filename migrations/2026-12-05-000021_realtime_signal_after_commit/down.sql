DROP FUNCTION realtime_events_since(bigint, bigint[], integer);
CREATE FUNCTION realtime_events_fetch(p_seqs bigint[])
    RETURNS SETOF realtime_events
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ SELECT * FROM realtime_events WHERE seq = ANY (p_seqs) ORDER BY seq $$;
REVOKE ALL ON FUNCTION realtime_events_fetch(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime_events_fetch(bigint[]) TO platform_runtime;
CREATE FUNCTION realtime_events_notify() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN PERFORM pg_notify('realtime_events', NEW.seq::text); RETURN NULL; END $$;
CREATE TRIGGER realtime_events_announce AFTER INSERT ON realtime_events
    FOR EACH ROW EXECUTE FUNCTION realtime_events_notify();
