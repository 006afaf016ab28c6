-- How a Dialpad call ended: `completed` when it was ever answered (connected), `missed` when
-- it ended without being answered (Dialpad's `missed` state, or a `hangup` of a call that never
-- connected). Derived from the row, so it is the same whatever order the events arrive in, and a
-- late `connected` corrects it.
ALTER TABLE calls ADD COLUMN outcome text GENERATED ALWAYS AS (
    CASE WHEN status = 'ended' THEN
        CASE WHEN started_at IS NULL THEN 'missed' ELSE 'completed' END
    END
) STORED;
