DROP TABLE voicemails;
DROP TABLE user_mapping_audit_log;
DROP TABLE dialpad_user_mappings;
ALTER TABLE apps DROP CONSTRAINT apps_org_id_id_key;
