//! Tool calls with an effect run once per Vapi `toolCallId` (contracts/vapi.md §2.1: Vapi
//! redelivers a tool call whose request timed out or failed, per the server's `backoffPlan`,
//! and the same call can reach both the webhook and the tool's own URL).
//!
//! The first delivery claims the id in `vapi_tool_results` (insert-or-nothing on the primary
//! key `(org_id, tool_call_id)`), runs the tool and stores its reply; a repeated delivery, on
//! either URL and even while the first still runs, waits for that reply and answers it again.
//! A reply that says our side failed ([`crate::dispatch::SYSTEM_TROUBLE`]) is
//! not kept, so Vapi's retry runs the tool again. A claim left without a reply for
//! [`STALE_CLAIM`] (its instance died) is taken over.

use std::time::Duration;

use crate::schema::vapi_tool_results as results;
use chrono::{DateTime, Utc};
use db::{Db, OrgId};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::VoiceError;
use crate::dispatch::{SYSTEM_TROUBLE, ToolReply};

/// Tools whose delivery twice would do something twice (or tell the caller something wrong).
pub const EFFECTFUL_TOOLS: &[&str] = &[
    "bookClinicAppointment",
    "rescheduleAppointment",
    "cancelAppointment",
    "transferCall",
];

/// A claim without a reply this old belongs to a dead instance and is taken over.
pub const STALE_CLAIM: Duration = Duration::from_secs(60);
/// How long a repeated delivery waits for the first one's reply (below Vapi's 20 s default
/// server timeout).
pub const WAIT_FOR_FIRST: Duration = Duration::from_secs(15);
/// Results older than this are pruned (they are kept at least 24 hours).
const KEEP_HOURS: i64 = 48;

/// What the claim found.
enum Claim {
    /// This delivery runs the tool.
    Ours(DateTime<Utc>),
    /// Another delivery ran it: its reply.
    Done(ToolReply),
    /// Another delivery is running it.
    Running,
}

/// The stored form of a reply: `{ok | err, speech, transfer}`.
fn to_json(reply: &ToolReply) -> Value {
    let mut stored = json!({ "speech": reply.speech, "transfer": reply.transfer });
    match &reply.outcome {
        Ok(data) => stored["ok"] = data.clone(),
        Err(spoken) => stored["err"] = json!(spoken),
    }
    stored
}

fn from_json(stored: &Value) -> ToolReply {
    let outcome = match stored.get("err").and_then(Value::as_str) {
        Some(spoken) => Err(spoken.to_owned()),
        None => Ok(stored.get("ok").cloned().unwrap_or(Value::Null)),
    };
    ToolReply {
        outcome,
        speech: stored["speech"].as_str().unwrap_or_default().to_owned(),
        transfer: stored.get("transfer").filter(|t| !t.is_null()).cloned(),
    }
}

/// Runs each Vapi tool call once however often it is delivered (`vapi_tool_results`): the
/// first delivery claims the call id and stores its reply; a repeat waits for it and answers
/// the same.
#[derive(Debug, Clone)]
pub struct ToolCallLog {
    db: Db,
}

impl ToolCallLog {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// Runs `run` once for `(org, tool_call_id)`: the first delivery runs it, repeated ones get
    /// its reply. Failures of the bookkeeping itself answer [`SYSTEM_TROUBLE`] (Vapi retries).
    pub(crate) async fn once_per_tool_call<F>(
        &self,
        org: OrgId,
        tool_call_id: &str,
        tool_name: &str,
        run: F,
    ) -> ToolReply
    where
        F: AsyncFnOnce() -> ToolReply,
    {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
        loop {
            match self.claim_tool_call(org, tool_call_id, tool_name).await {
                Ok(Claim::Ours(claimed_at)) => {
                    let reply = run().await;
                    if let Err(e) = self
                        .settle_tool_call(org, tool_call_id, claimed_at, &reply)
                        .await
                    {
                        tracing::error!(error = %e, tool_call_id, "tool call result not stored");
                    }
                    return reply;
                }
                Ok(Claim::Done(reply)) => return reply,
                Ok(Claim::Running) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(Claim::Running) => {
                    tracing::warn!(
                        tool_call_id,
                        "a repeated tool call timed out waiting for the first"
                    );
                    return ToolReply::err(SYSTEM_TROUBLE);
                }
                Err(e) => {
                    tracing::error!(error = %e, tool_call_id, "tool call could not be claimed");
                    return ToolReply::err(SYSTEM_TROUBLE);
                }
            }
        }
    }

    async fn claim_tool_call(
        &self,
        org: OrgId,
        tool_call_id: &str,
        tool_name: &str,
    ) -> Result<Claim, VoiceError> {
        let (id, name) = (tool_call_id.to_owned(), tool_name.to_owned());
        self.db
            .tenant(org, async move |tx| {
                let now = Utc::now();
                let inserted = diesel::insert_into(results::table)
                    .values((
                        results::org_id.eq(org.0),
                        results::tool_call_id.eq(&id),
                        results::tool_name.eq(&name),
                    ))
                    .on_conflict_do_nothing()
                    .returning(results::claimed_at)
                    .get_result::<DateTime<Utc>>(tx)
                    .await
                    .optional()?;
                if let Some(claimed_at) = inserted {
                    let old = now - chrono::Duration::hours(KEEP_HOURS);
                    diesel::delete(
                        results::table
                            .filter(results::org_id.eq(org.0))
                            .filter(results::created_at.lt(old)),
                    )
                    .execute(tx)
                    .await?;
                    return Ok(Claim::Ours(claimed_at));
                }
                let (reply, claimed_at): (Option<Value>, DateTime<Utc>) = results::table
                    .filter(results::org_id.eq(org.0))
                    .filter(results::tool_call_id.eq(&id))
                    .select((results::reply, results::claimed_at))
                    .for_update()
                    .get_result(tx)
                    .await?;
                if let Some(reply) = reply {
                    return Ok(Claim::Done(from_json(&reply)));
                }
                let stale = chrono::Duration::from_std(STALE_CLAIM).unwrap_or_default();
                if claimed_at > now - stale {
                    return Ok(Claim::Running);
                }
                let taken = diesel::update(
                    results::table
                        .filter(results::org_id.eq(org.0))
                        .filter(results::tool_call_id.eq(&id)),
                )
                .set(results::claimed_at.eq(diesel::dsl::now))
                .returning(results::claimed_at)
                .get_result(tx)
                .await?;
                Ok(Claim::Ours(taken))
            })
            .await
    }

    /// Stores `reply` for the claim, or drops the claim when the reply says our side failed
    /// (so that Vapi's retry runs the tool again).
    async fn settle_tool_call(
        &self,
        org: OrgId,
        tool_call_id: &str,
        claimed_at: DateTime<Utc>,
        reply: &ToolReply,
    ) -> Result<(), VoiceError> {
        let id = tool_call_id.to_owned();
        let stored = (reply.outcome != Err(SYSTEM_TROUBLE.to_owned())).then(|| to_json(reply));
        self.db
            .tenant(org, async move |tx| {
                let ours = results::table
                    .filter(results::org_id.eq(org.0))
                    .filter(results::tool_call_id.eq(&id))
                    .filter(results::claimed_at.eq(claimed_at));
                match stored {
                    Some(stored) => {
                        diesel::update(ours)
                            .set(results::reply.eq(stored))
                            .execute(tx)
                            .await?
                    }
                    None => diesel::delete(ours).execute(tx).await?,
                };
                Ok::<_, VoiceError>(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_survive_storage() {
        let ok = ToolReply {
            outcome: Ok(json!({"booked": true})),
            speech: "Booked.".into(),
            transfer: None,
        };
        assert_eq!(from_json(&to_json(&ok)), ok);
        let transfer = ToolReply {
            outcome: Err("Transferring".into()),
            speech: "Transferring".into(),
            transfer: Some(json!({"type": "number", "number": "+15550001111"})),
        };
        assert_eq!(from_json(&to_json(&transfer)), transfer);
    }
}
