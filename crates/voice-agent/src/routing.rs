//! Which organization a Vapi request belongs to (SPEC §3, "Tenancy model"; seed 001 §6a item 3).
//!
//! In order: the call's assistant (`assistant_org_mapping`), the number it came in on (numbers
//! imported by dual-sync), then the `org_id` we put in `assistantOverrides.metadata` ourselves
//! (assistant-request answers, call-backs). A `tenantId` or `org_id` argument from the model is
//! never read. Each lookup is one `SECURITY DEFINER` function returning an organization id only.

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
                .system_read(SystemOp::VapiRouting, move |c| {
                    Box::pin(async move {
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
        let by_metadata = || {
            call.metadata
                .get("org_id")
                .and_then(serde_json::Value::as_str)
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
        };
        Ok(found
            .by_assistant
            .or(found.by_number)
            .or_else(by_metadata)
            .map(OrgId))
    }
}
