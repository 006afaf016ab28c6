// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "tsvector", schema = "pg_catalog"))]
    pub struct Tsvector;
}

diesel::table! {
    api_idempotency_keys (org_id, api_key_id, idempotency_key) {
        org_id -> Uuid,
        api_key_id -> Uuid,
        idempotency_key -> Text,
        request_hash -> Bytea,
        status -> Nullable<Int2>,
        content_type -> Nullable<Text>,
        body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_key_audit_log (id) {
        id -> Uuid,
        org_id -> Uuid,
        app_id -> Uuid,
        action -> Text,
        old_key_hint -> Nullable<Text>,
        new_key_hint -> Nullable<Text>,
        performed_by -> Nullable<Uuid>,
        performed_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    app_webhook_secrets (app_id) {
        app_id -> Uuid,
        org_id -> Uuid,
        key_id -> Text,
        nonce -> Bytea,
        ciphertext -> Bytea,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    appointments (id) {
        id -> Uuid,
        org_id -> Uuid,
        contact_id -> Nullable<Uuid>,
        service_id -> Nullable<Uuid>,
        service_name -> Nullable<Text>,
        customer_name -> Text,
        customer_phone -> Nullable<Text>,
        customer_email -> Nullable<Text>,
        notes -> Nullable<Text>,
        scheduled_time -> Timestamptz,
        ends_at -> Timestamptz,
        blocked_until -> Timestamptz,
        status -> Text,
        confirmation_sent -> Bool,
        source -> Text,
        google_event_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    apps (id) {
        id -> Uuid,
        org_id -> Uuid,
        name -> Text,
        is_active -> Bool,
        api_key_hash -> Nullable<Bytea>,
        api_key_hint -> Nullable<Text>,
        api_key_rotated_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    assistant_org_mapping (vapi_assistant_id) {
        vapi_assistant_id -> Text,
        org_id -> Uuid,
        direction -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Uuid,
        org_id -> Uuid,
        occurred_at -> Timestamptz,
        actor_type -> Text,
        actor_id -> Nullable<Uuid>,
        action -> Text,
        target -> Nullable<Text>,
        address -> Nullable<Text>,
        request_id -> Nullable<Text>,
        detail -> Jsonb,
    }
}

diesel::table! {
    call_logs (id) {
        id -> Uuid,
        org_id -> Uuid,
        vapi_call_id -> Nullable<Text>,
        call_sid -> Text,
        contact_id -> Nullable<Uuid>,
        phone_number -> Nullable<Text>,
        from_number -> Nullable<Text>,
        caller_name -> Nullable<Text>,
        call_type -> Text,
        status -> Text,
        outcome -> Nullable<Text>,
        outcome_summary -> Nullable<Text>,
        transcript -> Nullable<Text>,
        recording_url -> Nullable<Text>,
        recording_status -> Nullable<Text>,
        duration_seconds -> Nullable<Int4>,
        total_cost -> Nullable<Float8>,
        sentiment -> Nullable<Text>,
        sentiment_label -> Nullable<Text>,
        sentiment_score -> Nullable<Float8>,
        sentiment_summary -> Nullable<Text>,
        sentiment_urgency -> Nullable<Text>,
        transfer_to -> Nullable<Text>,
        transfer_time -> Nullable<Timestamptz>,
        transfer_reason -> Nullable<Text>,
        booking_confirmed -> Bool,
        financial_value_minor -> Int8,
        started_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
        metadata -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    caller_id_verification_requests (id) {
        id -> Uuid,
        org_id -> Uuid,
        phone_number -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    calls (id) {
        id -> Uuid,
        org_id -> Uuid,
        app_id -> Uuid,
        dialpad_call_id -> Int8,
        dialpad_user_id -> Nullable<Int8>,
        direction -> Nullable<Text>,
        from_number -> Nullable<Text>,
        to_number -> Nullable<Text>,
        status -> Text,
        rang_at -> Nullable<Timestamptz>,
        started_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
        duration_seconds -> Nullable<Int4>,
        recording_url -> Nullable<Text>,
        last_event_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    contacts (id) {
        id -> Uuid,
        org_id -> Uuid,
        name -> Text,
        phone -> Text,
        email -> Nullable<Text>,
        lead_status -> Text,
        lead_temperature -> Text,
        lead_score -> Int4,
        service_interests -> Array<Nullable<Text>>,
        notes -> Nullable<Text>,
        last_contacted_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        company -> Nullable<Text>,
    }
}

diesel::table! {
    credential_audit_log (id) {
        id -> Uuid,
        org_id -> Uuid,
        provider -> Text,
        action -> Text,
        detail -> Nullable<Text>,
        actor -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    dialpad_user_mappings (id) {
        id -> Uuid,
        org_id -> Uuid,
        app_id -> Uuid,
        dialpad_user_id -> Int8,
        crm_user_id -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    hybrid_forwarding_configs (id) {
        id -> Uuid,
        org_id -> Uuid,
        verified_caller_id -> Uuid,
        sim_phone_number -> Text,
        forwarding_type -> Text,
        carrier -> Text,
        carrier_country_code -> Text,
        twilio_forwarding_number -> Text,
        ring_time_seconds -> Nullable<Int4>,
        generated_activation_codes -> Array<Nullable<Text>>,
        generated_deactivation_code -> Text,
        check_codes -> Array<Nullable<Text>>,
        status -> Text,
        user_confirmed_setup -> Bool,
        confirmed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    job_schedules (name) {
        name -> Text,
        next_run_at -> Timestamptz,
        last_run_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        org_id -> Uuid,
        seq -> Int8,
        kind -> Text,
        order_key -> Nullable<Text>,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        run_at -> Timestamptz,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Tsvector;

    kb_chunks (id) {
        id -> Uuid,
        org_id -> Uuid,
        document_id -> Uuid,
        ordinal -> Int4,
        heading -> Text,
        content -> Text,
        embedding_model -> Text,
        embedding_dims -> Int4,
        embedding -> Bytea,
        tsv -> Nullable<Tsvector>,
        created_at -> Timestamptz,
        passage_embeddings -> Bytea,
    }
}

diesel::table! {
    kb_documents (id) {
        id -> Uuid,
        org_id -> Uuid,
        title -> Text,
        filename -> Text,
        format -> Text,
        size_bytes -> Int4,
        page_count -> Nullable<Int4>,
        body -> Text,
        content_sha256 -> Text,
        status -> Text,
        error -> Nullable<Text>,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        claimed_at -> Nullable<Timestamptz>,
        chunk_count -> Int4,
        embedding_model -> Nullable<Text>,
        uploaded_by -> Nullable<Uuid>,
        indexed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    kb_settings (org_id) {
        org_id -> Uuid,
        similarity_threshold -> Nullable<Float4>,
        max_chunks -> Nullable<Int4>,
        max_context_chars -> Nullable<Int4>,
        version -> Int8,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Bytea,
        window_start -> Timestamptz,
        failures -> Int4,
    }
}

diesel::table! {
    messages (id) {
        id -> Uuid,
        org_id -> Uuid,
        contact_id -> Nullable<Uuid>,
        call_id -> Nullable<Uuid>,
        appointment_id -> Nullable<Uuid>,
        direction -> Text,
        method -> Text,
        recipient -> Text,
        content -> Text,
        status -> Text,
        service_provider -> Nullable<Text>,
        external_message_id -> Nullable<Text>,
        error_code -> Nullable<Text>,
        automatic -> Bool,
        created_by -> Nullable<Uuid>,
        sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    org_api_keys (id) {
        id -> Uuid,
        org_id -> Uuid,
        name -> Text,
        scopes -> Array<Nullable<Text>>,
        key_hash -> Bytea,
        key_hint -> Text,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        rotated_from -> Nullable<Uuid>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        last_used_address -> Nullable<Text>,
    }
}

diesel::table! {
    org_credentials (id) {
        id -> Uuid,
        org_id -> Uuid,
        provider -> Text,
        key_id -> Text,
        nonce -> Bytea,
        ciphertext -> Bytea,
        metadata -> Jsonb,
        is_active -> Bool,
        last_verified_at -> Nullable<Timestamptz>,
        verification_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    org_tools (org_id, tool_name) {
        org_id -> Uuid,
        tool_name -> Text,
        vapi_tool_id -> Text,
        definition_hash -> Text,
        link_status -> Text,
        link_attempts -> Int4,
        last_error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamptz>,
        linked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    organizations (id) {
        id -> Uuid,
        name -> Text,
        slug -> Text,
        time_zone -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    realtime_events (seq) {
        seq -> Int8,
        org_id -> Uuid,
        audience -> Text,
        app_id -> Nullable<Uuid>,
        min_role -> Nullable<Text>,
        target_crm_user -> Nullable<Text>,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    scheduling_settings (org_id) {
        org_id -> Uuid,
        time_zone -> Text,
        business_hours -> Jsonb,
        closures -> Array<Nullable<Date>>,
        buffer_minutes -> Int4,
        slot_step_minutes -> Int4,
        require_approval -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    services (id) {
        id -> Uuid,
        org_id -> Uuid,
        name -> Text,
        price_minor -> Int8,
        currency -> Text,
        duration_minutes -> Int4,
        keywords -> Array<Nullable<Text>>,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    share_links (id) {
        id -> Uuid,
        org_id -> Uuid,
        call_id -> Uuid,
        token_hash -> Bytea,
        recipient -> Text,
        created_by -> Nullable<Uuid>,
        expires_at -> Timestamptz,
        use_count -> Int4,
        last_used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    softphone_calls (org_id, leg_sid) {
        org_id -> Uuid,
        leg_sid -> Text,
        parent_call_sid -> Nullable<Text>,
        user_id -> Nullable<Uuid>,
        extension -> Text,
        from_number -> Nullable<Text>,
        status -> Text,
        answered_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
        duration_seconds -> Nullable<Int4>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    user_mapping_audit_log (id) {
        id -> Uuid,
        org_id -> Uuid,
        app_id -> Uuid,
        action -> Text,
        dialpad_user_id -> Int8,
        old_crm_user_id -> Nullable<Text>,
        new_crm_user_id -> Nullable<Text>,
        actor_user_id -> Nullable<Uuid>,
        actor_app_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    user_sessions (id) {
        id -> Uuid,
        org_id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        user_agent -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        org_id -> Uuid,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        extension -> Nullable<Text>,
        last_login_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    vapi_tool_results (org_id, tool_call_id) {
        org_id -> Uuid,
        tool_call_id -> Text,
        tool_name -> Text,
        reply -> Nullable<Jsonb>,
        claimed_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    vapi_tools (tool_name) {
        tool_name -> Text,
        vapi_tool_id -> Text,
        definition_hash -> Text,
        registered_at -> Timestamptz,
    }
}

diesel::table! {
    vapi_twilio_sync (org_id) {
        org_id -> Uuid,
        state -> Text,
        phone_number -> Text,
        vapi_credential_id -> Nullable<Text>,
        vapi_phone_number_id -> Nullable<Text>,
        linked_assistant_id -> Nullable<Text>,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    verified_caller_ids (id) {
        id -> Uuid,
        org_id -> Uuid,
        phone_number -> Text,
        friendly_name -> Nullable<Text>,
        twilio_caller_id_sid -> Nullable<Text>,
        twilio_call_sid -> Nullable<Text>,
        status -> Text,
        verification_code_hash -> Nullable<Text>,
        verification_code_expires_at -> Nullable<Timestamptz>,
        verification_attempts -> Int4,
        verified_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    voice_agents (org_id, direction) {
        org_id -> Uuid,
        direction -> Text,
        name -> Text,
        system_prompt -> Text,
        first_message -> Text,
        voice_provider -> Text,
        voice_id -> Text,
        model_provider -> Text,
        model -> Text,
        vapi_assistant_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    voice_alerts (id) {
        id -> Uuid,
        org_id -> Uuid,
        call_log_id -> Uuid,
        contact_id -> Nullable<Uuid>,
        body -> Text,
        status -> Text,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    voice_settings (org_id) {
        org_id -> Uuid,
        transfer_default -> Nullable<Text>,
        transfer_departments -> Jsonb,
        hot_lead_alert_phone -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    voicemails (id) {
        id -> Uuid,
        org_id -> Uuid,
        app_id -> Uuid,
        dialpad_call_id -> Nullable<Int8>,
        dialpad_user_id -> Int8,
        from_number -> Nullable<Text>,
        to_number -> Nullable<Text>,
        recording_url -> Nullable<Text>,
        transcript -> Nullable<Text>,
        duration_seconds -> Nullable<Int4>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Uuid,
        org_id -> Uuid,
        message_id -> Text,
        endpoint_id -> Uuid,
        attempt -> Int4,
        succeeded -> Bool,
        status_code -> Nullable<Int4>,
        latency_ms -> Int4,
        response_body -> Text,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (message_id, endpoint_id) {
        org_id -> Uuid,
        message_id -> Text,
        endpoint_id -> Uuid,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        org_id -> Uuid,
        url -> Text,
        description -> Text,
        event_types -> Array<Nullable<Text>>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        disabled_at -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        secret_key_id -> Text,
        secret_nonce -> Bytea,
        secret_ciphertext -> Bytea,
        previous_key_id -> Nullable<Text>,
        previous_nonce -> Nullable<Bytea>,
        previous_ciphertext -> Nullable<Bytea>,
        previous_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Uuid,
        org_id -> Uuid,
        app_id -> Uuid,
        source -> Text,
        idempotency_key -> Text,
        event_type -> Text,
        payload -> Jsonb,
        received_at -> Timestamptz,
        status -> Text,
        last_error -> Nullable<Text>,
        processed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_messages (id) {
        id -> Text,
        org_id -> Uuid,
        event_type -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(api_idempotency_keys -> org_api_keys (api_key_id));
diesel::joinable!(api_idempotency_keys -> organizations (org_id));
diesel::joinable!(api_key_audit_log -> apps (app_id));
diesel::joinable!(api_key_audit_log -> organizations (org_id));
diesel::joinable!(app_webhook_secrets -> organizations (org_id));
diesel::joinable!(appointments -> contacts (contact_id));
diesel::joinable!(appointments -> organizations (org_id));
diesel::joinable!(appointments -> services (service_id));
diesel::joinable!(apps -> organizations (org_id));
diesel::joinable!(assistant_org_mapping -> organizations (org_id));
diesel::joinable!(audit_events -> organizations (org_id));
diesel::joinable!(call_logs -> contacts (contact_id));
diesel::joinable!(call_logs -> organizations (org_id));
diesel::joinable!(caller_id_verification_requests -> organizations (org_id));
diesel::joinable!(calls -> organizations (org_id));
diesel::joinable!(contacts -> organizations (org_id));
diesel::joinable!(credential_audit_log -> organizations (org_id));
diesel::joinable!(dialpad_user_mappings -> organizations (org_id));
diesel::joinable!(hybrid_forwarding_configs -> organizations (org_id));
diesel::joinable!(hybrid_forwarding_configs -> verified_caller_ids (verified_caller_id));
diesel::joinable!(jobs -> organizations (org_id));
diesel::joinable!(kb_chunks -> kb_documents (document_id));
diesel::joinable!(kb_chunks -> organizations (org_id));
diesel::joinable!(kb_documents -> organizations (org_id));
diesel::joinable!(kb_settings -> organizations (org_id));
diesel::joinable!(messages -> appointments (appointment_id));
diesel::joinable!(messages -> call_logs (call_id));
diesel::joinable!(messages -> contacts (contact_id));
diesel::joinable!(messages -> organizations (org_id));
diesel::joinable!(org_api_keys -> organizations (org_id));
diesel::joinable!(org_credentials -> organizations (org_id));
diesel::joinable!(org_tools -> organizations (org_id));
diesel::joinable!(realtime_events -> organizations (org_id));
diesel::joinable!(scheduling_settings -> organizations (org_id));
diesel::joinable!(services -> organizations (org_id));
diesel::joinable!(share_links -> call_logs (call_id));
diesel::joinable!(share_links -> organizations (org_id));
diesel::joinable!(softphone_calls -> organizations (org_id));
diesel::joinable!(softphone_calls -> users (user_id));
diesel::joinable!(user_mapping_audit_log -> organizations (org_id));
diesel::joinable!(user_sessions -> organizations (org_id));
diesel::joinable!(user_sessions -> users (user_id));
diesel::joinable!(users -> organizations (org_id));
diesel::joinable!(vapi_tool_results -> organizations (org_id));
diesel::joinable!(vapi_twilio_sync -> organizations (org_id));
diesel::joinable!(verified_caller_ids -> organizations (org_id));
diesel::joinable!(voice_agents -> organizations (org_id));
diesel::joinable!(voice_alerts -> call_logs (call_log_id));
diesel::joinable!(voice_alerts -> contacts (contact_id));
diesel::joinable!(voice_alerts -> organizations (org_id));
diesel::joinable!(voice_settings -> organizations (org_id));
diesel::joinable!(voicemails -> organizations (org_id));
diesel::joinable!(webhook_attempts -> organizations (org_id));
diesel::joinable!(webhook_deliveries -> organizations (org_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_messages (message_id));
diesel::joinable!(webhook_endpoints -> organizations (org_id));
diesel::joinable!(webhook_events -> organizations (org_id));
diesel::joinable!(webhook_messages -> organizations (org_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_idempotency_keys,
    api_key_audit_log,
    app_webhook_secrets,
    appointments,
    apps,
    assistant_org_mapping,
    audit_events,
    call_logs,
    caller_id_verification_requests,
    calls,
    contacts,
    credential_audit_log,
    dialpad_user_mappings,
    hybrid_forwarding_configs,
    job_schedules,
    jobs,
    kb_chunks,
    kb_documents,
    kb_settings,
    login_throttle,
    messages,
    org_api_keys,
    org_credentials,
    org_tools,
    organizations,
    realtime_events,
    scheduling_settings,
    services,
    share_links,
    softphone_calls,
    user_mapping_audit_log,
    user_sessions,
    users,
    vapi_tool_results,
    vapi_tools,
    vapi_twilio_sync,
    verified_caller_ids,
    voice_agents,
    voice_alerts,
    voice_settings,
    voicemails,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
    webhook_messages,
);
