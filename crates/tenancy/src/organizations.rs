//! Organizations and provisioning one with its first admin (seed 001 §2A onboarding).

use crate::schema::{organizations, users};
use chrono::{DateTime, Utc};
use db::{AsyncPgConnection, Db, OrgId, TenantTx};
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::sessions::{self, ClientInfo, JwtKeys, SignedIn};
use crate::users::{Role, UserRow, normalize_email};
use crate::{TenancyError, password};

/// An organization row.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = organizations, check_for_backend(diesel::pg::Pg))]
#[schema(as = OrganizationBody)]
pub struct Organization {
    /// The org id (tenant key).
    pub id: Uuid,
    /// Display name, 1–200 characters.
    pub name: String,
    /// URL-safe unique handle: `^[a-z0-9][a-z0-9-]{1,62}$`.
    pub slug: String,
    /// IANA time zone name used for appointments (for example `Europe/London`).
    pub time_zone: String,
    /// Creation time, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    #[serde(skip)]
    pub updated_at: DateTime<Utc>,
}

/// What provisioning needs: the organization and its first admin. The password is plain text
/// here and is only ever stored as an argon2id hash.
pub struct NewOrganization<'a> {
    /// Organization display name.
    pub name: &'a str,
    /// Organization slug (see [`Organization::slug`]).
    pub slug: &'a str,
    /// First admin's email.
    pub admin_email: &'a str,
    /// First admin's display name.
    pub admin_name: &'a str,
    /// First admin's password (8–128 characters).
    pub admin_password: &'a str,
}

impl std::fmt::Debug for NewOrganization<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOrganization")
            .field("name", &self.name)
            .field("slug", &self.slug)
            .field("admin_email", &self.admin_email)
            .field("admin_password", &"[redacted]")
            .finish_non_exhaustive()
    }
}

fn validate_slug(slug: &str) -> Result<(), TenancyError> {
    let ok = (2..=63).contains(&slug.len())
        && slug.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(TenancyError::Invalid(
            "slug must be 2-63 characters of a-z, 0-9 and '-', starting with a letter or digit"
                .into(),
        ))
    }
}

/// Creates an organization and its first admin in one tenant transaction (the new org's id is
/// the tenant, so row-level security admits exactly these rows). Nothing is written when any
/// step fails.
///
/// # Errors
/// [`TenancyError::Invalid`] for bad input, [`TenancyError::SlugTaken`],
/// [`TenancyError::EmailTaken`], [`TenancyError::Db`].
pub async fn provision(
    db: &Db,
    new: &NewOrganization<'_>,
) -> Result<(Organization, UserRow), TenancyError> {
    provision_with_id(db, OrgId::new_random(), new).await
}

/// [`provision`] with a chosen org id (fixed ids for demo data).
///
/// # Errors
/// As [`provision`].
pub async fn provision_with_id(
    db: &Db,
    org_id: OrgId,
    new: &NewOrganization<'_>,
) -> Result<(Organization, UserRow), TenancyError> {
    let rows = Validated::new(new).await?;
    db.tenant(org_id, async move |tx| rows.insert(tx, org_id).await)
        .await
}

/// Sign-up (`POST /api/auth/signup`): checks the password's strength against the account's own
/// details, provisions the organization and its first admin, and signs the admin in, all in one
/// transaction.
///
/// # Errors
/// As [`provision`], plus [`TenancyError::Invalid`] for a weak or reused password.
pub async fn signup(
    db: &Db,
    keys: &JwtKeys,
    new: &NewOrganization<'_>,
    client: &ClientInfo,
) -> Result<(Organization, SignedIn), TenancyError> {
    password::check_strength(
        new.admin_password,
        &[new.admin_email, new.admin_name, new.name, new.slug],
    )?;
    let rows = Validated::new(new).await?;
    let org_id = OrgId::new_random();
    let user_agent = client.user_agent.clone();
    let (org, user, session) = db
        .tenant(org_id, async move |tx| {
            let (org, user) = rows.insert(tx, org_id).await?;
            let session = sessions::create_session(tx, user.id, Role::Admin, user_agent).await?;
            Ok::<_, TenancyError>((org, user, session))
        })
        .await?;
    let (token, expires_at) = session.sign(keys)?;
    Ok((
        org,
        SignedIn {
            token,
            expires_at,
            user,
        },
    ))
}

/// Checked, normalised provisioning input with the password already hashed.
struct Validated {
    name: String,
    slug: String,
    admin_name: String,
    email: String,
    password_hash: String,
}

impl Validated {
    async fn new(new: &NewOrganization<'_>) -> Result<Self, TenancyError> {
        validate_slug(new.slug)?;
        Ok(Self {
            name: crate::validate_display_name("organization name", new.name)?,
            slug: new.slug.to_owned(),
            admin_name: crate::validate_display_name("name", new.admin_name)?,
            email: normalize_email(new.admin_email)?,
            password_hash: password::hash_off_thread(new.admin_password).await?,
        })
    }

    async fn insert(
        self,
        c: &mut AsyncPgConnection,
        org_id: OrgId,
    ) -> Result<(Organization, UserRow), TenancyError> {
        let org: Organization = diesel::insert_into(organizations::table)
            .values((
                organizations::id.eq(org_id.0),
                organizations::name.eq(self.name),
                organizations::slug.eq(self.slug),
            ))
            .returning(Organization::as_returning())
            .get_result(c)
            .await
            .map_err(|e| unique_as(e, TenancyError::SlugTaken))?;
        let admin: UserRow = diesel::insert_into(users::table)
            .values((
                users::id.eq(Uuid::new_v4()),
                users::org_id.eq(org_id.0),
                users::email.eq(self.email),
                users::name.eq(self.admin_name),
                users::role.eq(Role::Admin.as_str()),
                users::password_hash.eq(self.password_hash),
            ))
            .returning(UserRow::as_returning())
            .get_result(c)
            .await
            .map_err(|e| unique_as(e, TenancyError::EmailTaken))?;
        Ok((org, admin))
    }
}

/// Reads the organization itself, within its own tenant scope.
///
/// # Errors
/// [`TenancyError::Db`].
pub async fn get(tx: &mut TenantTx) -> Result<Option<Organization>, TenancyError> {
    let org_id = tx.org();
    organizations::table
        .filter(organizations::id.eq(org_id.0))
        .select(Organization::as_select())
        .first(tx)
        .await
        .optional()
        .map_err(TenancyError::from)
}

fn unique_as(e: diesel::result::Error, conflict: TenancyError) -> TenancyError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => conflict,
        other => other.into(),
    }
}
