DROP FUNCTION api_idempotency_keys_prune();
