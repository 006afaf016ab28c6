//! The two ways into the database: as one tenant, or as a named system operation.

use std::fmt;

use diesel_async::{AnsiTransactionManager, AsyncPgConnection, TransactionManager};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::pool::PooledConn;
use crate::{Db, DbError};

/// An organization's id: the tenant key carried by every tenant row as `org_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgId(pub Uuid);

impl OrgId {
    /// A fresh random (v4) id, for provisioning a new organization.
    #[must_use]
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Uuid> for OrgId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

/// The operations allowed to run without a tenant, one variant each, so that every cross-tenant
/// path is listed here and easy to audit. A system transaction sets no tenant: row-level security
/// still hides every tenant row, and what such an operation may read across tenants is only what a
/// `SECURITY DEFINER` function in `migrations/` returns for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SystemOp {
    /// `/readyz`: reads the applied migration versions (no tenant data).
    ReadinessProbe,
    /// Sign-in: finds the one user with an email through `auth_login_candidate` (the tenant is
    /// not known before the password is checked).
    LoginLookup,
    /// Sign-in throttling: the `login_throttle` counters (hashed keys, no tenant data).
    LoginThrottle,
    /// The daily prune of idempotency keys older than 24 h through
    /// `api_idempotency_keys_prune` (no tenant data is read).
    IdempotencyCleanup,
    /// The daily prune of outbound webhook messages older than 30 days (with their deliveries
    /// and attempts) through `webhook_messages_prune` (no tenant data is read).
    WebhookCleanup,
    /// API key authentication: finds the app of a keyed app-key hash through
    /// `auth_app_by_key_hash`, or the organization key of one through `auth_org_key_by_hash`.
    ApiKeyLookup,
    /// User authentication on every request: reads the session named by a signed token through
    /// `auth_session_check`.
    SessionCheck,
    /// The daily hybrid-telephony cleanup through `telephony_cleanup()` (stale verifications).
    TelephonyCleanup,
    /// Twilio's caller-ID status callback: the organization of a verification through
    /// `telephony_verification_org`, to check the callback's signature with its auth token.
    TwilioCallbackLookup,
    /// A Dialpad webhook: the organization, state and sealed secret of the app its URL names,
    /// through `dialpad_webhook_app`.
    DialpadWebhookLookup,
    /// The realtime fan-out reading outbox rows of every organization through
    /// `realtime_events_fetch` / `realtime_events_after`, to deliver each to the connections of
    /// its own organization only.
    RealtimeFanOut,
    /// The daily prune of realtime outbox rows older than a day through `realtime_events_prune`.
    RealtimeCleanup,
    /// A recording share link opened by whoever holds it: the organization and link of a token
    /// hash through `share_link_resolve`.
    ShareLinkResolve,
    /// A Vapi webhook or tool call: the organization of the assistant or imported phone number
    /// it names, through `vapi_assistant_org` / `vapi_phone_number_org`.
    VapiRouting,
    /// The platform's global Vapi tool registry (`vapi_tools`, no tenant data), read and updated
    /// under an advisory lock so that a tool is registered once across instances.
    VapiToolRegistry,
    /// The voice agent's periodic task finding organizations with due work (failed tool links,
    /// unfinished Twilio dual-syncs) through `voice_due_orgs`, and `cargo xtask sync-tools`
    /// listing organizations with assistants through `voice_orgs_with_assistants`.
    VoiceWork,
    /// Queueing every document embedded by another model than the configured one, with its
    /// indexing job, through `kb_queue_reembed` (`cargo xtask reembed`, and every start-up).
    KnowledgeBaseWork,
    /// The job runner claiming due jobs of every organization through `jobs_claim` (each job then
    /// runs in its organization's transactions).
    JobClaim,
    /// The job runner taking a periodic task's slot through `job_schedule_claim` (no tenant data).
    JobSchedule,
    /// A coalesced after-commit `NOTIFY <channel>` to other instances ([`crate::signal`]: realtime
    /// events, the job runner's wake-up; no tenant data).
    SignalNotify,
}

impl SystemOp {
    /// The stable name logged and set as `app.system_op` for the transaction.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::ReadinessProbe => "readiness_probe",
            Self::LoginLookup => "login_lookup",
            Self::LoginThrottle => "login_throttle",
            Self::ApiKeyLookup => "api_key_lookup",
            Self::IdempotencyCleanup => "idempotency_cleanup",
            Self::WebhookCleanup => "webhook_cleanup",
            Self::SessionCheck => "session_check",
            Self::TelephonyCleanup => "telephony_cleanup",
            Self::TwilioCallbackLookup => "twilio_callback_lookup",
            Self::DialpadWebhookLookup => "dialpad_webhook_lookup",
            Self::RealtimeFanOut => "realtime_fan_out",
            Self::RealtimeCleanup => "realtime_cleanup",
            Self::ShareLinkResolve => "share_link_resolve",
            Self::VapiRouting => "vapi_routing",
            Self::VapiToolRegistry => "vapi_tool_registry",
            Self::VoiceWork => "voice_work",
            Self::KnowledgeBaseWork => "knowledge_base_work",
            Self::JobClaim => "job_claim",
            Self::JobSchedule => "job_schedule",
            Self::SignalNotify => "signal_notify",
        }
    }
}

/// A closure over a connection whose future can be named, so that `Send` can be required of
/// it: every async closure `async move |c| { … }` taking `&mut AsyncPgConnection` is one (the
/// device diesel-async uses for its own transaction callbacks).
pub trait ConnFn<'c, T>:
    AsyncFnOnce(&'c mut AsyncPgConnection) -> T
    + FnOnce(&'c mut AsyncPgConnection) -> <Self as ConnFn<'c, T>>::Fut
{
    /// The closure's future.
    type Fut: Future<Output = T>;
}

impl<'c, F, Fut, T> ConnFn<'c, T> for F
where
    F: AsyncFnOnce(&'c mut AsyncPgConnection) -> T + FnOnce(&'c mut AsyncPgConnection) -> Fut,
    Fut: Future<Output = T>,
{
    type Fut = Fut;
}

/// [`ConnFn`] for a closure over a [`TenantTx`] (`async move |tx| { … }`).
pub trait TxFn<'t, T>:
    AsyncFnOnce(&'t mut TenantTx) -> T + FnOnce(&'t mut TenantTx) -> <Self as TxFn<'t, T>>::Fut
{
    /// The closure's future.
    type Fut: Future<Output = T>;
}

impl<'t, F, Fut, T> TxFn<'t, T> for F
where
    F: AsyncFnOnce(&'t mut TenantTx) -> T + FnOnce(&'t mut TenantTx) -> Fut,
    Fut: Future<Output = T>,
{
    type Fut = Fut;
}

/// An open transaction scoped to one organization: row-level security admits that
/// organization's rows only until it ends. Only [`Db::tenant`] creates one, so a function that
/// takes `&mut TenantTx` can only run inside a tenant transaction, and several owners'
/// operations called with the same `TenantTx` commit or roll back together (issue 21, "one
/// transaction per operation").
///
/// Domain operations take `tx: &mut TenantTx`, read the organization from [`TenantTx::org`]
/// (never from a second argument that could disagree) and run their statements on
/// [`TenantTx::conn`].
pub struct TenantTx {
    conn: PooledConn,
    org: OrgId,
}

impl TenantTx {
    /// The organization this transaction is scoped to (what `app.current_org_id` holds).
    #[must_use]
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// The transaction's connection, for diesel statements (`.execute(tx.conn())`).
    pub fn conn(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }
}

/// A `&mut TenantTx` is accepted wherever a `&mut AsyncPgConnection` is (deref coercion), so a
/// helper over a bare connection can run inside the tenant's transaction; diesel's generic
/// `execute`/`load` need [`TenantTx::conn`].
impl std::ops::Deref for TenantTx {
    type Target = AsyncPgConnection;

    fn deref(&self) -> &AsyncPgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }
}

impl fmt::Debug for TenantTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantTx").field("org", &self.org).finish()
    }
}

impl Db {
    /// Runs `f`, an async closure over a [`TenantTx`] (`async move |tx| { … }`), in a
    /// transaction scoped to one organization: before `f` runs,
    /// `set_config('app.current_org_id', <org_id>, true)` makes every row-level-security policy
    /// admit that organization's rows only, until the transaction ends. Commits when `f` returns
    /// `Ok`, rolls back otherwise. Code inside still filters by `org_id` (defence in depth).
    ///
    /// The `org_id` must come from the authenticated principal (user session, app key, resolved
    /// webhook), never from a request parameter.
    ///
    /// # Errors
    /// `f`'s error, or [`DbError`] (converted into `E`) when no connection is available or the
    /// transaction itself fails.
    pub async fn tenant<R, E, F>(&self, org_id: OrgId, f: F) -> Result<R, E>
    where
        F: for<'t> AsyncFnOnce(&'t mut TenantTx) -> Result<R, E>
            + for<'t> TxFn<'t, Result<R, E>, Fut: Send>
            + Send,
        E: From<DbError> + Send,
        R: Send,
    {
        // Boxed: callers' futures stay small (clippy's large_futures) for one allocation.
        let transaction = Box::pin(async move {
            let conn = self.conn().await?;
            let mut tx = TenantTx { conn, org: org_id };
            begin::<E>(tx.conn(), &begin_scoped(&org_id.0.to_string(), "")).await?;
            let result = f(&mut tx).await;
            end(tx.conn(), result).await
        });
        self.raise_after(transaction).await
    }

    /// Runs `f` in a transaction with **no** tenant, for one named [`SystemOp`]. The operation's
    /// name is logged and set as `app.system_op` (visible to triggers and in the database's logs).
    ///
    /// # Errors
    /// As [`Db::tenant`].
    pub async fn system<R, E, F>(&self, op: SystemOp, f: F) -> Result<R, E>
    where
        F: for<'c> AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<R, E>
            + for<'c> ConnFn<'c, Result<R, E>, Fut: Send>
            + Send,
        E: From<DbError> + Send,
        R: Send,
    {
        tracing::debug!(target: "db::system", op = op.name(), "system transaction");
        let transaction = Box::pin(async move {
            let mut conn = self.conn().await?;
            let conn: &mut AsyncPgConnection = &mut conn;
            begin::<E>(conn, &begin_scoped("", op.name())).await?;
            let result = f(conn).await;
            end(conn, result).await
        });
        self.raise_after(transaction).await
    }

    /// Runs `f` for one named [`SystemOp`] on a pooled connection **outside** any explicit
    /// transaction: each statement commits on its own, with no tenant set (every tenant setting
    /// in this crate is transaction-local). One round trip instead of the four of a transaction,
    /// for the read-only look-ups on the hot path of every request (credential checks through
    /// `SECURITY DEFINER` functions). Do not write through this path.
    ///
    /// # Errors
    /// `f`'s error, or [`DbError`] when no connection is available.
    pub async fn system_read<R, E, F>(&self, op: SystemOp, f: F) -> Result<R, E>
    where
        F: for<'c> AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<R, E>
            + for<'c> ConnFn<'c, Result<R, E>, Fut: Send>
            + Send,
        E: From<DbError> + Send,
        R: Send,
    {
        tracing::trace!(target: "db::system", op = op.name(), "system read");
        let mut conn = self.conn().await?;
        f(&mut conn).await
    }

    /// Runs `transaction` (a scoped transaction's whole future) and, after it committed, raises
    /// the channels it asked for ([`crate::signal::raise_after_commit`]).
    async fn raise_after<R, E>(
        &self,
        transaction: impl Future<Output = Result<R, E>>,
    ) -> Result<R, E> {
        let (result, raised) = crate::signal::recording(transaction).await;
        if result.is_ok() {
            for channel in raised {
                self.raise(channel);
            }
        }
        result
    }
}

/// Sends `BEGIN` and the scope's settings ([`begin_scoped`]) in one round trip (one
/// simple-protocol batch; issue 22 "round trips").
async fn begin<E: From<DbError>>(conn: &mut AsyncPgConnection, sql: &str) -> Result<(), E> {
    AnsiTransactionManager::begin_transaction_sql(conn, sql)
        .await
        .map_err(|e| E::from(DbError::Query(e)))
}

/// Ends the transaction `begin` opened: commits when `result` is `Ok`, rolls back otherwise, as
/// diesel's own `transaction` does.
async fn end<R, E: From<DbError>>(
    conn: &mut AsyncPgConnection,
    result: Result<R, E>,
) -> Result<R, E> {
    match result {
        Ok(value) => match AnsiTransactionManager::commit_transaction(conn).await {
            Ok(()) => Ok(value),
            Err(e) => {
                // A failed COMMIT may leave the transaction open; a failed rollback marks the
                // connection broken and the pool drops it.
                let _ = AnsiTransactionManager::rollback_transaction(conn).await;
                Err(E::from(DbError::Query(e)))
            }
        },
        Err(e) => {
            let _ = AnsiTransactionManager::rollback_transaction(conn).await;
            Err(e)
        }
    }
}

/// `BEGIN` and the scope's settings as one batch. Both values are inlined as SQL literals: the
/// organization id is a formatted UUID or empty, the operation a fixed name from [`SystemOp`];
/// quotes are doubled all the same.
fn begin_scoped(org_id: &str, system_op: &str) -> String {
    let literal = |v: &str| v.replace('\'', "''");
    format!(
        "BEGIN; SELECT set_config('app.current_org_id', '{}', true), \
         set_config('app.system_op', '{}', true)",
        literal(org_id),
        literal(system_op)
    )
}
