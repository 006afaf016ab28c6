-- Realtime events are no longer announced by a NOTIFY inside the writing transaction: its
-- commit took PostgreSQL's global notify lock and serialized every commit that published an
-- event (issue 22). The publishing transaction now raises a signal after it commits (db::signal:
-- this instance at once, other instances through one coalesced NOTIFY), and the fan-out reads
-- what is new by seq.
DROP TRIGGER realtime_events_announce ON realtime_events;
DROP FUNCTION realtime_events_notify();
DROP FUNCTION realtime_events_fetch(bigint[]);

-- What the fan-out has not delivered yet (SystemOp::RealtimeFanOut): every event after the
-- highest seq it delivered, plus the seqs below it still missing (allocated by a transaction
-- that had not committed when the fan-out last read; seqs are allocated before commit).
CREATE FUNCTION realtime_events_since(p_after bigint, p_missing bigint[], p_limit integer)
    RETURNS SETOF realtime_events
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ (SELECT * FROM realtime_events WHERE seq = ANY (p_missing))
          UNION ALL
          (SELECT * FROM realtime_events WHERE seq > p_after ORDER BY seq LIMIT p_limit)
          ORDER BY seq $$;
REVOKE ALL ON FUNCTION realtime_events_since(bigint, bigint[], integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime_events_since(bigint, bigint[], integer) TO platform_runtime;
