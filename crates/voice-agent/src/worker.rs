//! The voice worker: retries failed tool links, resumes unfinished Twilio dual-syncs and sends
//! hot-lead alerts. Due work is found across organizations through `voice_due_orgs` (one
//! [`db::SystemOp::VoiceWork`] query returning organization ids); each organization's work then
//! runs in its own tenant transactions. Work survives restarts: it lives in the database.

use std::time::Duration;

use db::schema::voice_alerts;
use db::{OrgId, SystemOp};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::{VoiceAgent, VoiceError};

/// Alert attempts before an alert is marked `failed`.
pub const MAX_ALERT_ATTEMPTS: i32 = 5;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkReport {
    /// Organizations whose tools were relinked.
    pub tool_links: usize,
    /// Dual-syncs advanced.
    pub twilio_syncs: usize,
    /// Alerts sent.
    pub alerts_sent: usize,
}

#[derive(QueryableByName)]
struct Due {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    org_id: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
}

impl VoiceAgent {
    /// One pass over due work (at most `limit` organizations per kind).
    ///
    /// # Errors
    /// [`VoiceError::Db`] when due work cannot be listed; failures of single items are recorded
    /// on them.
    pub async fn work_once(&self, limit: i32) -> Result<WorkReport, VoiceError> {
        let due: Vec<Due> = self
            .db
            .system(SystemOp::VoiceWork, move |c| {
                Box::pin(async move {
                    diesel::sql_query("SELECT org_id, kind FROM voice_due_orgs($1)")
                        .bind::<diesel::sql_types::Integer, _>(limit)
                        .load(c)
                        .await
                        .map_err(VoiceError::from)
                })
            })
            .await?;
        let mut report = WorkReport::default();
        for item in due {
            let org = OrgId(item.org_id);
            let outcome = match item.kind.as_str() {
                "tool_link" => self.sync_tools(org).await.map(|_| report.tool_links += 1),
                "twilio_sync" => match self.claim_twilio_sync(org).await {
                    Ok(true) => self
                        .advance_twilio_sync(org)
                        .await
                        .map(|_| report.twilio_syncs += 1),
                    other => other.map(|_| ()),
                },
                "alert" => self.send_alerts(org).await.map(|n| report.alerts_sent += n),
                _ => Ok(()),
            };
            if let Err(e) = outcome {
                tracing::warn!(org_id = %org, kind = %item.kind, error = %e, "voice work failed");
            }
        }
        Ok(report)
    }

    /// Sends the organization's due hot-lead alerts to its alert phone. Returns how many went.
    ///
    /// # Errors
    /// [`VoiceError::Db`].
    pub async fn send_alerts(&self, org: OrgId) -> Result<usize, VoiceError> {
        let (alerts, settings) = self
            .db
            .tenant(org, move |c| {
                Box::pin(async move {
                    let alerts: Vec<(uuid::Uuid, uuid::Uuid, Option<uuid::Uuid>, String)> =
                        voice_alerts::table
                            .filter(voice_alerts::org_id.eq(org.0))
                            .filter(voice_alerts::status.eq("pending"))
                            .filter(voice_alerts::next_attempt_at.le(chrono::Utc::now()))
                            .select((
                                voice_alerts::id,
                                voice_alerts::call_log_id,
                                voice_alerts::contact_id,
                                voice_alerts::body,
                            ))
                            .limit(20)
                            .for_update()
                            .skip_locked()
                            .load(c)
                            .await?;
                    // Claim them for a minute so that another instance does not send them too.
                    let ids: Vec<uuid::Uuid> = alerts.iter().map(|a| a.0).collect();
                    diesel::update(voice_alerts::table.filter(voice_alerts::id.eq_any(&ids)))
                        .set(
                            voice_alerts::next_attempt_at
                                .eq(chrono::Utc::now() + chrono::Duration::minutes(1)),
                        )
                        .execute(c)
                        .await?;
                    Ok::<_, VoiceError>((alerts, crate::agents::settings_on(c, org).await?))
                })
            })
            .await?;
        let mut sent = 0;
        for (id, call, contact, body) in alerts {
            let outcome = match &settings.hot_lead_alert_phone {
                None => Err("no hot-lead alert phone is configured".to_owned()),
                Some(phone) => self
                    .messenger
                    .send_sms(
                        org,
                        phone,
                        &body,
                        messaging::Subject {
                            contact_id: contact,
                            call_id: Some(call),
                            appointment_id: None,
                            created_by: None,
                        },
                        false,
                    )
                    .await
                    .map_err(|e| e.to_string()),
            };
            if outcome.is_ok() {
                sent += 1;
            }
            self.db
                .tenant(org, move |c| {
                    Box::pin(async move {
                        let target = voice_alerts::table.filter(voice_alerts::id.eq(id));
                        match outcome {
                            Ok(_) => {
                                diesel::update(target)
                                    .set(voice_alerts::status.eq("sent"))
                                    .execute(c)
                                    .await?;
                            }
                            Err(error) => {
                                diesel::sql_query(
                                    "UPDATE voice_alerts SET attempts = attempts + 1, last_error = $2, \
                                       status = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE status END, \
                                       next_attempt_at = now() + make_interval(secs => 60 * power(2, attempts)) \
                                     WHERE id = $1",
                                )
                                .bind::<diesel::sql_types::Uuid, _>(id)
                                .bind::<diesel::sql_types::Text, _>(error)
                                .bind::<diesel::sql_types::Integer, _>(MAX_ALERT_ATTEMPTS)
                                .execute(c)
                                .await?;
                            }
                        }
                        Ok::<_, VoiceError>(())
                    })
                })
                .await?;
        }
        Ok(sent)
    }

    /// Runs [`VoiceAgent::work_once`] every `every` until the task is dropped.
    pub fn spawn_worker(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.work_once(20).await {
                    tracing::warn!(error = %e, "voice worker pass failed");
                }
            }
        })
    }
}
