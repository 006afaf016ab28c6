//! `/api/users`: user management under the role matrix (seed 002 "User Management";
//! `tenancy::users::may_manage`).

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tenancy::users::{self, NewUser, Role, UserPatch, UserRow};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AuthUser, ManagerUser, RoleAtLeast, request_origin};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::state::AppState;

/// `{ "success": true, "user": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// The user.
    pub user: UserRow,
}

/// `{ "success": true, "users": [...] }`
#[derive(Debug, Serialize, ToSchema)]
pub struct UserListResponse {
    /// Users visible to the caller.
    pub users: Vec<UserRow>,
}

/// Body of `POST /api/users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Initial password (8–128 characters, not common, not containing the email or name).
    #[schema(value_type = String)]
    pub password: SecretString,
    /// `admin`, `manager` or `user` (managers may only create `user`). Default `user`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    /// Extension (2–8 digits).
    #[serde(default)]
    pub extension: Option<String>,
}

/// Body of `PATCH /api/users/{id}`: only the fields present change; `"extension": null` clears it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// New email.
    #[serde(default)]
    pub email: Option<String>,
    /// New extension, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub extension: Option<Option<String>>,
    /// New role (not your own).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    /// Activate or deactivate (not yourself); deactivation ends the user's sessions.
    #[serde(default)]
    pub active: Option<bool>,
    /// New password; ends the user's other sessions.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Option<SecretString>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `{ "success": true, "revoked_sessions": n }`
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedResponse {
    /// How many open sessions were ended.
    pub revoked_sessions: usize,
}

/// Lists users: admins and managers see the whole organization, users only themselves.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Success<UserListResponse>),
        (status = 401, body = ErrorBody)
    )
)]
#[get("/api/users")]
async fn list_users(
    state: web::Data<AppState>,
    AuthUser(actor): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let users = users::list(&state.db, &actor).await?;
    Ok(reply::ok(UserListResponse {
        users: users.into_iter().collect(),
    }))
}

/// Creates a user in the caller's organization (admin: any role; manager: role `user`).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 201, body = Success<UserResponse>),
        (status = 403, body = ErrorBody),
        (status = 409, description = "email or extension taken", body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
#[post("/api/users")]
async fn create_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    RoleAtLeast(actor): ManagerUser,
    body: Json<CreateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user = users::create(
        &state.db,
        &actor,
        request_origin(&req),
        NewUser {
            name: body.name,
            email: body.email,
            password: body.password,
            role: body.role.unwrap_or(Role::User),
            extension: body.extension,
        },
    )
    .await?;
    Ok(reply::created(UserResponse { user }))
}

/// One user (users may read only themselves; another organization's user is a 404).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = Success<UserResponse>),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
#[get("/api/users/{id}")]
async fn get_user(
    state: web::Data<AppState>,
    AuthUser(actor): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let user = users::get(&state.db, &actor, id.into_inner()).await?;
    Ok(reply::ok(UserResponse { user }))
}

/// Updates a user under the role matrix.
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, body = Success<UserResponse>),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
#[patch("/api/users/{id}")]
async fn update_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    AuthUser(actor): AuthUser,
    id: web::Path<Uuid>,
    body: Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let patch = UserPatch {
        name: body.name,
        email: body.email,
        extension: body.extension,
        role: body.role,
        active: body.active,
        password: body.password,
    };
    let user = users::update(
        &state.db,
        &actor,
        request_origin(&req),
        id.into_inner(),
        patch,
    )
    .await?;
    Ok(reply::ok(UserResponse { user }))
}

/// Deletes a user (admin: anyone else; manager: users with role `user`).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
#[delete("/api/users/{id}")]
async fn delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    RoleAtLeast(actor): ManagerUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    users::delete(&state.db, &actor, request_origin(&req), id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of a user at once (admin revocation; managers for users with role
/// `user`; anyone for themselves).
#[utoipa::path(
    tag = "users",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = Success<RevokedResponse>),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
#[post("/api/users/{id}/revoke-sessions")]
async fn revoke_user_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    AuthUser(actor): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let revoked_sessions =
        users::revoke_sessions(&state.db, &actor, request_origin(&req), id.into_inner()).await?;
    Ok(reply::ok(RevokedResponse { revoked_sessions }))
}

/// Registers the user routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user)
        .service(delete_user)
        .service(revoke_user_sessions);
}
