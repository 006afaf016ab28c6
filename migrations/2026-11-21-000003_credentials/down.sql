DROP TABLE credential_audit_log;
DROP TABLE org_credentials;
