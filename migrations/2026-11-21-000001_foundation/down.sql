DROP TABLE users;
DROP TABLE organizations;
DROP FUNCTION set_updated_at();
DROP FUNCTION current_org_id();
REVOKE SELECT ON TABLE __diesel_schema_migrations FROM platform_runtime;
REVOKE USAGE ON SCHEMA public FROM platform_runtime;
