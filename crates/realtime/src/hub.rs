//! This instance's WebSocket connections, by room, each with a bounded queue of outgoing text
//! frames.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::outbox::OutboxEvent;
use crate::role_rank;

/// Who a connection is, which decides its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// An app authenticated by its API key (seed 000): receives its app's events.
    App {
        /// The app's organization.
        org_id: Uuid,
        /// The app.
        app_id: Uuid,
        /// When set, only events without a `target_crm_user` and those targeting this CRM user
        /// (server-side form of the seed's client-side filter).
        crm_user_id: Option<String>,
        /// Also receives the organization's AI-call events ([`is_ai_call_event`]: the Vapi
        /// call updates and transcripts dashboard users see), which the app asked for.
        ai_calls: bool,
    },
    /// A dashboard user authenticated by JWT (seed 002): receives the organization's `users`
    /// events their role admits.
    User {
        /// The organization.
        org_id: Uuid,
        /// The user.
        user_id: Uuid,
        /// `admin`, `manager` or `user`.
        role: String,
    },
}

/// A message for one connection: the event's outbox seq (its event id) and the JSON text frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The event's id: its position in the outbox (`realtime_events.seq`).
    pub seq: i64,
    /// The text frame to send.
    pub text: Arc<str>,
}

impl Frame {
    /// The frame of `event` as the seeds document it (the payload as is), or with the event's
    /// id added as `event_id` (a JSON number) for connections that asked for ids (replay).
    #[must_use]
    pub fn of(event: &OutboxEvent, with_id: bool) -> Self {
        let text = match (&event.payload, with_id) {
            (serde_json::Value::Object(fields), true) => {
                /// The payload's fields and the event id, serialized without copying them.
                #[derive(serde::Serialize)]
                struct WithId<'a> {
                    #[serde(flatten)]
                    fields: &'a serde_json::Map<String, serde_json::Value>,
                    event_id: i64,
                }
                serde_json::to_string(&WithId {
                    fields,
                    event_id: event.seq,
                })
                .unwrap_or_else(|_| event.payload.to_string())
            }
            (payload, _) => payload.to_string(),
        };
        Self {
            seq: event.seq,
            text: text.into(),
        }
    }
}

#[derive(Clone)]
struct Slot {
    member: Member,
    /// Whether this connection's frames carry `event_id`.
    with_ids: bool,
    tx: mpsc::Sender<Frame>,
}

#[derive(Default)]
struct Rooms {
    /// App id → connection id → slot.
    apps: HashMap<Uuid, HashMap<u64, Slot>>,
    /// Organization id → connection id → slot, for dashboard users.
    users: HashMap<Uuid, HashMap<u64, Slot>>,
    /// Organization id → connection id → slot, for app connections that also receive the
    /// organization's AI-call events (each is in its app's room too).
    call_watchers: HashMap<Uuid, HashMap<u64, Slot>>,
}

impl Rooms {
    fn insert(&mut self, id: u64, slot: Slot) {
        if let Member::App {
            org_id,
            ai_calls: true,
            ..
        } = &slot.member
        {
            let watchers = self.call_watchers.entry(*org_id).or_default();
            watchers.insert(id, slot.clone());
        }
        self.room_mut(&slot.member).insert(id, slot);
    }

    fn room_mut(&mut self, member: &Member) -> &mut HashMap<u64, Slot> {
        match member {
            Member::App { app_id, .. } => self.apps.entry(*app_id).or_default(),
            Member::User { org_id, .. } => self.users.entry(*org_id).or_default(),
        }
    }

    fn remove(&mut self, member: &Member, id: u64) -> bool {
        if let Member::App {
            org_id,
            ai_calls: true,
            ..
        } = member
            && let Some(watchers) = self.call_watchers.get_mut(org_id)
        {
            watchers.remove(&id);
            if watchers.is_empty() {
                self.call_watchers.remove(org_id);
            }
        }
        let (map, key) = match member {
            Member::App { app_id, .. } => (&mut self.apps, *app_id),
            Member::User { org_id, .. } => (&mut self.users, *org_id),
        };
        let Some(room) = map.get_mut(&key) else {
            return false;
        };
        let removed = room.remove(&id).is_some();
        if room.is_empty() {
            map.remove(&key);
        }
        removed
    }
}

/// The connections of this instance. Share it as `Arc<Hub>`.
pub struct Hub {
    rooms: RwLock<Rooms>,
    next_id: AtomicU64,
    queue_capacity: usize,
    delivered: AtomicU64,
    evicted_slow: AtomicU64,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What one [`Hub::deliver`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Connections the event was queued for.
    pub delivered: usize,
    /// Connections disconnected because their queue was full.
    pub evicted_slow: usize,
}

/// Connection counts and totals since start (seed 000 "Monitoring": `getAppConnectionCount`,
/// `getTotalConnectionCount`), for this instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Open connections of apps.
    pub app_connections: usize,
    /// Open connections of dashboard users.
    pub user_connections: usize,
    /// Messages queued since start.
    pub delivered: u64,
    /// Connections dropped for being too slow since start.
    pub evicted_slow: u64,
}

/// A connection's membership: receive its messages with [`Subscription::recv`]; dropping it
/// leaves the room.
pub struct Subscription {
    hub: Arc<Hub>,
    id: u64,
    member: Member,
    rx: mpsc::Receiver<Frame>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// The next message. `None` when the hub dropped this connection because its queue was
    /// full (the client was too slow), or the hub is gone.
    pub async fn recv(&mut self) -> Option<Frame> {
        self.rx.recv().await
    }

    /// Who this connection is.
    #[must_use]
    pub fn member(&self) -> &Member {
        &self.member
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(mut rooms) = self.hub.rooms.write() {
            rooms.remove(&self.member, self.id);
        }
    }
}

impl Hub {
    /// A hub whose connections each queue at most `queue_capacity` messages (at least 1).
    #[must_use]
    pub fn new(queue_capacity: usize) -> Self {
        Self {
            rooms: RwLock::new(Rooms::default()),
            next_id: AtomicU64::new(1),
            queue_capacity: queue_capacity.max(1),
            delivered: AtomicU64::new(0),
            evicted_slow: AtomicU64::new(0),
        }
    }

    /// Adds a connection to its room; its frames are the seeds' payloads as they are.
    #[must_use]
    pub fn subscribe(self: &Arc<Self>, member: Member) -> Subscription {
        self.join(member, false)
    }

    /// Adds a connection to its room whose frames carry the event's id (`event_id`): a client
    /// that replays what it missed ([`crate::replay`]) and may reconnect after the last id it saw.
    #[must_use]
    pub fn subscribe_with_event_ids(self: &Arc<Self>, member: Member) -> Subscription {
        self.join(member, true)
    }

    fn join(self: &Arc<Self>, member: Member, with_ids: bool) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        let slot = Slot {
            member: member.clone(),
            with_ids,
            tx,
        };
        self.write_rooms().insert(id, slot);
        Subscription {
            hub: Arc::clone(self),
            id,
            member,
            rx,
        }
    }

    /// Queues `event` for every connection of its room (never another organization's or app's:
    /// app rooms also check the organization), and an AI-call event also for the app
    /// connections of its organization that asked for those. Each form of the frame (with and
    /// without the event id) is serialized at most once and shared.
    pub fn deliver(&self, event: &OutboxEvent) -> DeliveryReport {
        let (mut plain, mut with_id) = (None, None);
        let mut report = DeliveryReport::default();
        let mut slow = Vec::new();
        {
            let rooms = self.read_rooms();
            let room = match (event.audience.as_str(), event.app_id) {
                ("app", Some(app)) => rooms.apps.get(&app),
                ("users", _) => rooms.users.get(&event.org_id),
                _ => None,
            };
            let watchers = is_ai_call_event(event)
                .then(|| rooms.call_watchers.get(&event.org_id))
                .flatten();
            let min_rank = event.min_role.as_deref().map_or(0, role_rank);
            let slots = room.into_iter().flatten();
            for (id, slot) in slots.chain(watchers.into_iter().flatten()) {
                if !admits(&slot.member, event, min_rank) {
                    continue;
                }
                let form = if slot.with_ids {
                    &mut with_id
                } else {
                    &mut plain
                };
                let frame = form.get_or_insert_with(|| Frame::of(event, slot.with_ids));
                match slot.tx.try_send(frame.clone()) {
                    Ok(()) => report.delivered += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        slow.push((*id, slot.member.clone()))
                    }
                    // The connection is closing; its Subscription's drop removes it.
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        if !slow.is_empty() {
            let mut rooms = self.write_rooms();
            for (id, member) in &slow {
                if rooms.remove(member, *id) {
                    report.evicted_slow += 1;
                    tracing::warn!(connection = id, member = ?member, "websocket client too slow: send queue full, disconnecting");
                }
            }
        }
        self.delivered
            .fetch_add(report.delivered as u64, Ordering::Relaxed);
        self.evicted_slow
            .fetch_add(report.evicted_slow as u64, Ordering::Relaxed);
        report
    }

    /// Open connections of one app on this instance.
    #[must_use]
    pub fn app_connection_count(&self, app_id: Uuid) -> usize {
        self.read_rooms().apps.get(&app_id).map_or(0, HashMap::len)
    }

    /// Counts and totals for this instance.
    #[must_use]
    pub fn stats(&self) -> HubStats {
        let rooms = self.read_rooms();
        HubStats {
            app_connections: rooms.apps.values().map(HashMap::len).sum(),
            user_connections: rooms.users.values().map(HashMap::len).sum(),
            delivered: self.delivered.load(Ordering::Relaxed),
            evicted_slow: self.evicted_slow.load(Ordering::Relaxed),
        }
    }

    fn read_rooms(&self) -> std::sync::RwLockReadGuard<'_, Rooms> {
        self.rooms
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_rooms(&self) -> std::sync::RwLockWriteGuard<'_, Rooms> {
        self.rooms
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether `member` receives `event`: it is in the event's room and admitted there.
pub(crate) fn receives(member: &Member, event: &OutboxEvent) -> bool {
    let in_room = match (member, event.audience.as_str(), event.app_id) {
        (Member::App { app_id, .. }, "app", Some(app)) => *app_id == app,
        (Member::App { ai_calls, .. }, "users", _) => *ai_calls && is_ai_call_event(event),
        (Member::User { .. }, "users", _) => true,
        _ => false,
    };
    in_room
        && admits(
            member,
            event,
            event.min_role.as_deref().map_or(0, role_rank),
        )
}

/// The `type`s of the AI-call events an app may subscribe to: Vapi call updates (started,
/// status changes, ended with its analysis) and final transcript lines.
pub const AI_CALL_EVENT_TYPES: [&str; 2] = ["vapi_call_update", "vapi_transcript"];

/// Whether `event` is one of the organization's AI-call events ([`AI_CALL_EVENT_TYPES`],
/// published to its dashboard users).
#[must_use]
pub fn is_ai_call_event(event: &OutboxEvent) -> bool {
    event.audience == "users"
        && event.payload["type"]
            .as_str()
            .is_some_and(|t| AI_CALL_EVENT_TYPES.contains(&t))
}

/// Whether a member of the event's room receives it.
fn admits(member: &Member, event: &OutboxEvent, min_rank: u8) -> bool {
    match member {
        Member::App {
            org_id,
            crm_user_id,
            ..
        } => {
            *org_id == event.org_id
                && match (crm_user_id, &event.target_crm_user) {
                    (Some(mine), Some(target)) => mine == target,
                    _ => true,
                }
        }
        Member::User { org_id, role, .. } => {
            *org_id == event.org_id && role_rank(role) >= min_rank.max(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(org: Uuid, app: Option<Uuid>, target: Option<&str>) -> OutboxEvent {
        OutboxEvent {
            seq: 1,
            org_id: org,
            audience: if app.is_some() { "app" } else { "users" }.into(),
            app_id: app,
            min_role: app.is_none().then(|| "manager".into()),
            target_crm_user: target.map(Into::into),
            payload: serde_json::json!({"event": "call.ring"}),
            created_at: chrono::Utc::now(),
        }
    }

    fn app(org: Uuid, app: Uuid, crm: Option<&str>) -> Member {
        Member::App {
            org_id: org,
            app_id: app,
            crm_user_id: crm.map(Into::into),
            ai_calls: false,
        }
    }

    #[tokio::test]
    async fn rooms_are_per_app_and_per_org() {
        let hub = Arc::new(Hub::new(8));
        let (org_a, org_b, app_a, app_b) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let mut a = hub.subscribe(app(org_a, app_a, None));
        let mut b = hub.subscribe(app(org_b, app_b, None));
        let mut admin_a = hub.subscribe(Member::User {
            org_id: org_a,
            user_id: Uuid::new_v4(),
            role: "admin".into(),
        });
        let mut user_a = hub.subscribe(Member::User {
            org_id: org_a,
            user_id: Uuid::new_v4(),
            role: "user".into(),
        });
        assert_eq!(hub.deliver(&event(org_a, Some(app_a), None)).delivered, 1);
        assert!(a.recv().await.is_some());
        assert!(b.rx.try_recv().is_err());
        assert!(admin_a.rx.try_recv().is_err());
        // An app room never admits an event claiming another organization.
        assert_eq!(hub.deliver(&event(org_b, Some(app_a), None)).delivered, 0);
        // Users' events go by role.
        assert_eq!(hub.deliver(&event(org_a, None, None)).delivered, 1);
        assert!(admin_a.recv().await.is_some());
        assert!(user_a.rx.try_recv().is_err());
        assert_eq!(hub.stats().app_connections, 2);
        assert_eq!(hub.stats().user_connections, 2);
        drop(b);
        assert_eq!(hub.app_connection_count(app_b), 0);
    }

    #[tokio::test]
    async fn crm_user_filter_admits_untargeted_and_own_events() {
        let hub = Arc::new(Hub::new(8));
        let (org, app_id) = (Uuid::new_v4(), Uuid::new_v4());
        let mut alice = hub.subscribe(app(org, app_id, Some("alice")));
        let mut all = hub.subscribe(app(org, app_id, None));
        assert_eq!(
            hub.deliver(&event(org, Some(app_id), Some("bob")))
                .delivered,
            1
        );
        assert!(alice.rx.try_recv().is_err());
        assert!(all.recv().await.is_some());
        assert_eq!(
            hub.deliver(&event(org, Some(app_id), Some("alice")))
                .delivered,
            2
        );
        assert_eq!(hub.deliver(&event(org, Some(app_id), None)).delivered, 2);
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn only_connections_that_asked_for_event_ids_get_them() {
        let hub = Arc::new(Hub::new(8));
        let (org, app_id) = (Uuid::new_v4(), Uuid::new_v4());
        let mut plain = hub.subscribe(app(org, app_id, None));
        let mut ids = hub.subscribe_with_event_ids(app(org, app_id, None));
        let mut ev = event(org, Some(app_id), None);
        ev.seq = 42;
        assert_eq!(hub.deliver(&ev).delivered, 2);
        let plain = plain.recv().await.unwrap();
        let ids = ids.recv().await.unwrap();
        assert_eq!((plain.seq, ids.seq), (42, 42));
        assert_eq!(&*plain.text, r#"{"event":"call.ring"}"#);
        let with_id: serde_json::Value = serde_json::from_str(&ids.text).unwrap();
        assert_eq!(
            with_id,
            serde_json::json!({"event": "call.ring", "event_id": 42})
        );
        assert!(receives(&app(org, app_id, None), &ev));
        assert!(!receives(&app(org, Uuid::new_v4(), None), &ev));
    }

    #[tokio::test]
    async fn apps_that_subscribe_get_their_organizations_ai_call_events_only() {
        let hub = Arc::new(Hub::new(8));
        let (org_a, org_b, app_a, app_b) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let watcher = |org, app_id| Member::App {
            org_id: org,
            app_id,
            crm_user_id: Some("alice".into()),
            ai_calls: true,
        };
        let mut subscribed = hub.subscribe(watcher(org_a, app_a));
        let mut plain = hub.subscribe(app(org_a, app_a, None));
        let mut other_org = hub.subscribe(watcher(org_b, app_b));
        let mut call = event(org_a, None, None);
        call.payload = serde_json::json!({"type": "vapi_call_update", "status": "in-progress"});
        let mut user_change = event(org_a, None, None);
        user_change.payload = serde_json::json!({"type": "user_updated"});
        assert_eq!(hub.deliver(&call).delivered, 1);
        assert!(subscribed.recv().await.is_some());
        assert!(plain.rx.try_recv().is_err() && other_org.rx.try_recv().is_err());
        assert!(receives(&watcher(org_a, app_a), &call));
        assert!(!receives(&watcher(org_b, app_b), &call));
        assert!(!receives(&app(org_a, app_a, None), &call));
        // Other dashboard events stay with the dashboard.
        assert_eq!(hub.deliver(&user_change).delivered, 0);
        assert!(!receives(&watcher(org_a, app_a), &user_change));
        // Its app's own events still arrive once; leaving empties both rooms.
        assert_eq!(hub.deliver(&event(org_a, Some(app_a), None)).delivered, 2);
        drop(subscribed);
        assert_eq!(hub.deliver(&call).delivered, 0);
        assert!(!hub.read_rooms().call_watchers.contains_key(&org_a));
    }

    #[tokio::test]
    async fn a_slow_client_is_disconnected_and_others_keep_receiving() {
        let hub = Arc::new(Hub::new(2));
        let (org, app_id) = (Uuid::new_v4(), Uuid::new_v4());
        let mut slow = hub.subscribe(app(org, app_id, None));
        let mut fast = hub.subscribe(app(org, app_id, None));
        let ev = event(org, Some(app_id), None);
        for _ in 0..3 {
            hub.deliver(&ev);
            assert!(fast.recv().await.is_some());
        }
        assert_eq!(hub.stats().evicted_slow, 1);
        assert_eq!(hub.app_connection_count(app_id), 1);
        // The slow client gets what was queued, then the end of its subscription.
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_none());
    }
}
