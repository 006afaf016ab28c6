DROP FUNCTION calls_upsert_dialpad(uuid, uuid, uuid, bigint, bigint, text, text, text, text,
    timestamptz, timestamptz, timestamptz, integer, text, timestamptz);
