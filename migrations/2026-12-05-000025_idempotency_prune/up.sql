-- Idempotency keys are kept 24 h (tenancy::idempotency::WINDOW); the daily cleanup
-- (SystemOp::IdempotencyCleanup) drops older ones across organizations. A request reusing an
-- expired key in between replaces its row itself.
CREATE FUNCTION api_idempotency_keys_prune(OUT pruned bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    AS $$ BEGIN
        DELETE FROM api_idempotency_keys WHERE created_at < now() - interval '24 hours';
        GET DIAGNOSTICS pruned = ROW_COUNT;
    END $$;
REVOKE ALL ON FUNCTION api_idempotency_keys_prune() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_idempotency_keys_prune() TO platform_runtime;
