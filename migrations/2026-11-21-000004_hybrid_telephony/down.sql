DROP FUNCTION telephony_verification_org(uuid);
DROP FUNCTION telephony_cleanup();
DROP TABLE hybrid_forwarding_configs;
DROP TABLE caller_id_verification_requests;
DROP TABLE verified_caller_ids;
