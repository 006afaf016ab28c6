//! `/api/auth`: sign-up, sign-in, sign-out, the current user (seed 002 "Authentication Flow";
//! seed 001 §2A onboarding).

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use tenancy::organizations::{self, NewOrganization, Organization};
use tenancy::sessions::{self, SignedIn};
use tenancy::users;
use utoipa::ToSchema;

use crate::auth::{SignedInUser, client_info};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::routes::iso;
use crate::state::AppState;

/// Body of `POST /api/auth/signup`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Organization display name.
    pub organization_name: String,
    /// Organization handle: 2–63 of a-z, 0-9, '-'.
    pub organization_slug: String,
    /// First admin's name.
    pub name: String,
    /// First admin's email.
    pub email: String,
    /// First admin's password (8–128 characters, not common, not containing the email, name or
    /// organization).
    pub password: String,
}

/// Body of `POST /api/auth/login`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A signed-in session: `{ "success": true, "token", "expires_at", "user" }` (plus
/// `organization` after sign-up).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// Bearer token (HS256 JWT, 7 days) for `Authorization: Bearer …`. Its claims carry `sub`,
    /// `role`, `sid` and `app_metadata.org_id`.
    pub token: String,
    /// When the token expires, RFC 3339 UTC with milliseconds.
    pub expires_at: String,
    /// The signed-in user.
    pub user: users::UserRow,
    /// The organization (sign-up only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
}

fn session_response(signed_in: SignedIn, organization: Option<Organization>) -> SessionResponse {
    SessionResponse {
        token: signed_in.token,
        expires_at: iso(signed_in.expires_at),
        user: signed_in.user,
        organization,
    }
}

/// `{ "success": true, "user", "organization" }`
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The signed-in user.
    pub user: users::UserRow,
    /// Their organization.
    pub organization: Organization,
}

/// `{ "success": true, "message" }`
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    /// What happened.
    pub message: String,
}

/// Creates an organization and its first admin, and signs the admin in.
#[utoipa::path(
    tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, body = Success<SessionResponse>),
        (status = 409, description = "slug or email taken", body = ErrorBody),
        (status = 422, description = "invalid input or weak password", body = ErrorBody)
    )
)]
#[post("/api/auth/signup")]
async fn signup(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let new = NewOrganization {
        name: &body.organization_name,
        slug: &body.organization_slug,
        admin_email: &body.email,
        admin_name: &body.name,
        admin_password: &body.password,
    };
    let (org, signed_in) =
        organizations::signup(&state.db, &state.auth.jwt, &new, &client_info(&req)).await?;
    Ok(reply::created(session_response(signed_in, Some(org))))
}

/// Signs in. Failures are uniform (`invalid_credentials`) whether the email is unknown, the
/// password wrong or the user deactivated; repeated failures are throttled per account and per
/// address (429 `too_many_attempts` with `Retry-After`).
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = Success<SessionResponse>),
        (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)
    )
)]
#[post("/api/auth/login")]
async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let signed_in = sessions::login(
        &state.db,
        &state.auth.jwt,
        &body.email,
        &body.password,
        &client_info(&req),
    )
    .await?;
    Ok(reply::ok(session_response(signed_in, None)))
}

/// Ends the current session; the token is refused from the next request on.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = Success<MessageResponse>), (status = 401, body = ErrorBody))
)]
#[post("/api/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    SignedInUser(user): SignedInUser,
) -> Result<HttpResponse, ApiError> {
    sessions::logout(&state.db, &user).await?;
    Ok(reply::ok(MessageResponse {
        message: "Signed out.".into(),
    }))
}

/// The signed-in user and their organization.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, body = Success<MeResponse>), (status = 401, body = ErrorBody))
)]
#[get("/api/auth/me")]
async fn me(
    state: web::Data<AppState>,
    SignedInUser(user): SignedInUser,
) -> Result<HttpResponse, ApiError> {
    let me = users::get(&state.db, &user.into(), user.user_id).await?;
    let org = state
        .db
        .tenant(user.org_id, async |tx| organizations::get(tx).await)
        .await?
        .ok_or_else(|| ApiError::internal("the session's organization is missing"))?;
    Ok(reply::ok(MeResponse {
        user: me,
        organization: org,
    }))
}

/// Registers the auth routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(signup)
        .service(login)
        .service(logout)
        .service(me);
}
