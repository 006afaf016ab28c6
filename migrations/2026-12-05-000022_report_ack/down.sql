DROP FUNCTION call_logs_upsert_vapi(uuid, uuid, text, uuid, uuid, text, text, text, text, text,
    timestamptz, timestamptz, jsonb, boolean);
DROP FUNCTION vapi_call_status_rank(text);
