//! The narrow `SECURITY DEFINER` look-ups authentication runs on every request, declared for
//! diesel's query builder so that each is a prepared statement cached per connection (a raw
//! `sql_query` is parsed and planned again on every call; issue 22, "round trips"). Each
//! returns its row as one record: no row when nothing matches.

#![allow(missing_docs, clippy::too_many_arguments)]

use diesel::sql_types::{Bytea, Double, Uuid};

diesel::define_sql_function! {
    /// `auth_session_check(session, org, user, stale_secs)` (migration 000002): the open
    /// session's token hash, its user's role and whether `last_seen_at` is older than
    /// `stale_secs`.
    fn auth_session_check(
        p_session: Uuid,
        p_org: Uuid,
        p_user: Uuid,
        p_stale_secs: Double,
    ) -> diesel::sql_types::Record<(Bytea, diesel::sql_types::Text, diesel::sql_types::Bool)>;
}

diesel::define_sql_function! {
    /// `auth_app_by_key_hash(hash)` (migration 000002): the active app with this key hash.
    fn auth_app_by_key_hash(p_hash: Bytea) -> diesel::sql_types::Record<(Uuid, Uuid, Bytea)>;
}

diesel::define_sql_function! {
    /// `auth_org_key_by_hash(hash, stale_secs)` (migration 000024): the live organization
    /// key with this hash, its scopes and whether `last_used_at` is older than `stale_secs`.
    fn auth_org_key_by_hash(
        p_hash: Bytea,
        p_stale_secs: Double,
    ) -> diesel::sql_types::Record<(
        Uuid,
        Uuid,
        diesel::sql_types::Array<diesel::sql_types::Text>,
        Bytea,
        diesel::sql_types::Bool,
    )>;
}
