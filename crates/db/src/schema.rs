// @generated automatically by Diesel CLI.

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
    login_throttle (key) {
        key -> Bytea,
        window_start -> Timestamptz,
        failures -> Int4,
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
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        processed_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(api_key_audit_log -> apps (app_id));
diesel::joinable!(api_key_audit_log -> organizations (org_id));
diesel::joinable!(app_webhook_secrets -> organizations (org_id));
diesel::joinable!(apps -> organizations (org_id));
diesel::joinable!(caller_id_verification_requests -> organizations (org_id));
diesel::joinable!(calls -> organizations (org_id));
diesel::joinable!(credential_audit_log -> organizations (org_id));
diesel::joinable!(dialpad_user_mappings -> organizations (org_id));
diesel::joinable!(hybrid_forwarding_configs -> organizations (org_id));
diesel::joinable!(hybrid_forwarding_configs -> verified_caller_ids (verified_caller_id));
diesel::joinable!(org_credentials -> organizations (org_id));
diesel::joinable!(realtime_events -> organizations (org_id));
diesel::joinable!(softphone_calls -> organizations (org_id));
diesel::joinable!(softphone_calls -> users (user_id));
diesel::joinable!(user_mapping_audit_log -> organizations (org_id));
diesel::joinable!(user_sessions -> organizations (org_id));
diesel::joinable!(user_sessions -> users (user_id));
diesel::joinable!(users -> organizations (org_id));
diesel::joinable!(verified_caller_ids -> organizations (org_id));
diesel::joinable!(voicemails -> organizations (org_id));
diesel::joinable!(webhook_events -> organizations (org_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_key_audit_log,
    app_webhook_secrets,
    apps,
    caller_id_verification_requests,
    calls,
    credential_audit_log,
    dialpad_user_mappings,
    hybrid_forwarding_configs,
    login_throttle,
    org_credentials,
    organizations,
    realtime_events,
    softphone_calls,
    user_mapping_audit_log,
    user_sessions,
    users,
    verified_caller_ids,
    voicemails,
    webhook_events,
);
