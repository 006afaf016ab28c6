//! Sign-in, JWTs backed by database sessions, per-request session checks, sign-out and
//! revocation (seed 002 "Authentication Flow"; SPEC §1).
//!
//! A token is an HS256 JWT valid for 7 days with the claims `sub` (user id), `role`, `sid`
//! (session id), `jti` (32 random bytes, hex), `iat`, `exp` and `app_metadata.org_id` (where the
//! seeds' clients read the organization). The session row stores only SHA-256(`jti`). Every
//! request re-reads the session and the user, so sign-out, revocation, deactivation and role
//! changes take effect on the very next request; the role used is the database's, not the
//! token's.

use std::net::IpAddr;
use std::sync::OnceLock;

use crate::schema::{user_sessions, users};
use chrono::{DateTime, Duration, Utc};
use db::{Db, DbError, OrgId, SystemOp, TenantTx};
use diesel::sql_types::{Bool, Text, Uuid as SqlUuid};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, QueryableByName, SelectableHelper};
use diesel_async::RunQueryDsl;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::auth_sql::auth_session_check;
use crate::secrets::{random_bytes, sha256};
use crate::throttle::{self, Subjects};
use crate::users::{Role, UserRow, normalize_email};
use crate::{TenancyError, password};

/// How long a token and its session live: 7 days (SPEC §1).
pub const SESSION_TTL_DAYS: i64 = 7;
/// `last_seen_at` is refreshed at most this often per session, in seconds (saves a write per
/// request).
pub const LAST_SEEN_RESOLUTION_SECS: i64 = 60;

/// HS256 signing and verification keys from `JWT_SECRET`. `Debug` is redacted.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    /// Keys from a secret of at least 32 bytes (RFC 7518 §3.2: an HS256 key must be at least as
    /// long as the hash output).
    ///
    /// # Errors
    /// [`TenancyError::Invalid`] for a shorter secret.
    pub fn new(secret: &[u8]) -> Result<Self, TenancyError> {
        if secret.len() < 32 {
            return Err(TenancyError::Invalid(
                "the JWT secret must be at least 32 bytes".into(),
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys([redacted])")
    }
}

/// `app_metadata` claim: the organization, where the seeds' clients look for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppMetadata {
    /// The user's organization.
    pub org_id: Uuid,
}

/// The JWT claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: Uuid,
    /// Role at issuance (informational; each request uses the stored role).
    pub role: Role,
    /// Session id.
    pub sid: Uuid,
    /// Random token id; the session stores its SHA-256.
    pub jti: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The organization.
    pub app_metadata: AppMetadata,
}

/// An authenticated user, as checked against its session on this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserPrincipal {
    /// The user.
    pub user_id: Uuid,
    /// The user's organization: the tenant for everything the user does.
    pub org_id: OrgId,
    /// The user's current role (from the database).
    pub role: Role,
    /// The session this request belongs to.
    pub session_id: Uuid,
}

/// What a sign-in needs besides the credentials.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// `User-Agent`, stored on the session (first 512 characters).
    pub user_agent: Option<String>,
    /// The client's address, for per-address throttling.
    pub address: Option<IpAddr>,
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The bearer token.
    pub token: String,
    /// When it expires (UTC).
    pub expires_at: DateTime<Utc>,
    /// The user.
    pub user: UserRow,
}

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    org_id: Uuid,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Bool)]
    is_active: bool,
}

/// A valid hash of a random password, verified when the email is unknown so that an unknown
/// email costs the same time as a wrong password (no user enumeration by timing).
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let random = hex::encode(random_bytes::<16>().unwrap_or([7; 16]));
        password::hash(&random).unwrap_or_default()
    })
}

/// Signs in with email and password. Unknown email, wrong password and deactivated user all
/// answer [`TenancyError::InvalidCredentials`] after the same argon2 work. Throttled per account
/// and per address (see [`crate::throttle`]).
///
/// # Errors
/// [`TenancyError::InvalidCredentials`], [`TenancyError::TooManyAttempts`], [`TenancyError::Db`].
pub async fn login(
    db: &Db,
    keys: &JwtKeys,
    email: &str,
    password_attempt: &str,
    client: &ClientInfo,
) -> Result<SignedIn, TenancyError> {
    let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    let subjects = Subjects::new(&email, client.address);
    throttle::check(db, &subjects).await?;

    let lookup_email = email.clone();
    let candidate: Option<Candidate> = db
        .system_read(SystemOp::LoginLookup, async move |c| {
            diesel::sql_query(
                "SELECT user_id, org_id, password_hash, is_active FROM auth_login_candidate($1)",
            )
            .bind::<Text, _>(lookup_email)
            .get_result(c)
            .await
            .optional()
            .map_err(DbError::from)
        })
        .await?;
    let stored = candidate
        .as_ref()
        .map_or_else(|| dummy_hash().to_owned(), |c| c.password_hash.clone());
    let matches = password::verify_off_thread(password_attempt, stored).await;
    let Some(candidate) = candidate.filter(|c| matches && c.is_active) else {
        throttle::record_failure(db, &subjects).await?;
        tracing::info!("sign-in refused");
        return Err(TenancyError::InvalidCredentials);
    };
    throttle::clear_account(db, &subjects).await?;
    let org = OrgId(candidate.org_id);
    let user_agent = client
        .user_agent
        .as_deref()
        .map(|ua| ua.chars().take(512).collect::<String>());
    let (session, user) = db
        .tenant(org, async move |tx| {
            let user: UserRow = diesel::update(
                users::table
                    .filter(users::id.eq(candidate.user_id))
                    .filter(db::same_tenant(users::org_id, org.0)),
            )
            .set(users::last_login_at.eq(Some(Utc::now())))
            .returning(UserRow::as_returning())
            .get_result(tx)
            .await?;
            let role: Role = user.role.parse()?;
            let session = create_session(tx, user.id, role, user_agent).await?;
            Ok::<_, TenancyError>((session, user))
        })
        .await?;
    let (token, expires_at) = session.sign(keys)?;
    let signed_in = SignedIn {
        token,
        expires_at,
        user,
    };
    tracing::info!(org_id = %org, user_id = %signed_in.user.id, "signed in");
    Ok(signed_in)
}

/// A session row just inserted; [`NewSession::sign`] turns it into the bearer token.
pub(crate) struct NewSession {
    claims: Claims,
    expires_at: DateTime<Utc>,
}

impl NewSession {
    /// Signs the token (outside the transaction).
    pub(crate) fn sign(self, keys: &JwtKeys) -> Result<(String, DateTime<Utc>), TenancyError> {
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &self.claims, &keys.encoding)
                .map_err(|_| TenancyError::Crypto("signing the token failed"))?;
        Ok((token, self.expires_at))
    }
}

/// Inserts a session for a user (inside the caller's tenant transaction). Used by sign-in and
/// sign-up.
pub(crate) async fn create_session(
    tx: &mut TenantTx,
    user_id: Uuid,
    role: Role,
    user_agent: Option<String>,
) -> Result<NewSession, TenancyError> {
    let org = tx.org();
    let session_id = Uuid::new_v4();
    let jti = hex::encode(random_bytes::<32>()?);
    let now = Utc::now();
    let expires_at = now + Duration::days(SESSION_TTL_DAYS);
    diesel::insert_into(user_sessions::table)
        .values((
            user_sessions::id.eq(session_id),
            user_sessions::org_id.eq(org.0),
            user_sessions::user_id.eq(user_id),
            user_sessions::token_hash.eq(sha256(jti.as_bytes())),
            user_sessions::user_agent.eq(user_agent),
            user_sessions::expires_at.eq(expires_at),
        ))
        .execute(tx)
        .await?;
    Ok(NewSession {
        claims: Claims {
            sub: user_id,
            role,
            sid: session_id,
            jti,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            app_metadata: AppMetadata { org_id: org.0 },
        },
        expires_at,
    })
}

/// What `auth_session_check` found.
struct SessionCheck {
    token_hash: Vec<u8>,
    role: String,
    stale: bool,
}

/// Checks a bearer token on a request: signature and expiry (HS256 only), then, through the
/// narrow `auth_session_check` function (one round trip), that the session the token names
/// exists in the token's organization for the token's user, is neither revoked nor expired,
/// belongs to the token (constant-time hash comparison) and that its user is active. Refreshes
/// `last_seen_at` at most once a minute.
///
/// # Errors
/// [`TenancyError::Unauthenticated`] for any failure of the token or session;
/// [`TenancyError::Db`].
pub async fn authenticate(
    db: &Db,
    keys: &JwtKeys,
    token: &str,
) -> Result<UserPrincipal, TenancyError> {
    let claims = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &keys.validation)
        .map_err(|_| TenancyError::Unauthenticated)?
        .claims;
    let org = OrgId(claims.app_metadata.org_id);
    let presented = sha256(claims.jti.as_bytes());
    let (sid, user_id) = (claims.sid, claims.sub);
    let found: Option<SessionCheck> = db
        .system_read(SystemOp::SessionCheck, async move |c| {
            let stale_secs = LAST_SEEN_RESOLUTION_SECS as f64;
            diesel::select(auth_session_check(sid, org.0, user_id, stale_secs))
                .get_result::<(Vec<u8>, String, bool)>(c)
                .await
                .optional()
                .map(|row| {
                    row.map(|(token_hash, role, stale)| SessionCheck {
                        token_hash,
                        role,
                        stale,
                    })
                })
                .map_err(DbError::from)
        })
        .await?;
    let found = found.ok_or(TenancyError::Unauthenticated)?;
    if !bool::from(found.token_hash.ct_eq(&presented)) {
        return Err(TenancyError::Unauthenticated);
    }
    let role: Role = found.role.parse()?;
    if found.stale {
        // At most once a minute per session: record activity in the session's own tenant.
        db.tenant(org, async move |tx| {
            diesel::update(
                user_sessions::table
                    .filter(user_sessions::id.eq(sid))
                    .filter(db::same_tenant(user_sessions::org_id, org.0)),
            )
            .set(user_sessions::last_seen_at.eq(Utc::now()))
            .execute(tx)
            .await?;
            Ok::<_, TenancyError>(())
        })
        .await?;
    }
    Ok(UserPrincipal {
        user_id,
        org_id: org,
        role,
        session_id: sid,
    })
}

/// Ends the principal's session (sign-out).
///
/// # Errors
/// [`TenancyError::Db`].
pub async fn logout(db: &Db, principal: &UserPrincipal) -> Result<(), TenancyError> {
    let (org, sid) = (principal.org_id, principal.session_id);
    db.tenant(org, async move |tx| {
        diesel::update(
            user_sessions::table
                .filter(user_sessions::id.eq(sid))
                .filter(db::same_tenant(user_sessions::org_id, org.0))
                .filter(user_sessions::revoked_at.is_null()),
        )
        .set(user_sessions::revoked_at.eq(Some(Utc::now())))
        .execute(tx)
        .await?;
        Ok::<_, TenancyError>(())
    })
    .await
}

/// Revokes every open session of a user except `keep` (inside the caller's tenant transaction).
/// Returns how many were revoked.
pub(crate) async fn revoke_all(
    tx: &mut TenantTx,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<usize, TenancyError> {
    let org = tx.org();
    let open = user_sessions::table
        .filter(user_sessions::org_id.eq(org.0))
        .filter(user_sessions::user_id.eq(user_id))
        .filter(user_sessions::revoked_at.is_null())
        .filter(user_sessions::id.ne(keep.unwrap_or(Uuid::nil())));
    let revoked = diesel::update(open)
        .set(user_sessions::revoked_at.eq(Some(Utc::now())))
        .execute(tx)
        .await?;
    Ok(revoked)
}
