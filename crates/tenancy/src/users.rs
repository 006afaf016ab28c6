//! Users of an organization and their roles (seed 002 "Users": admin, manager, user).

use crate::schema::users;
use chrono::{DateTime, Utc};
use db::{Db, DbError, OrgId, TenantTx};
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Actor, AuditRecord, RequestOrigin};
use crate::caller::Caller;
use crate::sessions;
use crate::{TenancyError, password};
use serde_json::json;

/// A user's role within their organization, highest first. Stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Plain user: reads and edits only themself.
    User,
    /// Manages users with role `user`.
    Manager,
    /// Manages everyone in the organization.
    Admin,
}

impl Role {
    /// The stored and serialised name: `admin`, `manager` or `user`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Manager => "manager",
            Self::User => "user",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = TenancyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "manager" => Ok(Self::Manager),
            "user" => Ok(Self::User),
            other => Err(TenancyError::Invalid(format!(
                "unknown role {other:?}: expected admin, manager or user"
            ))),
        }
    }
}

/// A user row. `password_hash` is deliberately absent: it is read only where a password is checked.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
#[schema(as = UserBody)]
pub struct UserRow {
    /// User id.
    pub id: Uuid,
    /// The user's organization.
    pub org_id: Uuid,
    /// Lower-case email address; signs in to exactly one organization.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `admin`, `manager` or `user`.
    pub role: String,
    /// Whether the user may sign in (answered as `active`); deactivated users cannot sign in
    /// and their sessions end.
    #[serde(rename = "active")]
    pub is_active: bool,
    /// Phone extension (2–8 digits, unique in the organization); the softphone identity.
    pub extension: Option<String>,
    /// Last successful sign-in (UTC).
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub last_login_at: Option<DateTime<Utc>>,
    /// Creation time (UTC).
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    /// The organization as a tenant key.
    #[must_use]
    pub fn org(&self) -> OrgId {
        OrgId(self.org_id)
    }
}

/// Normalises and checks an email address: trimmed, lower-cased, one `@` with text on both sides,
/// at most 254 characters (RFC 5321 path limit).
///
/// # Errors
/// [`TenancyError::Invalid`] naming the problem.
pub fn normalize_email(raw: &str) -> Result<String, TenancyError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(TenancyError::Invalid("email address is not valid".into()))
    }
}

/// Checks an extension: 2–8 digits.
///
/// # Errors
/// [`TenancyError::Invalid`].
pub fn validate_extension(raw: &str) -> Result<String, TenancyError> {
    let ext = raw.trim();
    if (2..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_digit()) {
        Ok(ext.to_owned())
    } else {
        Err(TenancyError::Invalid("extension must be 2-8 digits".into()))
    }
}

/// The role matrix (SPEC §1; seed 002 "User Management"):
/// - admin: manages everyone in the organization;
/// - manager: manages users whose role is `user`, and may only give the role `user`;
/// - user: reads and edits only themself.
///
/// Everyone may edit their own name, email, extension and password, but not their own role or
/// active flag, and nobody deletes themself (an organization never loses its last admin that way).
#[must_use]
pub fn may_manage(actor: &Caller, target_id: Uuid, target_role: Role) -> bool {
    actor.actor_id() != target_id
        && match actor.role {
            Role::Admin => true,
            Role::Manager => target_role == Role::User,
            Role::User => false,
        }
}

/// Whether `actor` may see `target` at all (list and get).
#[must_use]
pub fn may_read(actor: &Caller, target_id: Uuid) -> bool {
    actor.role >= Role::Manager || actor.actor_id() == target_id
}

fn forbid(message: &str) -> TenancyError {
    TenancyError::Forbidden(message.into())
}

/// Users the actor may see: everyone in the organization for admins and managers, only
/// themself for users. Ordered by name.
///
/// # Errors
/// [`TenancyError::Db`].
pub async fn list(db: &Db, actor: &Caller) -> Result<Vec<UserRow>, TenancyError> {
    let actor = *actor;
    db.tenant(actor.org_id, async move |tx| {
        let mut query = users::table
            .filter(users::org_id.eq(actor.org_id.0))
            .select(UserRow::as_select())
            .order((users::name.asc(), users::id.asc()))
            .into_boxed();
        if actor.role < Role::Manager {
            query = query.filter(users::id.eq(actor.actor_id()));
        }
        query.load(tx).await.map_err(TenancyError::from)
    })
    .await
}

async fn find(tx: &mut TenantTx, id: Uuid) -> Result<UserRow, TenancyError> {
    let org = tx.org();
    users::table
        .filter(users::id.eq(id))
        .filter(db::same_tenant(users::org_id, org.0))
        .select(UserRow::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(TenancyError::NotFound("user"))
}

/// One user of the actor's organization.
///
/// # Errors
/// [`TenancyError::NotFound`] (not in the organization), [`TenancyError::Forbidden`] (a user
/// reading someone else), [`TenancyError::Db`].
pub async fn get(db: &Db, actor: &Caller, id: Uuid) -> Result<UserRow, TenancyError> {
    let actor = *actor;
    db.tenant(actor.org_id, async move |tx| {
        let user = find(tx, id).await?;
        if may_read(&actor, id) {
            Ok(user)
        } else {
            Err(forbid("you can only view your own profile"))
        }
    })
    .await
}

/// A user to create. The password is plain text here (redacted from `Debug`) and only ever
/// stored as an argon2id hash.
#[derive(Debug)]
pub struct NewUser {
    /// Display name.
    pub name: String,
    /// Email (unique across the platform).
    pub email: String,
    /// Initial password.
    pub password: SecretString,
    /// Role.
    pub role: Role,
    /// Extension, if any.
    pub extension: Option<String>,
}

fn map_unique(e: diesel::result::Error) -> TenancyError {
    match &e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) => {
            if info.constraint_name() == Some("users_org_extension_key") {
                TenancyError::ExtensionTaken
            } else {
                TenancyError::EmailTaken
            }
        }
        _ => e.into(),
    }
}

/// Creates a user in the actor's organization (admins: any role; managers: role `user` only).
///
/// # Errors
/// [`TenancyError::Forbidden`], [`TenancyError::Invalid`], [`TenancyError::EmailTaken`],
/// [`TenancyError::ExtensionTaken`], [`TenancyError::Db`].
pub async fn create(
    db: &Db,
    actor: &Caller,
    origin: RequestOrigin,
    new: NewUser,
) -> Result<UserRow, TenancyError> {
    let allowed = match actor.role {
        Role::Admin => true,
        Role::Manager => new.role == Role::User,
        Role::User => false,
    };
    if !allowed {
        return Err(forbid("your role cannot create a user with this role"));
    }
    let name = crate::validate_display_name("name", &new.name)?;
    let email = normalize_email(&new.email)?;
    let extension = new
        .extension
        .as_deref()
        .map(validate_extension)
        .transpose()?;
    let plain = new.password.expose_secret();
    password::check_strength(plain, &[&email, &name])?;
    let hash = password::hash_off_thread(plain).await?;
    let (org, actor) = (actor.org_id, *actor);
    db.tenant(org, async move |tx| {
        let created: UserRow = diesel::insert_into(users::table)
            .values((
                users::id.eq(Uuid::new_v4()),
                users::org_id.eq(org.0),
                users::email.eq(email),
                users::name.eq(name),
                users::role.eq(new.role.as_str()),
                users::password_hash.eq(hash),
                users::extension.eq(extension),
            ))
            .returning(UserRow::as_returning())
            .get_result(tx)
            .await
            .map_err(map_unique)?;
        publish_change(tx, "user_created", &created, actor.actor_id()).await?;
        let detail = json!({"email": created.email, "role": created.role});
        audit_user(tx, &origin, actor.actor, "user.created", created.id, detail).await?;
        Ok(created)
    })
    .await
}

/// Changes to a user; `None` leaves a field as it is. `extension: Some(None)` clears it. The
/// password is redacted from `Debug`.
#[derive(Debug, Default)]
pub struct UserPatch {
    /// New display name.
    pub name: Option<String>,
    /// New email.
    pub email: Option<String>,
    /// New extension, or `Some(None)` to clear it.
    pub extension: Option<Option<String>>,
    /// New role.
    pub role: Option<Role>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// New password.
    pub password: Option<SecretString>,
}

/// Whether `actor` may set user `id` (now `target_role`) to `role` and `active`: others only
/// under the role matrix ([`may_manage`]), never one's own role or activity, and managers only
/// ever assign `user`.
fn check_may_update(
    actor: &Caller,
    id: Uuid,
    target_role: Role,
    role: Option<Role>,
    active: Option<bool>,
) -> Result<(), TenancyError> {
    let is_self = actor.actor_id() == id;
    if !is_self && !may_manage(actor, id, target_role) {
        return Err(if may_read(actor, id) {
            forbid("your role cannot change this user")
        } else {
            forbid("you can only change your own profile")
        });
    }
    if is_self && (role.is_some_and(|r| r != target_role) || active == Some(false)) {
        return Err(forbid(
            "you cannot change your own role or deactivate yourself",
        ));
    }
    if role.is_some_and(|r| r != Role::User) && actor.role == Role::Manager {
        return Err(forbid("managers can only assign the role user"));
    }
    Ok(())
}

/// Updates a user under the role matrix ([`may_manage`]). Deactivating a user or setting
/// someone's password ends that user's sessions (the actor's own current session survives a
/// change of their own password).
///
/// # Errors
/// [`TenancyError::NotFound`], [`TenancyError::Forbidden`], [`TenancyError::Invalid`],
/// [`TenancyError::EmailTaken`], [`TenancyError::ExtensionTaken`], [`TenancyError::Db`].
pub async fn update(
    db: &Db,
    actor: &Caller,
    origin: RequestOrigin,
    id: Uuid,
    patch: UserPatch,
) -> Result<UserRow, TenancyError> {
    let actor = *actor;
    let name = patch
        .name
        .as_deref()
        .map(|n| crate::validate_display_name("name", n))
        .transpose()?;
    let email = patch.email.as_deref().map(normalize_email).transpose()?;
    let extension = match patch.extension {
        Some(Some(ext)) => Some(Some(validate_extension(&ext)?)),
        Some(None) => Some(None),
        None => None,
    };
    let new_password = patch.password;
    let (role, active) = (patch.role, patch.active);
    db.tenant(actor.org_id, async move |tx| {
        let target = find(tx, id).await?;
        let target_role: Role = target.role.parse()?;
        let is_self = actor.actor_id() == id;
        check_may_update(&actor, id, target_role, role, active)?;
        let password_hash = match &new_password {
            Some(p) => {
                let context_email = email.as_deref().unwrap_or(&target.email);
                let context_name = name.as_deref().unwrap_or(&target.name);
                password::check_strength(p.expose_secret(), &[context_email, context_name])?;
                Some(password::hash_off_thread(p.expose_secret()).await?)
            }
            None => None,
        };
        let row = users::table
            .filter(users::id.eq(id))
            .filter(db::same_tenant(users::org_id, actor.org_id.0));
        let updated: UserRow = diesel::update(row)
            .set((
                users::name.eq(name.unwrap_or(target.name)),
                users::email.eq(email.unwrap_or(target.email)),
                users::extension.eq(extension.unwrap_or(target.extension)),
                users::role.eq(role.unwrap_or(target_role).as_str()),
                users::is_active.eq(active.unwrap_or(target.is_active)),
            ))
            .returning(UserRow::as_returning())
            .get_result(tx)
            .await
            .map_err(map_unique)?;
        if let Some(hash) = password_hash {
            diesel::update(row)
                .set(users::password_hash.eq(hash))
                .execute(tx)
                .await?;
        }
        if active == Some(false) || new_password.is_some() {
            let keep = actor.session_id.filter(|_| is_self);
            sessions::revoke_all(tx, id, keep).await?;
        }
        publish_change(tx, "user_updated", &updated, actor.actor_id()).await?;
        let detail = json!({"role": updated.role, "is_active": updated.is_active,
            "role_changed": role.is_some_and(|r| r != target_role),
            "password_changed": new_password.is_some()});
        audit_user(tx, &origin, actor.actor, "user.updated", id, detail).await?;
        Ok(updated)
    })
    .await
}

/// Deletes a user under the role matrix; their sessions go with them.
///
/// # Errors
/// [`TenancyError::NotFound`], [`TenancyError::Forbidden`], [`TenancyError::Db`].
pub async fn delete(
    db: &Db,
    actor: &Caller,
    origin: RequestOrigin,
    id: Uuid,
) -> Result<(), TenancyError> {
    let actor = *actor;
    db.tenant(actor.org_id, async move |tx| {
        let target = find(tx, id).await?;
        if !may_manage(&actor, id, target.role.parse()?) {
            return Err(forbid("your role cannot delete this user"));
        }
        diesel::delete(
            users::table
                .filter(users::id.eq(id))
                .filter(db::same_tenant(users::org_id, actor.org_id.0)),
        )
        .execute(tx)
        .await?;
        let deleted = json!({"type": "user_deleted", "user_id": id, "by": actor.actor_id()});
        publish(tx, deleted).await?;
        let detail = json!({"email": target.email, "role": target.role});
        audit_user(tx, &origin, actor.actor, "user.deleted", id, detail).await?;
        Ok(())
    })
    .await
}

/// Records a user change in the audit trail, in the change's own transaction.
async fn audit_user(
    tx: &mut TenantTx,
    origin: &RequestOrigin,
    actor: Actor,
    action: &'static str,
    user_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), TenancyError> {
    let record = AuditRecord {
        actor,
        action,
        target: Some(user_id.to_string()),
        detail,
    };
    Ok(audit::record(tx, origin, record).await?)
}

/// Who receives user changes in realtime: the organization's admins and managers (seed 002
/// "Role-based Broadcasting").
const USER_EVENTS_AUDIENCE: realtime::Audience = realtime::Audience::Users {
    min_role: "manager",
};

/// Publishes `user_created` / `user_updated` (seed 002 WebSocket API events) in the change's own
/// transaction: `{"type", "user": {id, name, email, role, extension, is_active}, "by",
/// "timestamp"}`. Never includes the password hash.
async fn publish_change(
    tx: &mut TenantTx,
    kind: &'static str,
    user: &UserRow,
    by: Uuid,
) -> Result<(), TenancyError> {
    let fields = json!({
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "extension": user.extension,
        "is_active": user.is_active,
    });
    publish(tx, json!({"type": kind, "user": fields, "by": by})).await
}

/// Publishes a user event to [`USER_EVENTS_AUDIENCE`] in the change's own transaction, with
/// `timestamp` (RFC 3339 UTC, milliseconds) added to `payload` (a JSON object).
async fn publish(tx: &mut TenantTx, mut payload: serde_json::Value) -> Result<(), TenancyError> {
    payload["timestamp"] = json!(db::timestamp::iso(Utc::now()));
    let event = realtime::RealtimeEvent {
        audience: USER_EVENTS_AUDIENCE,
        target_crm_user: None,
        payload,
    };
    realtime::outbox::publish(tx, event).await?;
    Ok(())
}

/// Ends every session of a user (admin revocation), under the role matrix; anyone may end
/// their own. Returns how many sessions were open.
///
/// # Errors
/// [`TenancyError::NotFound`], [`TenancyError::Forbidden`], [`TenancyError::Db`].
pub async fn revoke_sessions(
    db: &Db,
    actor: &Caller,
    origin: RequestOrigin,
    id: Uuid,
) -> Result<usize, TenancyError> {
    let actor = *actor;
    db.tenant(actor.org_id, async move |tx| {
        let target = find(tx, id).await?;
        if actor.actor_id() != id && !may_manage(&actor, id, target.role.parse()?) {
            return Err(forbid("your role cannot end this user's sessions"));
        }
        let revoked = sessions::revoke_all(tx, id, None).await?;
        let detail = json!({"sessions": revoked});
        let action = "user.sessions_revoked";
        audit_user(tx, &origin, actor.actor, action, id, detail).await?;
        Ok(revoked)
    })
    .await
}

/// An active user's extension inside the caller's tenant transaction: `None` when there is no
/// such active user, `Some(None)` when they have no extension.
///
/// # Errors
/// [`DbError::Query`].
pub async fn active_extension(
    tx: &mut TenantTx,
    user_id: Uuid,
) -> Result<Option<Option<String>>, DbError> {
    let org = tx.org();
    users::table
        .filter(db::same_tenant(users::org_id, org.0))
        .filter(users::id.eq(user_id))
        .filter(users::is_active.eq(true))
        .select(users::extension)
        .first::<Option<String>>(tx)
        .await
        .optional()
        .map_err(DbError::Query)
}

/// The organization's active users with an extension as `(id, name, extension)`, by extension.
///
/// # Errors
/// [`DbError::Query`].
pub async fn extension_directory(
    tx: &mut TenantTx,
) -> Result<Vec<(Uuid, String, String)>, DbError> {
    let org = tx.org();
    let rows: Vec<(Uuid, String, Option<String>)> = users::table
        .filter(users::org_id.eq(org.0))
        .filter(users::is_active.eq(true))
        .filter(users::extension.is_not_null())
        .order(users::extension.asc())
        .select((users::id, users::name, users::extension))
        .load(tx)
        .await
        .map_err(DbError::Query)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, extension)| extension.map(|e| (id, name, e)))
        .collect())
}

/// The user holding `extension` as `(id, name)`.
///
/// # Errors
/// [`DbError::Query`].
pub async fn by_extension(
    tx: &mut TenantTx,
    extension: &str,
) -> Result<Option<(Uuid, String)>, DbError> {
    let org = tx.org();
    users::table
        .filter(users::org_id.eq(org.0))
        .filter(users::extension.eq(extension))
        .select((users::id, users::name))
        .first(tx)
        .await
        .optional()
        .map_err(DbError::Query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_by_power_and_round_trip() {
        assert!(Role::Admin > Role::Manager && Role::Manager > Role::User);
        for role in [Role::Admin, Role::Manager, Role::User] {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        assert!("owner".parse::<Role>().is_err());
    }

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            normalize_email("  Ann@Clinic.Example ").ok().as_deref(),
            Some("ann@clinic.example")
        );
        for bad in [
            "",
            "ann",
            "@clinic.example",
            "ann@",
            "ann@localhost",
            "a b@c.d",
            "a@b@c.d",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
