-- The event log's processing moves onto the job runner (decision 38). `webhook_events` keeps
-- what arrived (append-only, unchanged) and its outcome (`pending` → `done`, or `dead` for a
-- payload that can never be used, with `last_error` and `processed_at`); claiming, leases,
-- retries and the order per call now belong to one `dialpad.event` job per event, written in
-- the same transaction as the event. The NOTIFY trigger goes: it took PostgreSQL's global
-- notify lock at every ingest commit; the gateway wakes the workers after the commit instead.
DROP TRIGGER webhook_events_wake ON webhook_events;
DROP FUNCTION webhook_events_notify();
DROP FUNCTION webhook_events_claim(text, integer, double precision);
DROP INDEX webhook_events_open_per_call;

-- Events still open keep their place: one job each, in arrival order, ordered per call.
INSERT INTO jobs (org_id, kind, order_key, payload, created_at)
SELECT org_id, 'dialpad.event', app_id::text || ':' || (payload ->> 'call_id'),
       jsonb_build_object('event_id', id), received_at
  FROM webhook_events
 WHERE status IN ('pending', 'processing')
 ORDER BY received_at;
UPDATE webhook_events SET status = 'pending' WHERE status = 'processing';

DROP INDEX webhook_events_pending_idx;
DROP INDEX webhook_events_leased_idx;
ALTER TABLE webhook_events
    DROP COLUMN attempts,
    DROP COLUMN next_attempt_at,
    DROP COLUMN locked_by,
    DROP COLUMN locked_until,
    DROP CONSTRAINT webhook_events_status_check,
    ADD CONSTRAINT webhook_events_status_check CHECK (status IN ('pending', 'done', 'dead'));
