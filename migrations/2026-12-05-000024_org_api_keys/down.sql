DROP TABLE api_idempotency_keys;
DROP TABLE audit_events;
DROP FUNCTION auth_org_key_by_hash(bytea, double precision);
DROP TABLE org_api_keys;
