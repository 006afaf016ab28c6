-- One job runner for every background queue (decision 38; owned by the `jobs` crate).
--
-- A job is one row, enqueued in the transaction of the change that needs it, so the job exists
-- exactly when the change committed. Workers claim due jobs of every organization in batches
-- (`jobs_claim`, FOR UPDATE SKIP LOCKED) with a lease; a job whose lease expires (its worker
-- died) is claimed again. A finished job is deleted; a job that used its attempts, or failed for
-- good, stays as `dead` with its last error for operators. Jobs sharing an `order_key` (within a
-- kind) run one at a time in enqueue order: a job is not claimed while an earlier open job of its
-- key exists outside the batch being claimed.
CREATE TABLE jobs (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id        uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq           bigint      GENERATED ALWAYS AS IDENTITY,
    kind          text        NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 100),
    order_key     text        CHECK (char_length(order_key) BETWEEN 1 AND 200),
    payload       jsonb       NOT NULL,
    status        text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'dead')),
    attempts      integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_at        timestamptz NOT NULL DEFAULT now(),
    locked_by     text,
    locked_until  timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'pending';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_open_per_key ON jobs (kind, order_key, seq)
    WHERE status IN ('pending', 'running') AND order_key IS NOT NULL;
CREATE INDEX jobs_org ON jobs (org_id, kind, status);

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jobs
    USING (org_id = current_org_id()) WITH CHECK (org_id = current_org_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON jobs TO platform_runtime;

-- Claims up to p_limit due jobs of the kinds this worker runs (SystemOp::JobClaim): pending jobs
-- whose time has come, and running jobs whose lease expired. Returned in enqueue order.
CREATE FUNCTION jobs_claim(p_worker text, p_kinds text[], p_limit integer, p_lease_secs double precision)
    RETURNS TABLE (id uuid, org_id uuid, kind text, order_key text, payload jsonb, attempts integer)
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        WITH candidates AS (
            SELECT j.id, j.kind, j.order_key, j.seq
              FROM jobs j
             WHERE j.kind = ANY (p_kinds)
               AND ((j.status = 'pending' AND j.run_at <= now())
                 OR (j.status = 'running' AND j.locked_until < now()))
             ORDER BY j.seq
             LIMIT p_limit
               FOR UPDATE SKIP LOCKED),
        claimed AS (
            UPDATE jobs e
               SET status = 'running', attempts = e.attempts + 1, locked_by = p_worker,
                   locked_until = now() + make_interval(secs => p_lease_secs)
             WHERE e.id IN (SELECT c.id FROM candidates c
                             WHERE c.order_key IS NULL
                                OR NOT EXISTS (
                                    SELECT 1 FROM jobs o
                                     WHERE o.kind = c.kind
                                       AND o.order_key = c.order_key
                                       AND o.status IN ('pending', 'running')
                                       AND o.seq < c.seq
                                       AND o.id NOT IN (SELECT id FROM candidates)))
            RETURNING e.id, e.org_id, e.kind, e.order_key, e.payload, e.attempts, e.seq)
        SELECT id, org_id, kind, order_key, payload, attempts FROM claimed ORDER BY seq
    $$;
REVOKE ALL ON FUNCTION jobs_claim(text, text[], integer, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION jobs_claim(text, text[], integer, double precision) TO platform_runtime;

-- Periodic tasks (no tenant): one row per schedule name. `job_schedule_claim` moves the next run
-- time forward and answers true for exactly one caller per due slot across instances (the row
-- lock of ON CONFLICT DO UPDATE makes a second caller see the moved time).
CREATE TABLE job_schedules (
    name         text        PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 100),
    next_run_at  timestamptz NOT NULL,
    last_run_at  timestamptz
);

CREATE FUNCTION job_schedule_claim(p_name text, p_every_secs double precision)
    RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
    AS $$
        WITH claimed AS (
            INSERT INTO job_schedules AS s (name, next_run_at, last_run_at)
                 VALUES (p_name, now() + make_interval(secs => p_every_secs), now())
            ON CONFLICT (name) DO UPDATE
                    SET next_run_at = now() + make_interval(secs => p_every_secs), last_run_at = now()
                  WHERE s.next_run_at <= now()
            RETURNING 1)
        SELECT EXISTS (SELECT 1 FROM claimed)
    $$;
REVOKE ALL ON FUNCTION job_schedule_claim(text, double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION job_schedule_claim(text, double precision) TO platform_runtime;
