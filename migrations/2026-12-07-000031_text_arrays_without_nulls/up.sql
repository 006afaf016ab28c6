-- Lists stored as text[] never hold a NULL element: the code reads them as lists of strings
-- (db::arrays::TextList), and an API client could otherwise be shown `null` inside a list of
-- scopes, event types, service interests or dialling codes.
ALTER TABLE contacts
    ADD CONSTRAINT contacts_service_interests_no_null
    CHECK (array_position(service_interests, NULL) IS NULL);
ALTER TABLE services
    ADD CONSTRAINT services_keywords_no_null
    CHECK (array_position(keywords, NULL) IS NULL);
ALTER TABLE hybrid_forwarding_configs
    ADD CONSTRAINT hybrid_forwarding_configs_activation_codes_no_null
    CHECK (array_position(generated_activation_codes, NULL) IS NULL);
ALTER TABLE hybrid_forwarding_configs
    ADD CONSTRAINT hybrid_forwarding_configs_check_codes_no_null
    CHECK (array_position(check_codes, NULL) IS NULL);
ALTER TABLE org_api_keys
    ADD CONSTRAINT org_api_keys_scopes_no_null
    CHECK (array_position(scopes, NULL) IS NULL);
ALTER TABLE webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_event_types_no_null
    CHECK (array_position(event_types, NULL) IS NULL);
