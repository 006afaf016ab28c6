ALTER FUNCTION jobs_claim(text, text[], integer, double precision) RESET enable_seqscan;
ALTER FUNCTION realtime_events_since(bigint, bigint[], integer) RESET enable_seqscan;
