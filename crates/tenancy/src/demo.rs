//! The demo organization `cargo xtask dev` seeds, so that a newcomer can sign in at once.

use db::{Db, OrgId};
use uuid::Uuid;

use crate::TenancyError;
use crate::organizations::{self, NewOrganization};

/// Id of the demo organization (fixed, so that seeding is idempotent).
pub const DEMO_ORG_ID: OrgId = OrgId(Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_d3c0));
/// Slug of the demo organization.
pub const DEMO_SLUG: &str = "demo-clinic";
/// Email of the demo admin.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo-clinic.example";
/// Password of the demo admin (a development database only; printed by `cargo xtask dev`).
pub const DEMO_ADMIN_PASSWORD: &str = "sunrise-harbor-2026";

/// What `seed` reports: the organization and how to sign in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoLogin {
    /// The demo organization's id.
    pub org_id: Uuid,
    /// Whether this call created it (false: it already existed).
    pub created: bool,
    /// The admin's email.
    pub email: &'static str,
    /// The admin's password.
    pub password: &'static str,
}

/// Creates the demo organization ("Demo Clinic", id [`DEMO_ORG_ID`]) with its admin unless it
/// exists; idempotent.
///
/// # Errors
/// [`TenancyError`].
pub async fn seed(db: &Db) -> Result<DemoLogin, TenancyError> {
    let created = if db
        .tenant(DEMO_ORG_ID, async |tx| organizations::get(tx).await)
        .await?
        .is_some()
    {
        false
    } else {
        let new = NewOrganization {
            name: "Demo Clinic",
            slug: DEMO_SLUG,
            admin_email: DEMO_ADMIN_EMAIL,
            admin_name: "Demo Admin",
            admin_password: DEMO_ADMIN_PASSWORD,
        };
        organizations::provision_with_id(db, DEMO_ORG_ID, &new).await?;
        true
    };
    Ok(DemoLogin {
        org_id: DEMO_ORG_ID.0,
        created,
        email: DEMO_ADMIN_EMAIL,
        password: DEMO_ADMIN_PASSWORD,
    })
}
