//! `GET /ws`: the realtime WebSocket (seed 000 "WebSocket Server", seed 002 "Real-time
//! Features").
//!
//! Authentication, checked before the upgrade when the request carries it:
//! - an app: its API key in `x-app-api-key` or `?api_key=` (seed 000) → the app's room; with
//!   `?crm_user_id=` only untargeted events and those for that CRM user; with
//!   `?subscribe=ai_calls` also the organization's AI-call events (`vapi_call_update`: each
//!   status, `in-progress` to `completed`/`failed`, then the analysed call; `vapi_transcript`:
//!   final transcript lines), the same frames dashboard users get;
//! - a dashboard user: `Authorization: Bearer <JWT>` or `?token=<JWT>` → the organization's
//!   user room (`user_created`, `user_updated`, `user_deleted`, `call_answered`, …);
//! - neither: the first message must be `{"type":"auth","token":"<JWT>"}` within 10 s.
//!
//! A presented but invalid credential is refused with 401 before the upgrade; a bad `auth`
//! message is answered `{"type":"auth_error","message":…}` and the socket closed. On success
//! the server sends `{"type":"auth_success", …}`, then every event of the room as a JSON text
//! frame, exactly as the seeds document it. The server pings every `WS_HEARTBEAT_SECS` (30);
//! a client silent for two intervals is dropped; a client too slow to read its queue
//! (`WS_SEND_QUEUE` messages) is closed with code 1008 (policy) and may reconnect. Clients may
//! also send `{"type":"ping"}` and get `{"type":"pong"}`.
//!
//! Event ids and replay (issue 23): with `?since=<event id>` (or `"since"` in the `auth`
//! message) every frame also carries `event_id` (a number, increasing), and the server first
//! sends every event of the room after that id that it still holds (a day), then
//! `{"type":"replay_complete","last_event_id":…,"replayed":…,"complete":…}`, then live events,
//! with no gap and no duplicate at the seam (`realtime::replay`). `since=0` replays the whole
//! day; `since=latest` replays nothing but turns the ids on. Without `since` frames are the
//! seeds' payloads, unchanged.

use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, HttpResponse, get, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use realtime::replay::Seam;
use realtime::{Member, Subscription};
use serde::Deserialize;
use serde_json::json;
use tenancy::sessions::{self, UserPrincipal};
use utoipa::IntoParams;

use crate::auth::{self, AuthApp};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// How long an unauthenticated socket may wait before its `auth` message.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest frame accepted from a client (they only send `auth` and `ping`).
const MAX_CLIENT_FRAME: usize = 16 * 1024;

/// Query parameters of `/ws`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct WsQuery {
    /// An app's API key (instead of the `x-app-api-key` header).
    pub api_key: Option<String>,
    /// A dashboard user's JWT (browsers cannot set headers on a WebSocket).
    pub token: Option<String>,
    /// For apps: receive only untargeted events and those whose `target_crm_user` is this.
    pub crm_user_id: Option<String>,
    /// For apps: extra event streams, comma-separated. `ai_calls`: the organization's AI-call
    /// events (`vapi_call_update`, `vapi_transcript`).
    #[param(example = "ai_calls")]
    pub subscribe: Option<String>,
    /// The last event id this client saw (`event_id` of a frame): replay what came after it,
    /// then live events, every frame with its `event_id`. `0` replays the whole held day;
    /// `latest` replays nothing but turns the ids on.
    #[param(value_type = Option<String>, example = "1234")]
    pub since: Option<String>,
}

/// Where a client's event stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    /// Live events only, as the seeds send them (no `event_id`).
    Live,
    /// Live events only, with their `event_id`.
    Latest,
    /// What came after this event id, then live events, with their `event_id`.
    After(i64),
}

impl Since {
    /// `None` → live; `"latest"`; a non-negative integer. Anything else is refused.
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw.map(str::trim) {
            None => Ok(Self::Live),
            Some("latest") => Ok(Self::Latest),
            Some(n) => n
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Self::After)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_since",
                        "since must be an event id (a non-negative integer) or `latest`",
                    )
                }),
        }
    }
}

pub(crate) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(websocket);
}

/// Opens the realtime WebSocket (see the module documentation for the protocol).
#[utoipa::path(tag = "realtime", security((), ("bearer" = []), ("app_key" = [])),
    params(WsQuery),
    responses((status = 101, description = "Switching protocols"), (status = 401, body = ErrorBody)))]
#[get("/ws")]
async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<WsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let since = Since::parse(query.since.as_deref())?;
    let ai_calls = subscribes_to_ai_calls(query.subscribe.as_deref())?;
    let member = if auth::presented_api_key(&req).is_some() {
        let AuthApp(app) = AuthApp::extract(&req).await?;
        Some(Member::App {
            org_id: app.org_id.0,
            app_id: app.app_id,
            crm_user_id: query.crm_user_id.filter(|c| !c.is_empty()),
            ai_calls,
        })
    } else if let Some(token) = auth::bearer(&req).or(query.token) {
        Some(user_member(
            sessions::authenticate(&state.db, &state.auth.jwt, &token).await?,
        ))
    } else {
        None
    };
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request("not_websocket", e.to_string()))?;
    let stream = stream
        .max_frame_size(MAX_CLIENT_FRAME)
        .aggregate_continuations()
        .max_continuation_size(MAX_CLIENT_FRAME);
    actix_web::rt::spawn(serve(state.into_inner(), session, stream, member, since));
    Ok(response)
}

/// Whether `?subscribe=` asks for AI-call events; an unknown stream is refused (400
/// `invalid_subscribe`) rather than silently ignored.
fn subscribes_to_ai_calls(raw: Option<&str>) -> Result<bool, ApiError> {
    let mut ai_calls = false;
    for stream in raw.unwrap_or_default().split(',').map(str::trim) {
        match stream {
            "" => {}
            "ai_calls" => ai_calls = true,
            other => {
                return Err(ApiError::bad_request(
                    "invalid_subscribe",
                    format!("unknown event stream `{other}`; the only one is `ai_calls`"),
                ));
            }
        }
    }
    Ok(ai_calls)
}

fn user_member(user: UserPrincipal) -> Member {
    Member::User {
        org_id: user.org_id.0,
        user_id: user.user_id,
        role: user.role.as_str().to_owned(),
    }
}

fn auth_success(member: &Member) -> String {
    match member {
        Member::App {
            org_id,
            app_id,
            crm_user_id,
            ai_calls,
        } => {
            let subscribed: &[&str] = if *ai_calls { &["ai_calls"] } else { &[] };
            json!({"type": "auth_success", "org_id": org_id, "app_id": app_id,
                "crm_user_id": crm_user_id, "subscribed": subscribed})
        }
        Member::User {
            org_id,
            user_id,
            role,
        } => json!({"type": "auth_success", "org_id": org_id, "user_id": user_id, "role": role}),
    }
    .to_string()
}

/// Waits for `{"type":"auth","token":…}` (with an optional `"since"`: an event id or
/// `"latest"`, as the query parameter); answers `auth_error` and gives up otherwise. Returns the
/// member and where its stream starts (`since` of the query unless the message names one).
async fn first_message_auth(
    state: &AppState,
    session: &mut actix_ws::Session,
    stream: &mut actix_ws::AggregatedMessageStream,
    since: Since,
) -> Option<(Member, Since)> {
    #[derive(Deserialize)]
    struct AuthMessage {
        #[serde(rename = "type")]
        kind: String,
        token: String,
        since: Option<serde_json::Value>,
    }
    let message = match tokio::time::timeout(AUTH_TIMEOUT, stream.recv()).await {
        Ok(Some(Ok(AggregatedMessage::Text(text)))) => serde_json::from_str::<AuthMessage>(&text)
            .ok()
            .filter(|m| m.kind == "auth"),
        _ => None,
    };
    let outcome = match message {
        None => Err("send {\"type\":\"auth\",\"token\":\"<JWT>\"} first".to_owned()),
        Some(m) => match message_since(m.since.as_ref(), since) {
            Err(e) => Err(e),
            Ok(since) => sessions::authenticate(&state.db, &state.auth.jwt, &m.token)
                .await
                .map(|user| (user_member(user), since))
                .map_err(|_| "invalid or expired token".to_owned()),
        },
    };
    match outcome {
        Ok(started) => Some(started),
        Err(message) => {
            let _ = session
                .text(json!({"type": "auth_error", "message": message}).to_string())
                .await;
            None
        }
    }
}

/// The `since` of an `auth` message (a number or a string), or `query`'s when it names none.
fn message_since(value: Option<&serde_json::Value>, query: Since) -> Result<Since, String> {
    let raw = match value {
        None | Some(serde_json::Value::Null) => return Ok(query),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Since::parse(Some(&raw)).map_err(|_| "since must be an event id or \"latest\"".to_owned())
}

async fn serve(
    state: std::sync::Arc<AppState>,
    mut session: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
    member: Option<Member>,
    since: Since,
) {
    let (member, since) = match member {
        Some(member) => (member, since),
        None => match first_message_auth(&state, &mut session, &mut stream, since).await {
            Some(started) => started,
            None => {
                let _ = session.close(Some(CloseCode::Policy.into())).await;
                return;
            }
        },
    };
    let hello = auth_success(&member);
    // Joined before the replay is read: nothing committed in between is missed (replay module).
    let mut subscription = match since {
        Since::Live => state.hub.subscribe(member.clone()),
        Since::Latest | Since::After(_) => state.hub.subscribe_with_event_ids(member.clone()),
    };
    if session.text(hello).await.is_err() {
        return;
    }
    let mut seam = match replay(&state, &mut session, &member, since).await {
        Ok(seam) => seam,
        Err(reason) => {
            let _ = session.close(reason).await;
            return;
        }
    };
    let reason = pump(
        &state,
        &mut session,
        &mut stream,
        &mut subscription,
        &mut seam,
    )
    .await;
    drop(subscription);
    let _ = session.close(reason).await;
}

/// Sends what the client missed after `since` and the `replay_complete` frame (nothing for
/// live starts); returns the seam that keeps live frames from repeating them.
async fn replay(
    state: &AppState,
    session: &mut actix_ws::Session,
    member: &Member,
    since: Since,
) -> Result<Seam, Option<CloseReason>> {
    let Since::After(since) = since else {
        return Ok(Seam::default());
    };
    let missed = match realtime::replay::missed(&state.db, member, since).await {
        Ok(missed) => missed,
        Err(e) => {
            tracing::error!(error = %e, "websocket replay failed");
            return Err(Some(CloseReason {
                code: CloseCode::Error,
                description: Some("replay failed; reconnect".into()),
            }));
        }
    };
    for frame in &missed.frames {
        session.text(&*frame.text).await.map_err(|_| None)?;
    }
    let done = realtime::replay::done_frame(since, &missed);
    session.text(done).await.map_err(|_| None)?;
    Ok(Seam::after(&missed))
}

/// Moves events to the client and answers its frames until one side ends; returns the close
/// reason to send.
async fn pump(
    state: &AppState,
    session: &mut actix_ws::Session,
    stream: &mut actix_ws::AggregatedMessageStream,
    subscription: &mut Subscription,
    seam: &mut Seam,
) -> Option<CloseReason> {
    let heartbeat = state.ws_heartbeat;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if last_heard.elapsed() > heartbeat * 2 {
                    return Some(CloseReason { code: CloseCode::Away, description: Some("heartbeat timeout".into()) });
                }
                if session.ping(b"").await.is_err() {
                    return None;
                }
            }
            event = subscription.recv() => match event {
                Some(frame) => {
                    if seam.is_new(&frame) && session.text(&*frame.text).await.is_err() {
                        return None;
                    }
                }
                None => {
                    return Some(CloseReason { code: CloseCode::Policy, description: Some("client too slow: send queue full".into()) });
                }
            },
            incoming = stream.recv() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            return None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        if text.contains("\"ping\"") && session.text(r#"{"type":"pong"}"#).await.is_err() {
                            return None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Close(_))) | None => return None,
                    Some(Err(_)) => return Some(CloseCode::Protocol.into()),
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}
