//! `loadgen demo`: a realistic day of two clinics, replayed through the gateway's public HTTP
//! and WebSocket interfaces only, in the providers' wire formats (see [`crate::wire`]), then
//! checked the way a clinic owner would check it.
//!
//! Each clinic: staff and CRM WebSocket clients connect; inbound Vapi calls run
//! `assistant-request` → `status-update` → `transcript` → `tool-calls` (lookup, availability,
//! booking, a knowledge-base question, a warm transfer) → `end-of-call-report`, with reports
//! and status updates out of order and duplicated as Vapi may send them; four callers race for
//! one slot; a contact is called back (the request retried); Dialpad events for the CRM app
//! arrive signed, retried and out of order, with voicemails; forged and misrouted deliveries are
//! refused. Then: calls logged, appointments (no overlap), pipeline value, events per client,
//! and that no event crossed tenants. Any failed check makes the run fail.
// The demo-day scenario is an end-to-end test read as a script (each step checked in order);
// the 80-line limit is for product code.
#![allow(clippy::too_many_lines)]

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use serde_json::{Value, json};

use crate::api::Api;
use crate::clinic::{Clinic, ClinicSpec, expect};
use crate::fakes::FakeProviders;
use crate::gateway::GatewayProcess;
use crate::wire::{self, VapiCall};
use crate::ws::Listener;

/// What happens on one inbound call after the caller is identified.
#[derive(Debug, Clone)]
enum Visit {
    /// Asks for `time` and books `service` then.
    Book {
        service: &'static str,
        time: &'static str,
    },
    /// Asks for a `time` another caller already has, and takes the first free time after it.
    Contested {
        service: &'static str,
        time: &'static str,
    },
    /// Asks the knowledge base; the answer must contain `fact`. A question naming a service
    /// (by name or keyword, "injections" is Botox) gives the call that service's value.
    Question {
        question: &'static str,
        fact: &'static str,
        mentions: Option<&'static str>,
    },
    /// Wants `department`; the call is warm-transferred to `destination`.
    Transfer {
        department: &'static str,
        destination: &'static str,
    },
}

/// The order the last messages of a call arrive in (contracts/vapi.md §6: `status-update(ended)`
/// and `end-of-call-report` come in either order, and may repeat).
#[derive(Debug, Clone, Copy)]
enum Ending {
    InOrder,
    ReportFirst,
    Duplicated,
}

struct InboundCall {
    caller: &'static str,
    name: &'static str,
    visit: Visit,
    ending: Ending,
}

/// What a finished call contributed, for the expected totals.
struct CallResult {
    vapi_call_id: String,
    booked: bool,
    /// The service the conversation named (its price is the call's value).
    service: Option<&'static str>,
    transcripts: usize,
}

/// One check a clinic owner would make.
struct Check {
    name: String,
    ok: bool,
    detail: String,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
    lines: Vec<String>,
}

impl Report {
    fn check(&mut self, name: impl Into<String>, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            ok,
            detail: detail.into(),
        });
    }

    fn line(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }
}

const SUNRISE_KB: &str = "# Sunrise Aesthetics: patient information\n\n\
## Parking\nFree parking is available behind the clinic on Harbor Lane; the barrier code is 4411.\n\n\
## Aftercare\nAvoid exercise, saunas and alcohol for 24 hours after an injection appointment. Mild swelling settles within two days.\n\n\
## Payment\nWe take cards and bank transfers. A deposit of 50 dollars secures a first visit and is refunded with 48 hours' notice.\n";

const LAKESIDE_KB: &str = "# Lakeside Cosmetic Surgery: patient information\n\n\
## Parking\nLakeside has no private car park; patients use the Lakeside Mall garage on Elm Street, level 2, validated at reception.\n\n\
## Recovery\nPlan two weeks away from work after surgery. A nurse phones every patient the morning after an operation.\n\n\
## Payment\nFinance plans over 12 months are available; ask the coordinator for the application form.\n";

fn sunrise() -> ClinicSpec {
    ClinicSpec {
        name: "Sunrise Aesthetics",
        slug: "sunrise-aesthetics",
        twilio_account: "ACa1b2c3d4e5f60718a1b2c3d4e5f60718",
        number: "+14155550100",
        transfer_departments: json!({"billing": "sip:billing@sunrise-aesthetics.example", "medical": "+14155550109"}),
        knowledge_base: SUNRISE_KB.into(),
        dialpad_users: &[(710_001, "crm_ana"), (710_002, "crm_ben")],
    }
}

fn lakeside() -> ClinicSpec {
    ClinicSpec {
        name: "Lakeside Cosmetic Surgery",
        slug: "lakeside-cosmetic",
        twilio_account: "AC0f1e2d3c4b5a69780f1e2d3c4b5a6978",
        number: "+13125550200",
        transfer_departments: json!({"billing": "+13125550209"}),
        knowledge_base: LAKESIDE_KB.into(),
        dialpad_users: &[(820_001, "crm_cara")],
    }
}

fn sunrise_day() -> Vec<InboundCall> {
    use Ending::{Duplicated, InOrder, ReportFirst};
    use Visit::{Book, Contested, Question, Transfer};
    vec![
        InboundCall {
            caller: "+14155551001",
            name: "Maria Lopez",
            visit: Book {
                service: "Botox",
                time: "09:00",
            },
            ending: InOrder,
        },
        InboundCall {
            caller: "+14155551002",
            name: "James Carter",
            visit: Book {
                service: "Fillers",
                time: "10:00",
            },
            ending: ReportFirst,
        },
        InboundCall {
            caller: "+14155551003",
            name: "Aisha Khan",
            visit: Question {
                question: "Where can I park when I come in?",
                fact: "Harbor Lane",
                mentions: None,
            },
            ending: InOrder,
        },
        InboundCall {
            caller: "+14155551004",
            name: "Tom Becker",
            visit: Contested {
                service: "Consultation",
                time: "09:00",
            },
            ending: Duplicated,
        },
        InboundCall {
            caller: "+14155551005",
            name: "Grace Liu",
            visit: Transfer {
                department: "billing",
                destination: "sip:billing@sunrise-aesthetics.example",
            },
            ending: InOrder,
        },
        InboundCall {
            caller: "+14155551006",
            name: "Noah Smith",
            visit: Book {
                service: "Facelift",
                time: "13:00",
            },
            ending: Duplicated,
        },
        InboundCall {
            caller: "+14155551007",
            name: "Emma Davis",
            visit: Question {
                question: "What should I avoid after my injections?",
                fact: "24 hours",
                mentions: Some("Botox"),
            },
            ending: ReportFirst,
        },
    ]
}

fn lakeside_day() -> Vec<InboundCall> {
    use Ending::{Duplicated, InOrder, ReportFirst};
    use Visit::{Book, Question, Transfer};
    vec![
        InboundCall {
            caller: "+13125552001",
            name: "Olivia Brown",
            visit: Book {
                service: "Rhinoplasty",
                time: "09:00",
            },
            ending: InOrder,
        },
        InboundCall {
            caller: "+13125552002",
            name: "Liam Wilson",
            visit: Question {
                question: "Where do I park for my appointment?",
                fact: "Elm Street",
                mentions: None,
            },
            ending: Duplicated,
        },
        InboundCall {
            caller: "+13125552003",
            name: "Sofia Garcia",
            visit: Book {
                service: "Liposuction",
                time: "11:00",
            },
            ending: ReportFirst,
        },
        InboundCall {
            caller: "+13125552004",
            name: "Ethan Moore",
            visit: Transfer {
                department: "billing",
                destination: "+13125550209",
            },
            ending: InOrder,
        },
    ]
}

/// The clinic's day, in the clinic's time zone: a week from today.
fn day() -> String {
    (chrono::Utc::now() + chrono::Duration::days(7))
        .format("%Y-%m-%d")
        .to_string()
}

/// Posts a Vapi server message and answers its JSON reply.
async fn vapi(api: &Api, secret: &str, route: &str, message: &Value) -> anyhow::Result<Value> {
    let reply = api
        .post_raw(
            route,
            "application/json",
            message.to_string(),
            &[("x-vapi-secret", secret)],
        )
        .await?;
    expect(route, reply, 200)
}

struct Ctx<'a> {
    api: &'a Api,
    secret: &'a str,
}

impl Ctx<'_> {
    /// An inbound call from `caller` begins: Vapi's `assistant-request`, answered. Returns the
    /// answer and the call as Vapi then describes it (the clinic's inbound assistant, with the
    /// metadata our answer gave it).
    async fn answer(
        &self,
        clinic: &Clinic,
        id: &str,
        caller: &str,
    ) -> anyhow::Result<(Value, VapiCall)> {
        let answer = self
            .message(&wire::assistant_request(
                id,
                &clinic.phone_number_id,
                clinic.number,
                caller,
            ))
            .await?;
        let call = VapiCall {
            id: id.to_owned(),
            assistant_id: clinic.inbound_assistant.clone(),
            phone_number_id: clinic.phone_number_id.clone(),
            customer: caller.to_owned(),
            customer_name: None,
            kind: "inboundPhoneCall",
            metadata: answer["assistantOverrides"]["metadata"].clone(),
            started_at: None,
        };
        Ok((answer, call))
    }

    async fn message(&self, message: &Value) -> anyhow::Result<Value> {
        vapi(self.api, self.secret, "/api/vapi/webhook", message).await
    }

    async fn tool(
        &self,
        call: &VapiCall,
        n: &mut usize,
        name: &str,
        args: &Value,
    ) -> anyhow::Result<Value> {
        *n += 1;
        let id = format!("{}-tool-{n}", call.id);
        // Half the tool calls use the tool's own server URL, half the assistant's webhook.
        let route = if n.is_multiple_of(2) {
            format!("/api/vapi/tools/{name}")
        } else {
            "/api/vapi/webhook".into()
        };
        let reply = vapi(
            self.api,
            self.secret,
            &route,
            &wire::tool_calls(call, &id, name, args),
        )
        .await?;
        ensure!(
            reply["results"][0]["toolCallId"] == id.as_str(),
            "{name}: reply for another tool call: {reply}"
        );
        Ok(reply)
    }
}

/// A clinic's day of inbound calls, one after another (call ids `<prefix>-call-NN`).
async fn replay(
    ctx: &Ctx<'_>,
    clinic: &Clinic,
    prefix: &str,
    day: &[InboundCall],
    report: &mut Report,
) -> anyhow::Result<Vec<CallResult>> {
    let mut out = Vec::new();
    for (i, plan) in day.iter().enumerate() {
        out.push(inbound(ctx, clinic, format!("{prefix}-call-{i:02}"), plan, report).await?);
    }
    Ok(out)
}

/// One inbound call from ring to report.
async fn inbound(
    ctx: &Ctx<'_>,
    clinic: &Clinic,
    id: String,
    plan: &InboundCall,
    report: &mut Report,
) -> anyhow::Result<CallResult> {
    let (answer, call) = ctx.answer(clinic, &id, plan.caller).await?;
    report.check(
        format!("{}: {id} routed to the clinic's assistant", clinic.name),
        answer["assistantId"] == clinic.inbound_assistant.as_str(),
        answer.to_string(),
    );
    ctx.message(&wire::status_update(&call, "ringing", None))
        .await?;
    ctx.message(&wire::status_update(&call, "in-progress", None))
        .await?;
    let mut said = vec![(
        "assistant",
        format!("Thank you for calling {}, how can I help?", clinic.name),
    )];
    let mut tools = 0;
    let lookup = ctx
        .tool(
            &call,
            &mut tools,
            "lookupCaller",
            &json!({"searchKey": plan.caller, "searchType": "phone"}),
        )
        .await?;
    ensure!(
        lookup["results"][0]["result"].is_string(),
        "lookupCaller: {lookup}"
    );
    let date = day();
    let (booked, service) = match &plan.visit {
        Visit::Book { service, time } | Visit::Contested { service, time } => {
            said.push((
                "user",
                format!(
                    "Hi, this is {}. I'd like to book {service} at {time} next week.",
                    plan.name
                ),
            ));
            let mut booked = book(ctx, &call, &mut tools, plan, service, &date, time).await?;
            if matches!(plan.visit, Visit::Contested { .. }) {
                report.check(
                    format!("{}: {id} cannot take {time}, already booked", clinic.name),
                    booked.is_none(),
                    format!("{booked:?}"),
                );
                let free = wire::tool_result(
                    &ctx.tool(
                        &call,
                        &mut tools,
                        "checkAvailability",
                        &json!({"date": date}),
                    )
                    .await?,
                );
                let next = free["slots"]
                    .as_array()
                    .and_then(|s| s.iter().filter_map(Value::as_str).find(|t| *t > *time))
                    .context("no free time after the contested one")?
                    .to_owned();
                said.push((
                    "assistant",
                    format!("That time was just taken; I can offer {next}."),
                ));
                booked = book(ctx, &call, &mut tools, plan, service, &date, &next).await?;
            }
            said.push((
                "assistant",
                format!("You're booked for {service}. See you next week!"),
            ));
            report.check(
                format!("{}: {id} booked {service}", clinic.name),
                booked.is_some(),
                format!("{booked:?}"),
            );
            (booked.is_some(), Some(*service))
        }
        Visit::Question {
            question,
            fact,
            mentions,
        } => {
            said.push(("user", (*question).to_owned()));
            let reply = ctx
                .tool(
                    &call,
                    &mut tools,
                    "getKnowledgeBase",
                    &json!({"query": question}),
                )
                .await?;
            let answer = wire::tool_result(&reply);
            let context = answer["context"].as_str().unwrap_or_default().to_owned();
            report.check(
                format!(
                    "{}: {id} answered from its own knowledge base (\"{fact}\")",
                    clinic.name
                ),
                answer["found"] == true && context.contains(fact),
                context.chars().take(160).collect::<String>(),
            );
            said.push((
                "assistant",
                context.lines().next().unwrap_or_default().to_owned(),
            ));
            (false, *mentions)
        }
        Visit::Transfer {
            department,
            destination,
        } => {
            said.push((
                "user",
                format!("I have a question about my invoice, can I speak to {department}?"),
            ));
            let reply = ctx
                .tool(&call, &mut tools, "transferCall", &json!({"summary": format!("{} asks about an invoice", plan.name), "department": department}))
                .await?;
            let to = &reply["transfer"]["destination"];
            let got = to["sipUri"]
                .as_str()
                .or(to["number"].as_str())
                .unwrap_or_default();
            report.check(
                format!("{}: {id} warm-transferred to {department}", clinic.name),
                got == *destination && to["transferPlan"]["mode"] == "warm-transfer-say-message",
                to.to_string(),
            );
            ctx.message(&wire::status_update(&call, "forwarding", None))
                .await?;
            said.push((
                "assistant",
                "Transferring you to our billing team now.".into(),
            ));
            (false, None)
        }
    };
    for (role, text) in &said {
        ctx.message(&wire::transcript(&call, role, text)).await?;
    }
    let transcript: String = said.iter().fold(String::new(), |mut out, (role, text)| {
        let _ = writeln!(
            out,
            "{}: {text}",
            if *role == "user" { "User" } else { "AI" }
        );
        out
    });
    let summary = match (service, booked) {
        (Some(s), true) => format!("{} booked {s}.", plan.name),
        (Some(s), false) => format!("{} asked about {s}.", plan.name),
        (None, _) => format!("{} had a question.", plan.name),
    };
    let reason = if matches!(plan.visit, Visit::Transfer { .. }) {
        "assistant-forwarded-call"
    } else {
        "customer-ended-call"
    };
    let eocr = wire::end_of_call_report(&call, &transcript, &summary, 150, reason);
    let ended = wire::status_update(&call, "ended", Some(reason));
    let late = wire::status_update(&call, "in-progress", None);
    let sequence: Vec<&Value> = match plan.ending {
        Ending::InOrder => vec![&ended, &eocr],
        Ending::ReportFirst => vec![&eocr, &ended],
        Ending::Duplicated => vec![&eocr, &ended, &eocr, &late, &ended],
    };
    for message in sequence {
        ctx.message(message).await?;
    }
    Ok(CallResult {
        vapi_call_id: id,
        booked,
        service,
        transcripts: said.len(),
    })
}

/// Books through the tool; `Some(result)` when confirmed, `None` when the time was taken.
async fn book(
    ctx: &Ctx<'_>,
    call: &VapiCall,
    n: &mut usize,
    plan: &InboundCall,
    service: &str,
    date: &str,
    time: &str,
) -> anyhow::Result<Option<Value>> {
    let reply = ctx
        .tool(
            call,
            n,
            "bookClinicAppointment",
            &json!({
            "customerName": plan.name, "customerPhone": plan.caller, "appointmentDate": date,
            "appointmentTime": time, "serviceType": service}),
        )
        .await?;
    let result = wire::tool_result(&reply);
    Ok((result["success"] == true).then_some(result))
}

/// Four callers ask for the same time at the same moment: one gets it.
async fn race(
    ctx: &Ctx<'_>,
    clinic: &Clinic,
    report: &mut Report,
) -> anyhow::Result<Vec<CallResult>> {
    let callers = [
        "+14155551101",
        "+14155551102",
        "+14155551103",
        "+14155551104",
    ];
    let date = day();
    let attempts = callers.iter().enumerate().map(|(i, caller)| {
        let caller: &'static str = caller;
        let date = date.clone();
        async move {
            let id = format!("sunrise-race-{i}");
            let (_, call) = ctx.answer(clinic, &id, caller).await?;
            ctx.message(&wire::status_update(&call, "in-progress", None))
                .await?;
            let plan = InboundCall {
                caller,
                name: "Race Caller",
                visit: Visit::Book {
                    service: "Consultation",
                    time: "15:00",
                },
                ending: Ending::InOrder,
            };
            let mut n = 0;
            let booked = book(ctx, &call, &mut n, &plan, "Consultation", &date, "15:00")
                .await?
                .is_some();
            let text = format!(
                "User: I'd like a Consultation at 15:00.\nAI: {}",
                if booked {
                    "Booked."
                } else {
                    "That time was just taken."
                }
            );
            ctx.message(&wire::status_update(
                &call,
                "ended",
                Some("customer-ended-call"),
            ))
            .await?;
            ctx.message(&wire::end_of_call_report(
                &call,
                &text,
                "Race Caller asked about a Consultation.",
                60,
                "customer-ended-call",
            ))
            .await?;
            anyhow::Ok(CallResult {
                vapi_call_id: id,
                booked,
                service: Some("Consultation"),
                transcripts: 0,
            })
        }
    });
    let results: Vec<CallResult> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let winners = results.iter().filter(|r| r.booked).count();
    report.check(
        format!(
            "{}: four callers racing for 15:00 → exactly one booked",
            clinic.name
        ),
        winners == 1,
        format!("{winners} confirmed"),
    );
    Ok(results)
}

/// The clinic calls a contact back with its outbound agent; the request is retried twice.
async fn call_back(
    ctx: &Ctx<'_>,
    fakes: &FakeProviders,
    clinic: &Clinic,
    report: &mut Report,
) -> anyhow::Result<CallResult> {
    let api = ctx.api;
    let t = Some(clinic.token.as_str());
    let contact = expect(
        "adding a contact",
        api.post(
            "/api/contacts",
            t,
            &json!({"name": "Helen Park", "phone": "+14155551200"}),
        )
        .await?,
        201,
    )?;
    let contact_id = contact["contact"]["id"]
        .as_str()
        .or(contact["id"].as_str())
        .context("contact id")?
        .to_owned();
    let outbound = expect(
        "saving the outbound agent",
        api.send(
            "PUT",
            "/api/agents/outbound",
            t,
            &[],
            Some(&json!({"name": "Call-backs"})),
        )
        .await?,
        200,
    )?;
    let assistant = outbound["agent"]["vapi_assistant_id"]
        .as_str()
        .context("outbound assistant")?
        .to_owned();
    let route = format!("/api/contacts/{contact_id}/call-back");
    let before = fakes.requests("POST", "/call").await.len();
    let headers = [("idempotency-key", "call-back-helen-1")];
    let first = api.send("POST", &route, t, &headers, None).await?;
    let again = api.send("POST", &route, t, &headers, None).await?;
    let placed = fakes.requests("POST", "/call").await.len() - before;
    report.check(
        format!(
            "{}: call-back requested twice → one call placed",
            clinic.name
        ),
        first.status == 201
            && again.status == 200
            && placed == 1
            && first.body["vapiCallId"] == again.body["vapiCallId"],
        format!(
            "HTTP {} then {}, {placed} call(s) at Vapi",
            first.status, again.status
        ),
    );
    let vapi_id = first.body["vapiCallId"]
        .as_str()
        .context("vapiCallId")?
        .to_owned();
    let call = VapiCall {
        id: vapi_id.clone(),
        assistant_id: assistant,
        phone_number_id: clinic.phone_number_id.clone(),
        customer: "+14155551200".into(),
        customer_name: Some("Helen Park".into()),
        kind: "outboundPhoneCall",
        metadata: json!({"call_log_id": first.body["callId"]}),
        started_at: None,
    };
    for status in ["ringing", "in-progress"] {
        ctx.message(&wire::status_update(&call, status, None))
            .await?;
    }
    let lines = [
        "AI: Hi Helen, this is Sunrise Aesthetics returning your call about a Consultation.",
        "User: Thanks, I'll call back to book.",
    ];
    for (i, line) in lines.iter().enumerate() {
        ctx.message(&wire::transcript(
            &call,
            if i == 0 { "assistant" } else { "user" },
            line,
        ))
        .await?;
    }
    ctx.message(&wire::end_of_call_report(
        &call,
        &lines.join("\n"),
        "Helen Park discussed a Consultation.",
        90,
        "customer-ended-call",
    ))
    .await?;
    ctx.message(&wire::status_update(
        &call,
        "ended",
        Some("customer-ended-call"),
    ))
    .await?;
    Ok(CallResult {
        vapi_call_id: vapi_id,
        booked: false,
        service: Some("Consultation"),
        transcripts: lines.len(),
    })
}

/// A Dialpad call as the CRM app sees it: the deliveries (in arrival order) and the events its
/// clients must receive.
struct DialpadCall {
    call_id: i64,
    user: i64,
    deliveries: Vec<Value>,
    expected: Vec<&'static str>,
}

fn dialpad_calls(
    base_id: i64,
    caller: &str,
    number: &str,
    users: &[(i64, &str)],
    with_out_of_order: bool,
) -> Vec<DialpadCall> {
    let t0 = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let ev =
        |id, state, dt: i64, user| wire::dialpad_event(id, state, caller, number, t0 + dt, user);
    let mut calls = Vec::new();
    for (i, (user, _)) in users.iter().enumerate() {
        let id = base_id + i as i64 * 10;
        let ring = ev(id, "ringing", 0, *user);
        // Dialpad retries the ring once; both are acknowledged, one is delivered.
        calls.push(DialpadCall {
            call_id: id,
            user: *user,
            deliveries: vec![
                ring.clone(),
                ring,
                ev(id, "connected", 5_000, *user),
                ev(id, "hangup", 100_000, *user),
            ],
            expected: vec!["call.ring", "call.started", "call.ended"],
        });
    }
    let (user, _) = users[0];
    let missed = base_id + 1;
    calls.push(DialpadCall {
        call_id: missed,
        user,
        deliveries: vec![
            ev(missed, "ringing", 200_000, user),
            ev(missed, "hangup", 230_000, user),
            wire::dialpad_voicemail(
                missed,
                caller,
                number,
                t0 + 260_000,
                user,
                "Hi, it's about my appointment, please call me back.",
            ),
        ],
        expected: vec!["call.ring", "call.ended", "voicemail.received"],
    });
    if with_out_of_order {
        let late = base_id + 2;
        calls.push(DialpadCall {
            call_id: late,
            user,
            deliveries: vec![
                ev(late, "ringing", 300_000, user),
                ev(late, "hangup", 400_000, user),
                ev(late, "connected", 305_000, user),
            ],
            expected: vec!["call.ring", "call.ended"],
        });
    }
    calls
}

/// What one app client received: its name, its CRM-user filter (Dialpad id, CRM id) and the
/// events.
type Seen<'a> = (&'a str, Option<(i64, &'a str)>, Vec<Value>);

struct Clients {
    app: Listener,
    /// A client of the app filtered to one CRM user, with that user's Dialpad id.
    app_filtered: Option<(i64, &'static str, Listener)>,
    staff: Listener,
}

async fn clients(
    api: &Api,
    clinic: &Clinic,
    filtered_user: Option<(i64, &'static str)>,
) -> anyhow::Result<Clients> {
    let app = Listener::start(
        &format!("{} CRM app", clinic.name),
        &api.ws_url(&format!("?api_key={}", clinic.app_key)),
    )
    .await?;
    let app_filtered = match filtered_user {
        Some((dialpad_user, user)) => Some((
            dialpad_user,
            user,
            Listener::start(
                &format!("{} CRM app, {user} only", clinic.name),
                &api.ws_url(&format!("?api_key={}&crm_user_id={user}", clinic.app_key)),
            )
            .await?,
        )),
        None => None,
    };
    let staff = Listener::start(
        &format!("{} staff dashboard", clinic.name),
        &api.ws_url(&format!("?token={}", clinic.token)),
    )
    .await?;
    Ok(Clients {
        app,
        app_filtered,
        staff,
    })
}

async fn deliver_dialpad(
    api: &Api,
    clinic: &Clinic,
    calls: &[DialpadCall],
) -> anyhow::Result<usize> {
    let route = format!("/webhooks/dialpad/{}", clinic.app_id);
    let mut delivered = 0;
    for call in calls {
        for event in &call.deliveries {
            let body = wire::sign_dialpad(event, &clinic.dialpad_secret)?;
            expect(
                "a Dialpad delivery",
                api.post_raw(&route, "application/jwt", body, &[]).await?,
                200,
            )?;
            delivered += 1;
        }
    }
    Ok(delivered)
}

/// Counts of `event` names.
fn tally(events: &[Value], key: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        if let Some(name) = e[key].as_str() {
            *counts.entry(name.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

fn app_events(events: &[Value]) -> Vec<(String, i64)> {
    let mut got: Vec<(String, i64)> = events
        .iter()
        .filter_map(|e| Some((e["event"].as_str()?.to_owned(), e["call_id"].as_i64()?)))
        .collect();
    got.sort();
    got
}

fn expected_app_events(calls: &[DialpadCall], user: Option<i64>) -> Vec<(String, i64)> {
    let mut want: Vec<(String, i64)> = calls
        .iter()
        .filter(|c| user.is_none_or(|u| u == c.user))
        .flat_map(|c| c.expected.iter().map(move |e| ((*e).to_owned(), c.call_id)))
        .collect();
    want.sort();
    want
}

/// What belongs to one clinic, to recognise it in another clinic's events.
struct Marks {
    org_id: String,
    vapi_calls: HashSet<String>,
    dialpad_calls: HashSet<i64>,
    numbers: Vec<&'static str>,
}

fn crossed(event: &Value, own: &Marks, other: &Marks) -> bool {
    let text = event.to_string();
    let foreign_vapi = event["vapi_call_id"]
        .as_str()
        .is_some_and(|id| !own.vapi_calls.contains(id));
    let foreign_dialpad = event["call_id"]
        .as_i64()
        .is_some_and(|id| !own.dialpad_calls.contains(&id));
    foreign_vapi
        || foreign_dialpad
        || text.contains(&other.org_id)
        || other
            .vapi_calls
            .iter()
            .any(|id| text.contains(&format!("\"{id}\"")))
        || other.numbers.iter().any(|n| text.contains(n))
}

/// Runs the day; answers whether every check held.
///
/// # Errors
/// When the gateway cannot be started or a step fails outright (a refused request, a timeout).
#[allow(clippy::print_stdout, clippy::too_many_lines)]
pub async fn run() -> anyhow::Result<bool> {
    let started = Instant::now();
    let fakes = FakeProviders::start().await;
    let gateway = GatewayProcess::start(&fakes.uri(), &[]).await?;
    let api = Api::new(&gateway.base)?;
    let run_id = format!("{:x}", chrono::Utc::now().timestamp_millis());
    println!(
        "demo: gateway {} (pid {}), providers faked at {}",
        gateway.base,
        gateway.pid(),
        fakes.uri()
    );
    let ctx = Ctx {
        api: &api,
        secret: &gateway.vapi_secret,
    };
    let mut report = Report::default();

    let (a_spec, b_spec) = (sunrise(), lakeside());
    let (a, b) = tokio::try_join!(
        Clinic::open(&api, &a_spec, &run_id),
        Clinic::open(&api, &b_spec, &run_id)
    )?;
    println!(
        "demo: clinics ready in {:.1} s ({} and {})",
        started.elapsed().as_secs_f64(),
        a.name,
        b.name
    );
    let a_clients = clients(&api, &a, a_spec.dialpad_users.first().copied()).await?;
    let b_clients = clients(&api, &b, None).await?;

    // The morning's phone calls, both clinics at once.
    let a_day = sunrise_day();
    let b_day = lakeside_day();
    let (a_results, b_results) = {
        let mut ra = Report::default();
        let mut rb = Report::default();
        let run_a = async {
            let mut out = replay(&ctx, &a, "sunrise", &a_day, &mut ra).await?;
            out.extend(race(&ctx, &a, &mut ra).await?);
            out.push(call_back(&ctx, &fakes, &a, &mut ra).await?);
            anyhow::Ok(out)
        };
        let run_b = async { replay(&ctx, &b, "lakeside", &b_day, &mut rb).await };
        let (x, y) = tokio::try_join!(run_a, run_b)?;
        report.checks.extend(ra.checks);
        report.checks.extend(rb.checks);
        (x, y)
    };

    // The CRM side: Dialpad events for each clinic's app.
    let a_dialpad = dialpad_calls(
        7_100_000,
        "+14155553001",
        a.number,
        a_spec.dialpad_users,
        true,
    );
    let b_dialpad = dialpad_calls(
        8_200_000,
        "+13125554001",
        b.number,
        b_spec.dialpad_users,
        false,
    );
    let (na, nb) = tokio::try_join!(
        deliver_dialpad(&api, &a, &a_dialpad),
        deliver_dialpad(&api, &b, &b_dialpad)
    )?;
    // Forged: signed with another secret, and A's event sent to B's app with A's secret.
    let forged_event = wire::dialpad_event(
        7_199_999,
        "ringing",
        "+14155553999",
        a.number,
        1_769_596_200_000,
        710_001,
    );
    let forged = api
        .post_raw(
            &format!("/webhooks/dialpad/{}", a.app_id),
            "application/jwt",
            wire::sign_dialpad(&forged_event, "not-the-shared-secret")?,
            &[],
        )
        .await?;
    let misrouted = api
        .post_raw(
            &format!("/webhooks/dialpad/{}", b.app_id),
            "application/jwt",
            wire::sign_dialpad(&forged_event, &a.dialpad_secret)?,
            &[],
        )
        .await?;
    report.check(
        "Dialpad: forged and misrouted deliveries refused (401)",
        forged.status == 401 && misrouted.status == 401,
        format!(
            "forged {} {}, misrouted {} {}",
            forged.status, forged.body["code"], misrouted.status, misrouted.body["code"]
        ),
    );

    // Everything the clients should see, then a quiet second for anything that should not come.
    let marks = |c: &Clinic,
                 results: &[CallResult],
                 dialpad: &[DialpadCall],
                 numbers: Vec<&'static str>| Marks {
        org_id: c.org_id.clone(),
        vapi_calls: results.iter().map(|r| r.vapi_call_id.clone()).collect(),
        dialpad_calls: dialpad.iter().map(|d| d.call_id).collect(),
        numbers,
    };
    let a_marks = marks(
        &a,
        &a_results,
        &a_dialpad,
        vec!["+14155553001", "+1415555100", "+1415555110", "+14155551200"],
    );
    let b_marks = marks(
        &b,
        &b_results,
        &b_dialpad,
        vec!["+13125554001", "+1312555200"],
    );
    let settle = Duration::from_secs(20);
    for (clients, dialpad, results) in [
        (&a_clients, &a_dialpad, &a_results),
        (&b_clients, &b_dialpad, &b_results),
    ] {
        let want = expected_app_events(dialpad, None).len();
        clients
            .app
            .wait_until(settle, |e| app_events(e).len() >= want)
            .await;
        if let Some((id, _, listener)) = &clients.app_filtered {
            let want = expected_app_events(dialpad, Some(*id)).len();
            listener
                .wait_until(settle, |e| app_events(e).len() >= want)
                .await;
        }
        let transcripts: usize = results.iter().map(|r| r.transcripts).sum();
        clients
            .staff
            .wait_until(settle, |e| {
                e.iter().filter(|v| v["type"] == "vapi_transcript").count() >= transcripts
            })
            .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // What the owner checks, per clinic.
    for (clinic, results, dialpad, clients, own, other, delivered) in [
        (
            &a, &a_results, &a_dialpad, &a_clients, &a_marks, &b_marks, na,
        ),
        (
            &b, &b_results, &b_dialpad, &b_clients, &b_marks, &a_marks, nb,
        ),
    ] {
        let t = clinic.token.as_str();
        let calls = expect(
            "calls",
            api.get("/api/calls-dashboard?limit=100", t).await?,
            200,
        )?;
        let rows = calls["calls"].as_array().cloned().unwrap_or_default();
        let mut logged: Vec<String> = rows
            .iter()
            .filter_map(|r| r["vapi_call_id"].as_str().map(str::to_owned))
            .collect();
        logged.sort();
        let mut want: Vec<String> = results.iter().map(|r| r.vapi_call_id.clone()).collect();
        want.sort();
        report.check(
            format!(
                "{}: every call logged once ({} calls)",
                clinic.name,
                want.len()
            ),
            logged == want && calls["pagination"]["total"] == want.len(),
            format!("logged {logged:?}"),
        );
        let complete = rows.iter().all(|r| {
            r["status"] == "completed" || r["status"] == "transferred" || r["status"] == "forwarded"
        });
        report.check(
            format!("{}: every call ended with its report stored", clinic.name),
            complete
                && rows
                    .iter()
                    .all(|r| r["transcript"].as_str().is_some_and(|t| !t.is_empty())),
            rows.iter()
                .map(|r| format!("{}={}", r["vapi_call_id"], r["status"]))
                .collect::<Vec<_>>()
                .join(" "),
        );
        let appointments = expect(
            "appointments",
            api.get("/api/appointments?limit=100", t).await?,
            200,
        )?;
        let confirmed: Vec<&Value> = appointments["appointments"]
            .as_array()
            .map(|v| v.iter().filter(|a| a["status"] == "confirmed").collect())
            .unwrap_or_default();
        let bookings = results.iter().filter(|r| r.booked).count();
        let mut spans: Vec<(String, String)> = confirmed
            .iter()
            .filter_map(|a| {
                Some((
                    a["scheduled_time"].as_str()?.to_owned(),
                    a["ends_at"].as_str()?.to_owned(),
                ))
            })
            .collect();
        spans.sort();
        let overlap = spans.windows(2).any(|w| {
            let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
            matches!((parse(&w[0].1), parse(&w[1].0)), (Some(end), Some(next)) if next < end)
        });
        report.check(
            format!(
                "{}: {bookings} appointments booked, none overlapping",
                clinic.name
            ),
            confirmed.len() == bookings && !overlap && spans.len() == bookings,
            format!("{} confirmed", confirmed.len()),
        );
        let pipeline: i64 = results
            .iter()
            .filter_map(|r| r.service)
            .map(|s| clinic.price(s))
            .sum();
        // Reports are analysed on the job runner after their acknowledgement (issue 22): give
        // the last ones up to 10 s to reach the dashboard.
        let mut stats = Value::Null;
        for _ in 0..50 {
            stats = expect(
                "stats",
                api.get("/api/calls-dashboard/stats", t).await?,
                200,
            )?;
            if stats["pipeline_value_minor"] == pipeline && stats["bookings"] == bookings {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        report.check(
            format!(
                "{}: pipeline value ${:.2} and {bookings} bookings on the dashboard",
                clinic.name,
                pipeline as f64 / 100.0
            ),
            stats["pipeline_value_minor"] == pipeline && stats["bookings"] == bookings,
            stats.to_string(),
        );
        let voicemails = clinic.app_list(&api, "voicemails").await?;
        report.check(
            format!("{}: 1 voicemail kept for the CRM", clinic.name),
            voicemails.len() == 1,
            format!("{voicemails:?}")
                .chars()
                .take(200)
                .collect::<String>(),
        );
        let app_call_count = clinic.app_list(&api, "calls").await?.len();
        report.check(
            format!(
                "{}: {} Dialpad calls stored from {delivered} deliveries",
                clinic.name,
                dialpad.len()
            ),
            app_call_count == dialpad.len(),
            format!("{app_call_count} listed"),
        );

        // What each client received, read once.
        let seen: Vec<Seen<'_>> =
            std::iter::once((clients.app.name.as_str(), None, clients.app.events()))
                .chain(
                    clients
                        .app_filtered
                        .iter()
                        .map(|(id, user, l)| (l.name.as_str(), Some((*id, *user)), l.events())),
                )
                .collect();
        for (_, filter, events) in &seen {
            let got = app_events(events);
            let want = expected_app_events(dialpad, filter.map(|(id, _)| id));
            let name = match filter {
                None => format!(
                    "{}: CRM client got each call event exactly once",
                    clinic.name
                ),
                Some((_, user)) => {
                    format!("{}: {user}'s client got only {user}'s calls", clinic.name)
                }
            };
            report.check(name, got == want, format!("got {got:?}"));
        }
        let staff = clients.staff.events();
        let updated: HashSet<&str> = staff
            .iter()
            .filter(|e| e["type"] == "vapi_call_update")
            .filter_map(|e| e["vapi_call_id"].as_str())
            .collect();
        let transcripts = staff
            .iter()
            .filter(|e| e["type"] == "vapi_transcript")
            .count();
        let want_transcripts: usize = results.iter().map(|r| r.transcripts).sum();
        report.check(
            format!(
                "{}: staff dashboard saw every call live ({want_transcripts} transcript lines)",
                clinic.name
            ),
            results
                .iter()
                .all(|r| updated.contains(r.vapi_call_id.as_str()))
                && transcripts == want_transcripts,
            format!(
                "{} calls updated, {transcripts} transcript lines",
                updated.len()
            ),
        );
        let all: Vec<&Value> = seen
            .iter()
            .flat_map(|(_, _, events)| events)
            .chain(&staff)
            .collect();
        let leaks: Vec<&&Value> = all.iter().filter(|e| crossed(e, own, other)).collect();
        report.check(
            format!(
                "{}: no event from the other clinic ({} events checked)",
                clinic.name,
                all.len()
            ),
            leaks.is_empty(),
            format!("{leaks:?}"),
        );
        report.line(format!(
            "{:<26} calls logged {:>2} · appointments {:>2} · pipeline ${:>9.2} · success rate {}%",
            clinic.name,
            calls["pagination"]["total"],
            confirmed.len(),
            stats["pipeline_value_minor"].as_i64().unwrap_or(0) as f64 / 100.0,
            stats["success_rate"]
        ));
        let rows = seen
            .iter()
            .map(|(name, _, events)| (*name, events, "event"))
            .chain(std::iter::once((
                clients.staff.name.as_str(),
                &staff,
                "type",
            )));
        for (name, events, key) in rows {
            report.line(format!(
                "  {name:<46} {:>3} events {:?}",
                events.len(),
                tally(events, key)
            ));
        }
    }

    println!("\n── What each clinic owner sees ──────────────────────────────────────────────");
    for line in &report.lines {
        println!("{line}");
    }
    println!("\n── Checks ───────────────────────────────────────────────────────────────────");
    for c in &report.checks {
        println!("{} {}", if c.ok { "ok  " } else { "FAIL" }, c.name);
        if !c.ok {
            println!("       {}", c.detail);
        }
    }
    let failed = report.checks.iter().filter(|c| !c.ok).count();
    println!(
        "\ndemo: {} checks, {failed} failed, in {:.1} s",
        report.checks.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(failed == 0)
}

/// A call of the week before the demo day, replayed with its start in the past.
struct PastCall {
    caller: &'static str,
    /// Days before today, and the hour (UTC; 14–21 is the clinic's day in New York).
    days_ago: i64,
    hour: u32,
    seconds: i64,
    ended_reason: &'static str,
    transcript: &'static str,
    summary: &'static str,
    feeling: wire::Feeling,
}

const NEUTRAL: wire::Feeling = wire::Feeling {
    label: "neutral",
    score: 0.5,
    summary: "Businesslike; wanted facts",
    urgency: "low",
};
const UNHAPPY: wire::Feeling = wire::Feeling {
    label: "negative",
    score: 0.2,
    summary: "Frustrated about waiting for a reply",
    urgency: "high",
};
const KEEN: wire::Feeling = wire::Feeling {
    label: "positive",
    score: 0.9,
    summary: "Excited and ready to book",
    urgency: "medium",
};

fn sunrise_week_before() -> Vec<PastCall> {
    let call = |caller, days_ago, hour, seconds, transcript, summary, feeling| PastCall {
        caller,
        days_ago,
        hour,
        seconds,
        ended_reason: "customer-ended-call",
        transcript,
        summary,
        feeling,
    };
    vec![
        call(
            "+14155551021",
            6,
            14,
            95,
            "User: How much is Botox?\nAI: Botox is 400 dollars a treatment.",
            "Asked the price of Botox.",
            NEUTRAL,
        ),
        call(
            "+14155551022",
            6,
            17,
            210,
            "User: I'd love fillers before my wedding.\nAI: I can book you a consultation.",
            "Wants fillers before a wedding; will call back to book.",
            KEEN,
        ),
        call(
            "+14155551023",
            5,
            15,
            60,
            "User: Are you open on Sunday?\nAI: Yes, from 8 to 6.",
            "Asked about Sunday opening hours.",
            NEUTRAL,
        ),
        call(
            "+14155551024",
            5,
            19,
            180,
            "User: Nobody called me back about my results.\nAI: I'm sorry; I'll make sure the team calls you today.",
            "Complained that nobody returned her call.",
            UNHAPPY,
        ),
        call(
            "+14155551025",
            4,
            16,
            140,
            "User: Do you do chemical peels?\nAI: Yes, peels take 45 minutes.",
            "Asked about chemical peels.",
            KEEN,
        ),
        call(
            "+14155551026",
            3,
            14,
            75,
            "User: Where do I park?\nAI: Behind the clinic on Harbor Lane.",
            "Asked where to park.",
            wire::SATISFIED,
        ),
        call(
            "+14155551027",
            3,
            18,
            240,
            "User: I'm thinking about a facelift.\nAI: A facelift starts at 8,000 dollars; shall I book a consultation?",
            "Considering a facelift; asked about cost.",
            KEEN,
        ),
        call(
            "+14155551028",
            2,
            15,
            45,
            "User: Can I move my appointment?\nAI: I'll pass that to the front desk.",
            "Wants to move an appointment.",
            NEUTRAL,
        ),
        PastCall {
            ended_reason: "customer-busy",
            ..call(
                "+14155551029",
                2,
                20,
                0,
                "",
                "The caller's line was busy.",
                NEUTRAL,
            )
        },
        call(
            "+14155551030",
            1,
            16,
            120,
            "User: My lips are still swollen after fillers.\nAI: Swelling can last two days; I'll ask a nurse to call you.",
            "Swelling after fillers; nurse to call back.",
            UNHAPPY,
        ),
        call(
            "+14155551031",
            1,
            19,
            90,
            "User: Do you offer payment plans?\nAI: We take cards and bank transfers.",
            "Asked about payment options.",
            wire::SATISFIED,
        ),
    ]
}

/// The week before the demo day, as Vapi would have sent it: each call routed, in progress and
/// reported, dated at its start (questions, a complaint, a busy line; nothing booked).
async fn replay_week_before(
    ctx: &Ctx<'_>,
    clinic: &Clinic,
    calls: &[PastCall],
) -> anyhow::Result<()> {
    let today = chrono::Utc::now().date_naive();
    for (i, past) in calls.iter().enumerate() {
        let started = (today - chrono::Duration::days(past.days_ago))
            .and_hms_opt(past.hour, 5 * u32::try_from(i % 12)?, 0)
            .context("a time of day")?
            .and_utc();
        let (_, mut call) = ctx
            .answer(clinic, &format!("week-before-{i:02}"), past.caller)
            .await?;
        call.started_at = Some(started);
        ctx.message(&wire::status_update(&call, "in-progress", None))
            .await?;
        ctx.message(&wire::end_of_call_report_felt(
            &call,
            past.transcript,
            past.summary,
            past.seconds,
            past.ended_reason,
            past.feeling,
        ))
        .await?;
    }
    Ok(())
}

/// Front-desk bookings over the coming week and leads in every pipeline stage, made through the
/// public API as the console would (the replayed day books one day only): what a clinic's
/// calendar and pipeline look like in `cargo xtask dev` and the console's browser suite.
async fn seed_week(api: &Api, clinic: &Clinic) -> anyhow::Result<()> {
    let t = Some(clinic.token.as_str());
    let bookings = [
        // Today's, when the clinic still has a free time today.
        ("Sophie Turner", "+14155551010", "Consultation", 0, 2),
        ("Hannah Ito", "+14155551011", "Botox", 1, 1),
        ("Oliver Reyes", "+14155551012", "Consultation", 1, 8),
        ("Chloe Martin", "+14155551013", "Fillers", 2, 3),
        ("Ethan Brooks", "+14155551014", "Consultation", 3, 10),
        ("Mia Sullivan", "+14155551015", "Botox", 4, 5),
        ("Daniel Cho", "+14155551016", "Fillers", 5, 2),
        ("Zoe Patel", "+14155551017", "Facelift", 6, 6),
    ];
    for (name, phone, service, days_ahead, nth_slot) in bookings {
        let date = (chrono::Utc::now() + chrono::Duration::days(days_ahead)).format("%Y-%m-%d");
        let free = expect(
            "free times",
            api.get(
                &format!("/api/availability?date={date}&service={service}"),
                &clinic.token,
            )
            .await?,
            200,
        )?;
        let slot = free["slots"]
            .as_array()
            .and_then(|s| s.get(nth_slot).or(s.first()))
            .and_then(Value::as_str);
        let Some(slot) = slot else {
            ensure!(days_ahead == 0, "no free time on {date}");
            continue;
        };
        expect(
            "a front-desk booking",
            api.post(
                "/api/appointments",
                t,
                &json!({"customer_name": name, "customer_phone": phone, "service": service, "scheduled_time": slot}),
            )
            .await?,
            201,
        )?;
    }
    for (name, phone, stage, temperature, score, notes) in [
        (
            "Isla Fraser",
            "+14155551020",
            "new",
            "hot",
            85,
            "Web enquiry about lip fillers; prefers evenings.",
        ),
        (
            "Lucas Meyer",
            "+14155551018",
            "contacted",
            "warm",
            55,
            "Asked for a quote on fillers; call back Friday.",
        ),
        (
            "Ava Nguyen",
            "+14155551019",
            "lost",
            "cold",
            10,
            "Chose a clinic closer to work.",
        ),
    ] {
        expect(
            "a lead",
            api.post(
                "/api/contacts",
                t,
                &json!({"name": name, "phone": phone, "lead_status": stage, "lead_temperature": temperature,
                        "lead_score": score, "notes": notes}),
            )
            .await?,
            201,
        )?;
    }
    Ok(())
}

/// The two demo clinics set up, and the first one's day of calls replayed through the same
/// Vapi messages as [`run`] (bookings, questions, transfers) after the week of calls before it,
/// then a week of front-desk bookings, leads in every stage and an outbound agent; for `cargo xtask dev` and the console's
/// browser suite.
///
/// # Errors
/// When a clinic cannot be set up, a message is refused, or a replayed call's checks fail.
pub async fn seeded_clinics(
    api: &Api,
    vapi_secret: &str,
    run_id: &str,
) -> anyhow::Result<(Clinic, Clinic)> {
    let (a_spec, b_spec) = (sunrise(), lakeside());
    let (a, b) = tokio::try_join!(
        Clinic::open(api, &a_spec, run_id),
        Clinic::open(api, &b_spec, run_id)
    )?;
    let ctx = Ctx {
        api,
        secret: vapi_secret,
    };
    let mut report = Report::default();
    replay(&ctx, &a, "sunrise", &sunrise_day(), &mut report).await?;
    replay_week_before(&ctx, &a, &sunrise_week_before()).await?;
    seed_week(api, &a).await?;
    // Call-backs from the console go out through an outbound agent.
    expect(
        "saving the outbound agent",
        api.send(
            "PUT",
            "/api/agents/outbound",
            Some(&a.token),
            &[],
            Some(&json!({"name": format!("{} call-backs", a.name)})),
        )
        .await?,
        200,
    )?;
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    ensure!(
        failed.is_empty(),
        "replaying the day: {}",
        failed.join("; ")
    );
    Ok((a, b))
}
