//! Which organization a Vapi request belongs to (SPEC §3, "Tenancy model"; seed 001 §6a item 3).
//!
//! In order: the call's assistant (`assistant_org_mapping`), the number it came in on (numbers
//! imported by dual-sync), then the `org_id` we put in `assistantOverrides.metadata` ourselves
//! (assistant-request answers, call-backs), **only** with the `org_sig` we signed it with
//! (HMAC-SHA-256 under a key derived from `JWT_SECRET`, compared in constant time): an
//! `org_id` anyone could write into a request body never routes. A `tenantId` or `org_id`
//! argument from the model is never read. Each lookup is one `SECURITY DEFINER` function
//! returning an organization id only.

use std::time::Duration;

use db::{Db, OrgId, SystemOp};
use diesel_async::RunQueryDsl;
use vapi_client::CallInfo;

use crate::VoiceError;

/// How long a routing lookup's hit is reused.
pub const ROUTE_TTL: Duration = Duration::from_secs(1);

/// The routing cache's key: the call's assistant and phone-number ids.
pub(crate) type RouteKey = (Option<String>, Option<String>);

/// What the routing lookup found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Found {
    by_assistant: Option<uuid::Uuid>,
    by_number: Option<uuid::Uuid>,
}

/// The two routing functions (migration 000009) for the query builder, so that the look-up is
/// one statement prepared once per connection (issue 22).
mod lookup {
    #![allow(missing_docs)]
    use diesel::sql_types::{Nullable, Text};

    diesel::define_sql_function! {
        /// The organization of a Vapi assistant id.
        fn vapi_assistant_org(p_assistant_id: Nullable<Text>)
            -> diesel::sql_types::Nullable<diesel::sql_types::Uuid>;
    }

    diesel::define_sql_function! {
        /// The organization of a Vapi phone-number id (numbers imported by dual-sync).
        fn vapi_phone_number_org(p_phone_number_id: Nullable<Text>)
            -> diesel::sql_types::Nullable<diesel::sql_types::Uuid>;
    }
}

/// `org_sig` for `org`: hex HMAC-SHA-256(`key`, `"vapi-call-org:" + org_id`).
#[must_use]
pub fn org_signature(key: &ring::hmac::Key, org: OrgId) -> String {
    hex::encode(ring::hmac::sign(
        key,
        format!("vapi-call-org:{}", org.0).as_bytes(),
    ))
}

/// The organization the call's metadata names, when `org_sig` proves we wrote it.
fn signed_metadata_org(key: Option<&ring::hmac::Key>, call: &CallInfo) -> Option<uuid::Uuid> {
    let key = key?;
    let field = |name: &str| call.metadata.get(name).and_then(serde_json::Value::as_str);
    let org = uuid::Uuid::parse_str(field("org_id")?).ok()?;
    let signature = hex::decode(field("org_sig")?).ok()?;
    let message = format!("vapi-call-org:{org}");
    ring::hmac::verify(key, message.as_bytes(), &signature)
        .ok()
        .map(|()| org)
}

/// Routes Vapi requests to organizations: the lookups above behind this instance's caches.
#[derive(Debug, Clone)]
pub struct Router {
    db: Db,
    /// The key `org_sig` is verified with ([`crate::VoiceConfig::metadata_key`]).
    metadata_key: Option<ring::hmac::Key>,
    /// Recent routing hits, reused for [`ROUTE_TTL`].
    routes: moka::future::Cache<RouteKey, Found>,
    /// The assistant last answered per Vapi phone-number id, for `assistant-request`s that
    /// arrive while the database is unreachable.
    assistants: moka::future::Cache<String, String>,
}

impl Router {
    pub(crate) fn new(db: Db, metadata_key: Option<ring::hmac::Key>) -> Self {
        Self {
            db,
            metadata_key,
            routes: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ROUTE_TTL)
                .build(),
            assistants: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
        }
    }

    /// The organization of a call, `None` when nothing we know names it.
    ///
    /// # Errors
    /// [`VoiceError::Db`].
    pub async fn resolve_org(&self, call: &CallInfo) -> Result<Option<OrgId>, VoiceError> {
        let found = self.routing_lookup(call).await?;
        // An assistant we do not know is not ours: its metadata is not trusted either.
        if call.assistant_id.is_some() && found.by_assistant.is_none() {
            return Ok(found.by_number.map(OrgId));
        }
        let by_metadata = || signed_metadata_org(self.metadata_key.as_ref(), call);
        Ok(found
            .by_assistant
            .or(found.by_number)
            .or_else(by_metadata)
            .map(OrgId))
    }

    /// The organizations of the call's assistant and number: from this instance's routing cache
    /// when either was found in the last [`ROUTE_TTL`], else one `SECURITY DEFINER` lookup
    /// (`vapi_assistant_org`, `vapi_phone_number_org`). Only hits are cached, so an assistant or
    /// number set up a moment ago routes on its very next request; a removed one may still route
    /// for up to [`ROUTE_TTL`] (issue 22, "round trips").
    async fn routing_lookup(&self, call: &CallInfo) -> Result<Found, VoiceError> {
        let key = (call.assistant_id.clone(), call.phone_number_id.clone());
        if key.0.is_none() && key.1.is_none() {
            return Ok(Found::default());
        }
        if let Some(found) = self.routes.get(&key).await {
            return Ok(found);
        }
        let (assistant, number) = key.clone();
        let found = self
            .db
            .system_read(SystemOp::VapiRouting, async move |c| {
                let (by_assistant, by_number) = diesel::select((
                    lookup::vapi_assistant_org(assistant),
                    lookup::vapi_phone_number_org(number),
                ))
                .get_result::<(Option<uuid::Uuid>, Option<uuid::Uuid>)>(c)
                .await?;
                Ok::<_, VoiceError>(Found {
                    by_assistant,
                    by_number,
                })
            })
            .await?;
        if found.by_assistant.is_some() || found.by_number.is_some() {
            self.routes.insert(key, found).await;
        }
        Ok(found)
    }

    /// Remembers `assistant_id` as the answer for the number `call` came in on.
    pub async fn remember_assistant(&self, call: &CallInfo, assistant_id: &str) {
        if let Some(number) = &call.phone_number_id {
            self.assistants
                .insert(number.clone(), assistant_id.to_owned())
                .await;
        }
    }

    /// The assistant last answered for the number `call` came in on, if this instance answered
    /// one in the last 24 hours (the `assistant-request` fallback while the database is
    /// unreachable: the caller gets the clinic's agent, without personal context).
    pub async fn remembered_assistant(&self, call: &CallInfo) -> Option<String> {
        self.assistants.get(call.phone_number_id.as_ref()?).await
    }
}
