//! Which organization a Vapi request belongs to (SPEC §3, "Tenancy model"; seed 001 §6a item 3).
//!
//! In order: the call's assistant (`assistant_org_mapping`), the number it came in on (numbers
//! imported by dual-sync), then the `org_id` we put in `assistantOverrides.metadata` ourselves
//! (assistant-request answers, call-backs), **only** with the `org_sig` we signed it with
//! (HMAC-SHA-256 under a key derived from `JWT_SECRET`, compared in constant time): an
//! `org_id` anyone could write into a request body never routes. A `tenantId` or `org_id`
//! argument from the model is never read. Each lookup is one `SECURITY DEFINER` function
//! returning an organization id only.

use db::{OrgId, SystemOp};
use diesel::sql_types::{Nullable, Text};
use diesel_async::RunQueryDsl;
use vapi_client::CallInfo;

use crate::{VoiceAgent, VoiceError};

#[derive(diesel::QueryableByName)]
struct Found {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    by_assistant: Option<uuid::Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    by_number: Option<uuid::Uuid>,
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

impl VoiceAgent {
    /// The organization of a call, `None` when nothing we know names it.
    ///
    /// # Errors
    /// [`VoiceError::Db`].
    pub async fn resolve_org(&self, call: &CallInfo) -> Result<Option<OrgId>, VoiceError> {
        let assistant = call.assistant_id.clone();
        let number = call.phone_number_id.clone();
        let found = if assistant.is_some() || number.is_some() {
            self.db
                .system_read(SystemOp::VapiRouting, async move |c| {
                    diesel::sql_query(
                        "SELECT vapi_assistant_org($1) AS by_assistant, \
                         vapi_phone_number_org($2) AS by_number",
                    )
                    .bind::<Nullable<Text>, _>(assistant)
                    .bind::<Nullable<Text>, _>(number)
                    .get_result::<Found>(c)
                    .await
                    .map_err(VoiceError::from)
                })
                .await?
        } else {
            Found {
                by_assistant: None,
                by_number: None,
            }
        };
        // An assistant we do not know is not ours: its metadata is not trusted either.
        if call.assistant_id.is_some() && found.by_assistant.is_none() {
            return Ok(found.by_number.map(OrgId));
        }
        let by_metadata = || signed_metadata_org(self.config.metadata_key.as_ref(), call);
        Ok(found
            .by_assistant
            .or(found.by_number)
            .or_else(by_metadata)
            .map(OrgId))
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
