-- The Google Calendar outbox moves onto the job runner (decision 38): one `calendar.sync` job
-- per change, written in the appointment's transaction and ordered per appointment (an upsert
-- and a later delete of one appointment apply in that order).
INSERT INTO jobs (org_id, kind, order_key, payload, attempts, run_at, last_error, status, created_at)
SELECT org_id, 'calendar.sync', appointment_id::text,
       jsonb_build_object('appointment_id', appointment_id, 'action', action),
       attempts, next_attempt_at, last_error,
       CASE WHEN status = 'dead' THEN 'dead' ELSE 'pending' END, created_at
  FROM calendar_sync_jobs
 WHERE status IN ('pending', 'dead')
 ORDER BY created_at;
DROP FUNCTION calendar_sync_claim(integer, double precision);
DROP TABLE calendar_sync_jobs;
