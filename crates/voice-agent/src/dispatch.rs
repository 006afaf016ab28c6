//! The tools (SPEC §3; seed 001 §18.4-18.5), one dispatcher for `POST /api/vapi/tools/<name>`
//! and for `tool-calls` on the webhook.
//!
//! Every tool runs for the organization the authenticated call resolved to; an organization or
//! tenant id in the arguments is ignored. A result is a JSON object the model reads (sent as a
//! single-line string, contracts/vapi.md §2.1); bad arguments, unknown appointments or a taken
//! slot are answered as a spoken, actionable `error`, never as an HTTP failure.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use db::OrgId;
use scheduling::{BookingRequest, BookingStep, SchedulingError, availability};
use serde_json::{Map, Value, json};
use vapi_client::{CallInfo, Destination, ToolCall};

use crate::tool_results::ToolCallLog;
use crate::{Base, VoiceError};

/// Said when something on our side failed (details are logged).
pub const SYSTEM_TROUBLE: &str = "Sorry, I couldn't reach our booking system just now. Would you like me to transfer you or have someone call you back?";

/// What a tool call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolReply {
    /// `Ok`: the result object; `Err`: the spoken error.
    pub outcome: Result<Value, String>,
    /// The seed's `speech` field: what the agent may say.
    pub speech: String,
    /// For `transferCall`: where the call goes, as a Vapi destination with the warm hand-off
    /// ([`warm_destination`]).
    pub transfer: Option<Value>,
}

impl ToolReply {
    fn ok(data: Value, speech: impl Into<String>) -> Self {
        Self {
            outcome: Ok(data),
            speech: speech.into(),
            transfer: None,
        }
    }

    pub(crate) fn err(spoken: impl Into<String>) -> Self {
        let spoken = spoken.into();
        Self {
            outcome: Err(spoken.clone()),
            speech: spoken,
            transfer: None,
        }
    }

    /// The single-line string Vapi receives as `result` or `error`.
    pub fn text(&self) -> Result<String, String> {
        match &self.outcome {
            Ok(data) => Ok(data.to_string()),
            Err(e) => Err(e.clone()),
        }
    }
}

fn arg<'a>(args: &'a Map<String, Value>, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| args.get(*n).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Reads `HH:MM`, `H:MM`, `HHMM`-less forms like `9am`, `9:30 pm`, `14:00`.
fn parse_time(input: &str) -> Option<NaiveTime> {
    let s = input.trim().to_ascii_lowercase().replace('.', "");
    let (body, pm, am) = if let Some(b) = s.strip_suffix("pm") {
        (b.trim().to_owned(), true, false)
    } else if let Some(b) = s.strip_suffix("am") {
        (b.trim().to_owned(), false, true)
    } else {
        (s.clone(), false, false)
    };
    let (h, m) = match body.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None => (body.parse::<u32>().ok()?, 0),
    };
    let h = match (am, pm) {
        (_, true) if h < 12 => h + 12,
        (true, _) if h == 12 => 0,
        _ => h,
    };
    NaiveTime::from_hms_opt(h, m, 0)
}

fn day_label(date: NaiveDate) -> String {
    date.format("%A %-d %B").to_string()
}

/// An instant in the clinic's zone, as the tools say and send it.
struct Local {
    /// `YYYY-MM-DD`.
    date: String,
    /// `HH:MM`.
    time: String,
    /// `Monday 7 January`.
    day: String,
}

fn local(t: DateTime<Utc>, tz: Tz) -> Local {
    let l = t.with_timezone(&tz);
    Local {
        date: l.format("%Y-%m-%d").to_string(),
        time: l.format("%H:%M").to_string(),
        day: day_label(l.date_naive()),
    }
}

fn speak_times(times: &[String]) -> String {
    match times {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The spoken form of a scheduling refusal, `None` for internal failures.
fn spoken(e: &SchedulingError, tz: Tz) -> Option<String> {
    Some(match e {
        SchedulingError::Invalid(m) => format!("I couldn't use that: {m}."),
        SchedulingError::NotFound(what) => format!("I couldn't find that {what}."),
        SchedulingError::Unavailable(m) => format!("{m}. Could we try another time?"),
        SchedulingError::SlotTaken { alternatives } if alternatives.is_empty() => {
            "That time was just taken and nothing else is free nearby. Could we try another day?"
                .into()
        }
        SchedulingError::SlotTaken { alternatives } => {
            let times: Vec<String> = alternatives
                .iter()
                .map(|t| {
                    let l = local(*t, tz);
                    format!("{} at {}", l.day, l.time)
                })
                .collect();
            format!(
                "That time was just taken. The nearest free times are {}. Would one of those work?",
                speak_times(&times)
            )
        }
        SchedulingError::InvalidTransition { from, .. } => {
            format!("That appointment is already {from}, so I can't change it.")
        }
        SchedulingError::Crm(crm::CrmError::Invalid(m)) => format!("I couldn't use that: {m}."),
        SchedulingError::Crm(crm::CrmError::NotFound(what)) => {
            format!("I couldn't find that {what}.")
        }
        _ => return None,
    })
}

/// A voice step's failure inside a booking transaction, as the scheduler's error.
fn in_booking(e: VoiceError) -> SchedulingError {
    match e {
        VoiceError::Db(e) => SchedulingError::Db(e),
        VoiceError::Crm(e) => SchedulingError::Crm(e),
        VoiceError::Scheduling(e) => e,
        other => SchedulingError::Step(other.to_string()),
    }
}

fn trouble(e: &dyn std::fmt::Display) -> ToolReply {
    tracing::error!(error = %e, "tool call failed");
    ToolReply::err(SYSTEM_TROUBLE)
}

/// Said when the knowledge base has nothing on a question.
pub const NOT_IN_KNOWLEDGE_BASE: &str =
    "I don't have that information. Would you like me to transfer you to the team?";

/// The `getKnowledgeBase` result (seed 001 §6a "Tool Call Flow"): `{success: true, found,
/// chunkCount, context, message}`, where `context` holds at most 2000 characters of the
/// organization's knowledge (empty when nothing was found).
#[must_use]
pub fn knowledge_result(found: &rag::Retrieval) -> Value {
    let n = found.chunks.len();
    json!({
        "success": true,
        "found": found.found(),
        "chunkCount": n,
        "context": found.context,
        "message": match n {
            0 => "No relevant entries in the knowledge base".to_owned(),
            1 => "Found 1 relevant entry".to_owned(),
            n => format!("Found {n} relevant entries"),
        },
    })
}

/// A scheduling failure as a reply: spoken when the caller can act on it, else logged.
fn refused(e: &SchedulingError, tz: Tz) -> ToolReply {
    spoken(e, tz).map_or_else(|| trouble(e), ToolReply::err)
}

/// The tool dispatcher: runs the assistant's tool calls for an organization. Reached through
/// `VoiceAgent::dispatcher`.
#[derive(Debug, Clone)]
pub struct ToolDispatcher {
    /// The database, Live Call Control for transfers, the organization's time zone.
    base: Base,
    knowledge: Arc<rag::KnowledgeBase>,
    /// Each tool call with an effect run once.
    tool_calls: ToolCallLog,
}

/// The arguments a rescheduling or cancelling tool call may name the caller's current
/// appointment by, the first present winning: our tool definitions ([`crate::tools`]) ask for
/// `currentDate`/`currentTime` in `rescheduleAppointment` and `appointmentDate`/`appointmentTime`
/// in `cancelAppointment`; the other pair and a plain `date`/`time` are accepted too.
#[derive(Debug, Clone, Copy)]
struct AppointmentNames {
    dates: &'static [&'static str],
    times: &'static [&'static str],
}

/// The names a reschedule's current appointment comes by.
const RESCHEDULED: AppointmentNames = AppointmentNames {
    dates: &["currentDate", "appointmentDate", "date"],
    times: &["currentTime", "appointmentTime", "time"],
};

/// The names a cancellation's appointment comes by.
const CANCELLED: AppointmentNames = AppointmentNames {
    dates: &["appointmentDate", "currentDate", "date"],
    times: &["appointmentTime", "currentTime", "time"],
};

impl ToolDispatcher {
    pub(crate) fn new(base: Base, knowledge: Arc<rag::KnowledgeBase>) -> Self {
        Self {
            tool_calls: ToolCallLog::new(base.db.clone()),
            base,
            knowledge,
        }
    }

    /// Runs the calls of one message in order (one reply each).
    pub async fn run_tools(
        &self,
        org: OrgId,
        call: &CallInfo,
        tools: &[ToolCall],
        now: DateTime<Utc>,
    ) -> Vec<ToolReply> {
        let mut replies = Vec::with_capacity(tools.len());
        for tool in tools {
            replies.push(self.run_tool(org, call, tool, now).await);
        }
        replies
    }

    /// Runs one tool call for `org` (resolved from the authenticated call). A tool with an
    /// effect runs once per `toolCallId`; a repeated delivery gets the first reply
    /// ([`crate::tool_results`]).
    pub async fn run_tool(
        &self,
        org: OrgId,
        call: &CallInfo,
        tool: &ToolCall,
        now: DateTime<Utc>,
    ) -> ToolReply {
        let effectful = crate::tool_results::EFFECTFUL_TOOLS.contains(&tool.name.as_str());
        if tool.id.is_empty() || !effectful {
            return self.run_tool_now(org, call, tool, now).await;
        }
        self.tool_calls
            .once_per_tool_call(org, &tool.id, &tool.name, async || {
                self.run_tool_now(org, call, tool, now).await
            })
            .await
    }

    async fn run_tool_now(
        &self,
        org: OrgId,
        call: &CallInfo,
        tool: &ToolCall,
        now: DateTime<Utc>,
    ) -> ToolReply {
        let args = match &tool.arguments {
            Ok(args) => args,
            Err(_) => {
                return ToolReply::err(
                    "I couldn't read the details for that request. Could you say them again?",
                );
            }
        };
        match tool.name.as_str() {
            "checkAvailability" => self.check_availability(org, args, now).await,
            "lookupCaller" => self.lookup_caller(org, args).await,
            "transferCall" => self.transfer(org, call, args, now).await,
            "getKnowledgeBase" => self.knowledge_base(org, args).await,
            // Only these read local dates and times from the caller before calling the scheduler.
            name @ ("bookClinicAppointment" | "rescheduleAppointment" | "cancelAppointment") => {
                let tz = match self.base.time_zone(org).await {
                    Ok(tz) => tz,
                    Err(e) => return trouble(&e),
                };
                match name {
                    "bookClinicAppointment" => self.book(org, call, args, tz, now).await,
                    "rescheduleAppointment" => self.reschedule(org, call, args, tz, now).await,
                    _ => self.cancel(org, call, args, tz, now).await,
                }
            }
            other => {
                tracing::warn!(tool = %other, "unknown tool called");
                ToolReply::err("I can't do that on this line. Would you like me to transfer you?")
            }
        }
    }

    /// Documents for Vapi's `knowledge-base-request` (contracts/vapi.md §2.5): the chunks
    /// retrieval returns for the caller's last words, as `(content, similarity, chunk id)`. An
    /// empty query or a failure (logged) gives none, so the call goes on without context.
    pub async fn knowledge_documents(&self, org: OrgId, query: &str) -> Vec<(String, f32, String)> {
        if query.trim().is_empty() {
            return Vec::new();
        }
        match self.knowledge.retrieve(org, query).await {
            Ok(found) => found
                .chunks
                .into_iter()
                .map(|c| (c.text(), c.similarity, c.id.to_string()))
                .collect(),
            Err(e) => {
                tracing::warn!(org_id = %org, error = %e, "knowledge-base request failed");
                Vec::new()
            }
        }
    }

    /// `getKnowledgeBase {query}`: the organization's knowledge for the caller's question, in
    /// the seed's shape ([`knowledge_result`]).
    async fn knowledge_base(&self, org: OrgId, args: &Map<String, Value>) -> ToolReply {
        let Some(query) = arg(args, &["query", "question", "q"]) else {
            return ToolReply::err("What would you like to know? Could you ask that again?");
        };
        match self.knowledge.retrieve(org, query).await {
            Ok(found) => {
                let speech = if found.found() {
                    found.context.chars().take(500).collect()
                } else {
                    NOT_IN_KNOWLEDGE_BASE.to_owned()
                };
                ToolReply::ok(knowledge_result(&found), speech)
            }
            Err(e) => {
                tracing::warn!(org_id = %org, error = %e, "knowledge-base search failed");
                ToolReply::err(
                    "I can't look that up just now. Would you like me to transfer you to the team?",
                )
            }
        }
    }

    async fn check_availability(
        &self,
        org: OrgId,
        args: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> ToolReply {
        let Some(date) = arg(args, &["date", "appointmentDate"]) else {
            return ToolReply::err(
                "Which date would you like? Please give it as year, month and day.",
            );
        };
        let service = arg(args, &["serviceType", "service"]).map(str::to_owned);
        match self
            .base
            .scheduler
            .availability(org, date, None, service, now)
            .await
        {
            Ok(day) => {
                let tz = day.time_zone;
                let slots: Vec<String> = day.slots.iter().map(|t| local(*t, tz).time).collect();
                let speech = if slots.is_empty() {
                    format!(
                        "There are no free times on {}. Would another day work?",
                        day_label(day.date)
                    )
                } else {
                    format!(
                        "On {} I have {}.",
                        day_label(day.date),
                        speak_times(&slots[..slots.len().min(6)])
                    )
                };
                ToolReply::ok(
                    json!({
                        "success": true,
                        "date": day.date.format("%Y-%m-%d").to_string(),
                        "timeZone": tz.name(),
                        "durationMinutes": day.duration_minutes,
                        "available": !slots.is_empty(),
                        "slots": slots,
                        "message": speech,
                    }),
                    speech,
                )
            }
            // Availability never answers `SlotTaken`, the one refusal that names times.
            Err(e) => refused(&e, chrono_tz::UTC),
        }
    }

    fn start_time(
        args: &Map<String, Value>,
        dates: &[&str],
        times: &[&str],
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, String> {
        let date = arg(args, dates).ok_or("Which date would you like?")?;
        let date = availability::resolve_date(date, tz, now)
            .map_err(|_| "I need the date as year, month and day, like 2026-11-24.".to_owned())?;
        let time = arg(args, times).ok_or("What time would you like?")?;
        let time = parse_time(time)
            .ok_or_else(|| "I need the time as hours and minutes, like 14:30.".to_owned())?;
        availability::local_to_utc(tz, date.and_time(time))
            .ok_or_else(|| "That time doesn't exist on that day because of the clock change. Could we pick another?".to_owned())
    }

    async fn book(
        &self,
        org: OrgId,
        call: &CallInfo,
        args: &Map<String, Value>,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> ToolReply {
        let start = match Self::start_time(
            args,
            &["appointmentDate", "date"],
            &["appointmentTime", "time"],
            tz,
            now,
        ) {
            Ok(t) => t,
            Err(spoken) => return ToolReply::err(spoken),
        };
        let Some(name) = arg(args, &["customerName", "name"]) else {
            return ToolReply::err("May I have your full name for the booking?");
        };
        let Some(phone) = arg(args, &["customerPhone", "phone"])
            .map(str::to_owned)
            .or_else(|| call.customer_number.clone())
        else {
            return ToolReply::err("What's the best phone number for the booking?");
        };
        let request = BookingRequest {
            customer_name: name.to_owned(),
            customer_phone: phone,
            customer_email: arg(args, &["customerEmail", "email"]).map(str::to_owned),
            service_id: None,
            service_name: arg(args, &["serviceType", "service"]).map(str::to_owned),
            scheduled_time: start,
            notes: arg(args, &["notes"]).map(str::to_owned),
            source: "voice_agent",
        };
        // The call is marked as booked in the booking's own transaction (issue 21).
        let call = call.clone();
        let mark: Arc<BookingStep> = Arc::new(move |c, _| {
            let call = call.clone();
            Box::pin(async move {
                crate::calls::mark_booked(c, &call)
                    .await
                    .map_err(in_booking)
            })
        });
        match self.base.scheduler.book_with(org, request, now, mark).await {
            Ok(appt) => {
                let at = local(appt.scheduled_time, tz);
                let speech = format!(
                    "You're booked{} for {} at {}.",
                    appt.service_name
                        .as_deref()
                        .map(|s| format!(" for {s}"))
                        .unwrap_or_default(),
                    at.day,
                    at.time
                );
                ToolReply::ok(
                    json!({
                        "success": true,
                        "appointmentId": appt.id,
                        "status": appt.status,
                        "date": at.date,
                        "time": at.time,
                        "service": appt.service_name,
                        "message": speech,
                    }),
                    speech,
                )
            }
            Err(e) => refused(&e, tz),
        }
    }

    /// The caller's live appointment named by id, or by date (and time) under their phone.
    async fn find_appointment(
        &self,
        org: OrgId,
        call: &CallInfo,
        args: &Map<String, Value>,
        names: AppointmentNames,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<scheduling::appointments::Appointment, ToolReply> {
        let phone = arg(args, &["customerPhone", "phone"])
            .map(str::to_owned)
            .or_else(|| call.customer_number.clone())
            .and_then(|p| crm::normalize_phone(&p, crm::DEFAULT_COUNTRY_CODE).ok())
            .ok_or_else(|| ToolReply::err("What phone number was the appointment booked under?"))?;
        let id = arg(args, &["appointmentId", "id"]).and_then(|s| uuid::Uuid::parse_str(s).ok());
        let (day, at) = match id {
            Some(_) => (None, None),
            None => {
                let date = arg(args, names.dates).ok_or_else(|| {
                    ToolReply::err("What date is the appointment you'd like to change?")
                })?;
                let date = availability::resolve_date(date, tz, now).map_err(|_| {
                    ToolReply::err("I need the appointment's date as year, month and day.")
                })?;
                let at = arg(args, names.times)
                    .and_then(parse_time)
                    .and_then(|t| availability::local_to_utc(tz, date.and_time(t)));
                (Some(availability::day_bounds(tz, date)), at)
            }
        };
        let said = scheduling::appointments::CallerAppointment { phone, id, day, at };
        let found = self
            .base
            .db
            .tenant(org, async move |tx| {
                scheduling::appointments::open_for_caller(tx, &said)
                    .await
                    .map_err(VoiceError::from)
            })
            .await
            .map_err(|e| trouble(&e))?;
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ToolReply::err(
                "I couldn't find an upcoming appointment under that phone number on that day. Could you check the date?",
            )),
            _ => Err(ToolReply::err(
                "You have more than one appointment that day. Which time is the one you mean?",
            )),
        }
    }

    async fn reschedule(
        &self,
        org: OrgId,
        call: &CallInfo,
        args: &Map<String, Value>,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> ToolReply {
        let new_start = match Self::start_time(args, &["newDate"], &["newTime"], tz, now) {
            Ok(t) => t,
            Err(spoken) => return ToolReply::err(spoken),
        };
        let appt = match self
            .find_appointment(org, call, args, RESCHEDULED, tz, now)
            .await
        {
            Ok(a) => a,
            Err(reply) => return reply,
        };
        match self
            .base
            .scheduler
            .reschedule(org, appt.id, new_start, now)
            .await
        {
            Ok(moved) => {
                let at = local(moved.scheduled_time, tz);
                let speech = format!("Done. Your appointment is now {} at {}.", at.day, at.time);
                ToolReply::ok(
                    json!({
                        "success": true,
                        "appointmentId": moved.id,
                        "date": at.date,
                        "time": at.time,
                        "message": speech,
                    }),
                    speech,
                )
            }
            Err(e) => refused(&e, tz),
        }
    }

    async fn cancel(
        &self,
        org: OrgId,
        call: &CallInfo,
        args: &Map<String, Value>,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> ToolReply {
        let appt = match self
            .find_appointment(org, call, args, CANCELLED, tz, now)
            .await
        {
            Ok(a) => a,
            Err(reply) => return reply,
        };
        match self.base.scheduler.cancel(org, appt.id).await {
            Ok(cancelled) => {
                let at = local(cancelled.scheduled_time, tz);
                let speech = format!(
                    "Your appointment on {} at {} is cancelled.",
                    at.day, at.time
                );
                ToolReply::ok(
                    json!({"success": true, "appointmentId": cancelled.id, "status": cancelled.status, "message": speech}),
                    speech,
                )
            }
            Err(e) => refused(&e, tz),
        }
    }

    /// `lookupCaller`: the three response cases of seed 001 §18.4.3.
    async fn lookup_caller(&self, org: OrgId, args: &Map<String, Value>) -> ToolReply {
        let Some(key) = arg(args, &["searchKey", "query"]).map(str::to_owned) else {
            return ToolReply::err("What name, phone number or email should I look up?");
        };
        let kind = arg(args, &["searchType", "type"])
            .unwrap_or(if key.contains('@') { "email" } else { "name" })
            .to_ascii_lowercase();
        let phone = if kind == "phone" {
            match crm::normalize_phone(&key, crm::DEFAULT_COUNTRY_CODE) {
                Ok(p) => Some(p),
                Err(_) => {
                    return ToolReply::err(
                        "That doesn't sound like a full phone number. Could you say it again with the area code?",
                    );
                }
            }
        } else {
            None
        };
        if !["phone", "email", "name"].contains(&kind.as_str()) {
            return ToolReply::err("I can look people up by phone, email or name.");
        }
        let found = self
            .base
            .db
            .tenant(org, async move |tx| {
                let key = match (kind.as_str(), phone) {
                    (_, Some(p)) => crm::contacts::CallerKey::Phone(p),
                    ("email", _) => crm::contacts::CallerKey::Email(key),
                    _ => crm::contacts::CallerKey::Name(key),
                };
                crm::contacts::look_up(tx, &key)
                    .await
                    .map_err(VoiceError::from)
            })
            .await;
        let found = match found {
            Ok(f) => f,
            Err(e) => return trouble(&e),
        };
        lookup_reply(&found)
    }

    /// Where a transfer to `department` goes: that department's destination, else the
    /// default (seed 001 §18.4.2).
    ///
    /// # Errors
    /// [`VoiceError::Db`].
    pub async fn transfer_destination(
        &self,
        org: OrgId,
        department: Option<&str>,
    ) -> Result<Option<Destination>, VoiceError> {
        let settings = self
            .base
            .db
            .tenant(org, async |tx| crate::agents::settings(tx).await)
            .await?;
        let by_department = department.map(|d| d.trim().to_lowercase()).and_then(|d| {
            settings
                .transfer_departments
                .get(&d)
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        Ok(by_department.or(settings.transfer_default).map(|d| {
            if d.starts_with("sip") {
                Destination::Sip(d)
            } else {
                Destination::Number(d)
            }
        }))
    }

    /// Logs a transfer on the call.
    ///
    /// # Errors
    /// [`VoiceError::Db`].
    pub async fn log_transfer(
        &self,
        org: OrgId,
        call: &CallInfo,
        to: &Destination,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), VoiceError> {
        let (call, reason) = (call.clone(), reason.to_owned());
        let to = match to {
            Destination::Number(n) | Destination::Sip(n) => n.clone(),
        };
        self.base
            .db
            .tenant(org, async move |tx| {
                crate::calls::record_transfer(tx, &call, &to, &reason, at).await
            })
            .await
    }

    async fn transfer(
        &self,
        org: OrgId,
        call: &CallInfo,
        args: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> ToolReply {
        let department = arg(args, &["department"])
            .unwrap_or("general")
            .to_lowercase();
        let summary = arg(args, &["summary", "reason"]).unwrap_or("Caller asked for a person.");
        let destination = match self.transfer_destination(org, Some(&department)).await {
            Ok(Some(d)) => d,
            Ok(None) => {
                return ToolReply::err(
                    "I'm sorry, I can't transfer calls right now. Can I take a message and have someone call you back?",
                );
            }
            Err(e) => return trouble(&e),
        };
        if let Err(e) = self
            .log_transfer(org, call, &destination, summary, now)
            .await
        {
            tracing::warn!(error = %e, "transfer not logged");
        }
        let speech = format!("Transferring you to our {department} team now.");
        let vapi_destination = warm_destination(&destination, summary);
        if let (Some(url), Some(vapi)) = (
            call.control_url.clone(),
            self.base.account.vapi().ok().cloned(),
        ) {
            let message =
                json!({"type": "transfer", "destination": vapi_destination, "content": speech});
            tokio::spawn(async move {
                if let Err(e) = vapi.call_control(&url, &message).await {
                    crate::log_vapi("live call control transfer", &e);
                }
            });
        }
        let mut reply = ToolReply::ok(
            json!({
                "success": true,
                "department": department,
                "destination": vapi_destination,
                "message": speech,
            }),
            speech,
        );
        reply.transfer = Some(vapi_destination);
        reply
    }
}

/// A Vapi transfer destination with a warm hand-off: the summary is said to the person who
/// answers before the caller is connected (`transferPlan.mode = warm-transfer-say-message`).
#[must_use]
pub fn warm_destination(destination: &Destination, summary: &str) -> Value {
    let plan = json!({"mode": "warm-transfer-say-message", "message": vapi_client::responses::single_line(summary)});
    match destination {
        Destination::Number(n) => json!({"type": "number", "number": n, "transferPlan": plan}),
        Destination::Sip(uri) => json!({"type": "sip", "sipUri": uri, "transferPlan": plan}),
    }
}

/// The answer to `lookupCaller` for the contacts `found`: none, one (greeted by first name) or
/// several (asked which email is theirs); seed 001 §18.4.3.
fn lookup_reply(found: &[crm::contacts::Contact]) -> ToolReply {
    match found {
        [] => {
            let message = "No matching contact found. Would you like to create a new account?";
            ToolReply::ok(
                json!({"found": false, "message": message}),
                "I don't see you in our system yet.",
            )
        }
        [c] => {
            let first = c
                .name
                .split_whitespace()
                .next()
                .unwrap_or(&c.name)
                .to_owned();
            let speech = format!("Found you, {first}!");
            ToolReply::ok(
                json!({
                    "found": true,
                    "contact": {
                        "id": c.id, "name": c.name, "email": c.email, "phone": c.phone,
                        "lead_status": c.lead_status, "last_contacted_at": c.last_contacted_at,
                    },
                    "speech": speech,
                }),
                speech,
            )
        }
        many => {
            let speech = format!(
                "I found {} people named like that. Which email is yours?",
                many.len()
            );
            ToolReply::ok(
                json!({
                    "found": false,
                    "multipleMatches": true,
                    "contacts": many.iter().map(|c| json!({"name": c.name, "email": c.email})).collect::<Vec<_>>(),
                    "speech": speech,
                }),
                speech,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_the_forms_callers_and_models_use() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        assert_eq!(parse_time("14:30"), t(14, 30));
        assert_eq!(parse_time("9:05"), t(9, 5));
        assert_eq!(parse_time("9am"), t(9, 0));
        assert_eq!(parse_time("2:15 p.m."), t(14, 15));
        assert_eq!(parse_time("12 am"), t(0, 0));
        assert_eq!(parse_time("25:00"), None);
        assert_eq!(parse_time("noonish"), None);
    }

    #[test]
    fn times_are_listed_as_speech() {
        assert_eq!(speak_times(&["09:00".into()]), "09:00");
        assert_eq!(
            speak_times(&["09:00".into(), "09:30".into(), "10:00".into()]),
            "09:00, 09:30 and 10:00"
        );
    }

    #[test]
    fn a_taken_slot_offers_its_alternatives_in_local_time() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let alt = "2026-11-24T15:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let text = spoken(
            &SchedulingError::SlotTaken {
                alternatives: vec![alt],
            },
            tz,
        )
        .unwrap();
        assert!(text.contains("Tuesday 24 November at 10:30"), "{text}");
    }

    #[test]
    fn warm_destinations_carry_the_summary_on_one_line() {
        let d = warm_destination(
            &Destination::Number("+14155550100".into()),
            "Jane\nwants billing",
        );
        assert_eq!(d["number"], "+14155550100");
        assert_eq!(d["transferPlan"]["message"], "Jane wants billing");
        let s = warm_destination(&Destination::Sip("sip:desk@clinic.example".into()), "x");
        assert_eq!(s["sipUri"], "sip:desk@clinic.example");
    }
}
