//! Extractors that carry the authenticated principal into handlers. A handler that takes one of
//! them cannot run unauthenticated, and opens every tenant transaction from the principal's
//! `org_id`, never from a request parameter.
//!
//! - [`AuthUser`]: a [`Caller`]: `Authorization: Bearer <JWT>`, checked against its database
//!   session on every request (sign-out and revocation take effect at once), or `Authorization:
//!   Bearer sk_…`, an organization API key, whose scopes must grant the route's scope
//!   ([`crate::access`]; 403 `insufficient_scope`, or `user_only` on routes for people).
//! - [`RoleAtLeast`] (`ManagerUser`, `AdminUser`): the same, plus a minimum role for users; a
//!   lower role is answered 403 `forbidden`.
//! - [`SignedInUser`]: a signed-in user only (sign-out, the softphone, consent screens).
//! - [`AuthApp`]: an app's API key in the `x-app-api-key` header or the `api_key` query
//!   parameter (seed 000), verified in constant time.
//!
//! Authorization comes before validation: [`authenticate`], a middleware, resolves the
//! presented credential before any extractor runs, so these extractors are ready at once and,
//! placed first in a handler's arguments, refuse a request (401/403) before its path, query or
//! body is looked at. (actix-web polls a handler's extractors together: an extractor that had to
//! wait for the database would lose the race to a body that fails to parse.)
//!
//! Twilio's webhooks are not principals: [`twilio_request`] collects what their
//! `X-Twilio-Signature` is checked against, and the domain crate checks it with the
//! organization's auth token before reading anything else.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError as _, web};
use tenancy::api_keys::{self, AppPrincipal};
use tenancy::audit::{self, Actor, AuditRecord, RequestOrigin};
use tenancy::caller::Caller;
use tenancy::org_keys::{self, KeyPrincipal};
use tenancy::sessions::{self, ClientInfo, UserPrincipal};
use tenancy::users::Role;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// Header carrying an app's API key (seed 000).
pub const API_KEY_HEADER: &str = "x-app-api-key";
/// Query parameter carrying an app's API key (seed 000, for WebSocket clients).
pub const API_KEY_QUERY: &str = "api_key";

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("AppState is not registered"))
}

pub(crate) fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// What sign-in records about the client: user agent and its address (the peer's, or behind a
/// trusted proxy its `X-Forwarded-For` entry, [`crate::edge::client_address`]; a client's own
/// `X-Forwarded-For` is never believed).
#[must_use]
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        user_agent: req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        address: crate::edge::client_address(req),
    }
}

/// Where a request comes from, for the audit trail: the client's address (behind a trusted
/// proxy, its `X-Forwarded-For` entry: [`crate::edge::client_address`]) and the request id.
#[must_use]
pub fn request_origin(req: &HttpRequest) -> RequestOrigin {
    RequestOrigin {
        address: crate::edge::client_address(req).map(|a| a.to_string()),
        request_id: req
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string),
    }
}

/// The request's [`RequestOrigin`] (client address, request id), for handlers whose change is
/// audited.
#[derive(Debug, Clone)]
pub struct Origin(pub RequestOrigin);

impl FromRequest for Origin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(request_origin(req))))
    }
}

/// An authenticated caller: a user (any role) or an organization API key holding the route's
/// scope.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Caller);

/// The user a request's bearer JWT authenticated, as [`authenticate`] found it.
#[derive(Debug, Clone)]
struct UserAuth(Result<UserPrincipal, ApiError>);

/// The organization API key a request's bearer `sk_…` token authenticated.
#[derive(Debug, Clone)]
struct KeyAuth(Result<KeyPrincipal, ApiError>);

/// The app a request's API key authenticated, as [`authenticate`] found it.
#[derive(Debug, Clone)]
struct AppAuth(Result<AppPrincipal, ApiError>);

/// Whether [`authenticate`] resolves credentials for `path`: the REST API, the internal app
/// routes and `/ws` (only an app's key there). Vapi's, Twilio's and Dialpad's requests and share
/// links authenticate their own way.
fn principal_path(path: &str) -> bool {
    (path.starts_with("/api/") && !path.starts_with("/api/vapi/"))
        || path.starts_with("/internal/")
        || path == "/ws"
}

/// Middleware: authenticates the bearer JWT (checked against its session) and the app API key
/// a request presents, and keeps the outcome for [`AuthUser`], [`RoleAtLeast`], [`AuthApp`] and
/// [`AppAccess`]. It refuses nothing itself (a route without a principal ignores the outcome),
/// except a request over its organization's or key's rate limit ([`crate::rate_limit`]): 429
/// `rate_limited` before any handler runs.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if principal_path(req.path())
        && let Some(state) = req.app_data::<web::Data<AppState>>().cloned()
    {
        // `/ws` checks a user's token itself (it may also come later, in the first message).
        if let Some(token) = bearer(req.request()).filter(|_| req.path() != "/ws") {
            if token.starts_with(org_keys::KEY_PREFIX) {
                let address = crate::edge::client_address(req.request());
                let found =
                    org_keys::authenticate(&state.db, &state.auth.api_key_pepper, &token, address)
                        .await
                        .map_err(ApiError::from);
                req.extensions_mut().insert(KeyAuth(found));
            } else {
                let found = sessions::authenticate(&state.db, &state.auth.jwt, &token)
                    .await
                    .map_err(ApiError::from);
                req.extensions_mut().insert(UserAuth(found));
            }
        }
        if let Some(key) = presented_api_key(req.request()) {
            let found = api_keys::authenticate(&state.db, &state.auth.api_key_pepper, &key)
                .await
                .map_err(ApiError::from);
            req.extensions_mut().insert(AppAuth(found));
        }
        // WebSocket upgrades are not counted: a reconnecting fleet is bounded per client by
        // the edge, and refusing it would only make it retry sooner.
        if let Some((org, key)) = rate_counted(req.request()).filter(|_| req.path() != "/ws")
            && let Err(limited) = state.rate_limits.admit(org, key)
        {
            let response = limited.error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    let res = next.call(req).await?;
    if crate::access::is_write(res.request().method())
        && let Some(key) = authenticated_key(res.request())
    {
        audit_key_write(res.request(), key, res.status()).await;
    }
    Ok(res.map_into_left_body())
}

/// The organization (and organization key) a request counts against for rate limits: whoever
/// [`authenticate`] found, a key before a user before an app.
fn rate_counted(req: &HttpRequest) -> Option<(Uuid, Option<Uuid>)> {
    let extensions = req.extensions();
    if let Some(KeyAuth(Ok(key))) = extensions.get::<KeyAuth>() {
        return Some((key.org_id.0, Some(key.key_id)));
    }
    if let Some(UserAuth(Ok(user))) = extensions.get::<UserAuth>() {
        return Some((user.org_id.0, None));
    }
    match extensions.get::<AppAuth>() {
        Some(AppAuth(Ok(app))) => Some((app.org_id.0, None)),
        _ => None,
    }
}

/// Records a write request made with an organization API key (`api_key.write`: method, route,
/// status) once it was answered. A failure to record is logged, not answered: the write is done.
async fn audit_key_write(req: &HttpRequest, key: KeyPrincipal, status: StatusCode) {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return;
    };
    let route = req.match_pattern().unwrap_or_else(|| "(unmatched)".into());
    let record = AuditRecord {
        actor: Actor::ApiKey(key.key_id),
        action: "api_key.write",
        target: Some(format!("{} {route}", req.method())),
        detail: serde_json::json!({"status": status.as_u16()}),
    };
    let origin = request_origin(req);
    if let Err(e) = state
        .db
        .tenant(key.org_id, async |tx| {
            audit::record(tx, &origin, record).await
        })
        .await
    {
        tracing::error!(error = %e, key_id = %key.key_id, "could not audit a write made with an API key");
    }
}

/// 403 `user_only`: a key on a route for people.
fn user_only() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "user_only",
        "this route is for signed-in users; API keys cannot use it",
    )
}

fn unauthenticated() -> ApiError {
    tenancy::TenancyError::Unauthenticated.into()
}

impl AuthUser {
    /// The user or key [`authenticate`] found for `req`; a key must hold the route's scope.
    fn found(req: &HttpRequest) -> Result<Self, ApiError> {
        if let Some(KeyAuth(found)) = req.extensions().get::<KeyAuth>() {
            let key = found.clone()?;
            check_scope(req, key)?;
            return Ok(Self(key.into()));
        }
        SignedInUser::found(req).map(|SignedInUser(user)| Self(user.into()))
    }
}

/// The organization API key that authenticated `req`, if one did.
pub(crate) fn authenticated_key(req: &HttpRequest) -> Option<KeyPrincipal> {
    match req.extensions().get::<KeyAuth>() {
        Some(KeyAuth(Ok(key))) => Some(*key),
        _ => None,
    }
}

/// Refuses `key` unless its scopes grant what `req`'s route needs ([`crate::access`]).
pub(crate) fn check_scope(req: &HttpRequest, key: KeyPrincipal) -> Result<(), ApiError> {
    let pattern = req.match_pattern().unwrap_or_default();
    let Some(needed) = crate::access::required_scope(req.method(), &pattern) else {
        return Err(user_only());
    };
    if key.scopes.grants(needed) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("this API key lacks the `{needed}` scope"),
        ))
    }
}

/// A signed-in user, never an API key: for what only a person does (their session, their
/// softphone, a consent screen). A key is answered 403 `user_only`.
#[derive(Debug, Clone, Copy)]
pub struct SignedInUser(pub UserPrincipal);

impl SignedInUser {
    fn found(req: &HttpRequest) -> Result<Self, ApiError> {
        if req.extensions().get::<KeyAuth>().is_some() {
            return Err(user_only());
        }
        match req.extensions().get::<UserAuth>() {
            Some(UserAuth(found)) => found.clone().map(Self),
            None => Err(unauthenticated()),
        }
    }
}

impl FromRequest for SignedInUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::found(req))
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::found(req))
    }
}

/// The [`RoleAtLeast`] level of a manager.
const MANAGER_LEVEL: u8 = 1;
/// The [`RoleAtLeast`] level of an admin.
const ADMIN_LEVEL: u8 = 2;

/// Role levels for [`RoleAtLeast`]: 0 user, 1 manager, 2 admin. Not a `const fn` used in the
/// type aliases below: in release builds rustc then finds a query cycle through the async
/// closures of the extractors that name those aliases (E0391, Rust 1.95).
fn role_level(role: Role) -> u8 {
    match role {
        Role::User => 0,
        Role::Manager => MANAGER_LEVEL,
        Role::Admin => ADMIN_LEVEL,
    }
}

/// An authenticated user whose role is at least `MIN` (0 user, 1 manager, 2 admin), or an
/// organization API key holding the route's scope.
#[derive(Debug, Clone, Copy)]
pub struct RoleAtLeast<const MIN: u8>(pub Caller);

/// An authenticated manager or admin.
pub type ManagerUser = RoleAtLeast<MANAGER_LEVEL>;
/// An authenticated admin.
pub type AdminUser = RoleAtLeast<ADMIN_LEVEL>;

impl<const MIN: u8> RoleAtLeast<MIN> {
    fn check(found: Result<AuthUser, ApiError>) -> Result<Self, ApiError> {
        let AuthUser(principal) = found?;
        if role_level(principal.role) < MIN {
            return Err(
                tenancy::TenancyError::Forbidden("your role does not allow this".into()).into(),
            );
        }
        Ok(Self(principal))
    }
}

impl<const MIN: u8> FromRequest for RoleAtLeast<MIN> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::check(AuthUser::found(req)))
    }
}

/// An authenticated app.
#[derive(Debug, Clone, Copy)]
pub struct AuthApp(pub AppPrincipal);

pub(crate) fn presented_api_key(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(API_KEY_HEADER) {
        return value.to_str().ok().map(|v| v.trim().to_owned());
    }
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get(API_KEY_QUERY).cloned())
}

impl FromRequest for AuthApp {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.extensions().get::<AppAuth>() {
            Some(AppAuth(found)) => found.clone().map(Self),
            None => Err(unauthenticated()),
        })
    }
}

/// Access to the app named by the `{app_id}` path segment: an admin of the app's organization
/// (bearer JWT), an organization API key with the route's `apps` scope, or the app itself (its
/// API key). Any other app, or an app of another
/// organization, is answered 404.
#[derive(Debug, Clone, Copy)]
pub struct AppAccess {
    /// The app's organization (the tenant).
    pub org_id: db::OrgId,
    /// The app.
    pub app_id: uuid::Uuid,
    /// Who acts: the app itself ([`Actor::App`]) with its app key, or an admin user or an
    /// organization API key with the `apps` scope.
    pub actor: Actor,
}

impl AppAccess {
    /// This access acting from `origin`, as audited operations record it.
    #[must_use]
    pub fn changed_by(&self, origin: RequestOrigin) -> tenancy::audit::ChangedBy {
        tenancy::audit::ChangedBy {
            actor: self.actor,
            origin,
        }
    }
}

impl FromRequest for AppAccess {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let app_id = req
            .match_info()
            .get("app_id")
            .and_then(|raw| raw.parse::<uuid::Uuid>().ok());
        let by_key = presented_api_key(req).is_some();
        let app = by_key.then(|| AuthApp::from_request(req, payload));
        let admin = (!by_key).then(|| AdminUser::from_request(req, payload));
        let state = state(req);
        Box::pin(async move {
            let invalid_path = || ApiError::bad_request("invalid_path", "app_id must be a UUID");
            if let Some(app) = app {
                let AuthApp(principal) = app.await?;
                let app_id = app_id.ok_or_else(invalid_path)?;
                if principal.app_id != app_id {
                    return Err(ApiError::not_found("app"));
                }
                return Ok(Self {
                    org_id: principal.org_id,
                    app_id,
                    actor: Actor::App(app_id),
                });
            }
            let RoleAtLeast(admin) = admin
                .ok_or_else(|| ApiError::internal("no credential path"))?
                .await?;
            let app_id = app_id.ok_or_else(invalid_path)?;
            state?
                .db
                .tenant(admin.org_id, async |tx| {
                    tenancy::apps::get(tx, app_id).await
                })
                .await?;
            Ok(Self {
                org_id: admin.org_id,
                app_id,
                actor: admin.actor,
            })
        })
    }
}

/// The public origin Twilio reaches this service at: `PUBLIC_BASE_URL`, else this request's own
/// scheme and host. Twilio's signatures are computed over URLs under it, and callback URLs
/// given to Twilio start with it.
pub(crate) fn public_origin(state: &AppState, req: &HttpRequest) -> String {
    match &state.public_base_url {
        Some(base) => base.to_string(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// A Twilio webhook as its signature covers it (contracts/telephony.md B.1): the URL as
/// configured ([`public_origin`], path and query), the form parameters and
/// `X-Twilio-Signature` (empty when absent).
pub(crate) fn twilio_request(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> twilio_client::signature::SignedForm {
    twilio_client::signature::SignedForm {
        url: format!(
            "{}{}",
            public_origin(state, req),
            req.uri().path_and_query().map_or("", |p| p.as_str())
        ),
        params: url::form_urlencoded::parse(body).into_owned().collect(),
        signature: req
            .headers()
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    }
}
