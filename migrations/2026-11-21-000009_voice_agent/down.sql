DROP FUNCTION voice_orgs_with_assistants();
DROP FUNCTION voice_due_orgs(integer);
DROP FUNCTION vapi_phone_number_org(text);
DROP FUNCTION vapi_assistant_org(text);
DROP INDEX call_logs_org_idempotency_key;
ALTER TABLE call_logs DROP CONSTRAINT call_logs_status_check;
ALTER TABLE call_logs ADD CONSTRAINT call_logs_status_check
    CHECK (status IN ('queued', 'ringing', 'in-progress', 'completed', 'failed'));
DROP TABLE voice_alerts;
DROP TABLE vapi_twilio_sync;
DROP TABLE org_tools;
DROP TABLE vapi_tools;
DROP TABLE voice_settings;
DROP TABLE assistant_org_mapping;
DROP TABLE voice_agents;
