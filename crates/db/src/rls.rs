//! The tenancy audit behind `cargo xtask check-rls` (SPEC, "Tenancy model").
//!
//! A table is a tenant table when it has an `org_id` column (and `organizations` itself, keyed by
//! `id`). Each must have row-level security enabled **and forced**, at least one policy, and every
//! permissive policy must test the tenant (`current_org_id()` or `app.current_org_id`), because
//! permissive policies are OR-ed: one `USING (true)` beside a tenant policy would open the table.
//! The runtime role must not be a superuser, must not bypass RLS, must own no table and must not
//! be a member of the owner role.

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::{Db, DbError, OWNER_ROLE, RUNTIME_ROLE};

/// One broken tenancy rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RlsViolation {
    /// The table (or, for role problems, the role) concerned.
    pub object: String,
    /// What is wrong, in words an operator can act on.
    pub problem: String,
}

impl std::fmt::Display for RlsViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.object, self.problem)
    }
}

#[derive(QueryableByName)]
struct TenantTable {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Bool)]
    rls_enabled: bool,
    #[diesel(sql_type = Bool)]
    rls_forced: bool,
    #[diesel(sql_type = Bool)]
    has_policy: bool,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    open_policies: Vec<String>,
}

const TENANT_TABLES: &str = r"
SELECT c.relname::text AS table_name,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid) AS has_policy,
       ARRAY(
         SELECT p.polname::text FROM pg_policy p
          WHERE p.polrelid = c.oid AND p.polpermissive
            AND NOT (coalesce(pg_get_expr(p.polqual, p.polrelid), '') ~ '(current_org_id\(\)|app\.current_org_id)'
                     AND (p.polwithcheck IS NULL
                          OR pg_get_expr(p.polwithcheck, p.polrelid) ~ '(current_org_id\(\)|app\.current_org_id)'))
          ORDER BY 1
       ) AS open_policies
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public'
   AND c.relkind IN ('r', 'p')
   AND (c.relname = 'organizations'
        OR EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped))
 ORDER BY 1";

#[derive(QueryableByName)]
struct RoleFacts {
    #[diesel(sql_type = Bool)]
    exists: bool,
    #[diesel(sql_type = Bool)]
    superuser: bool,
    #[diesel(sql_type = Bool)]
    bypass_rls: bool,
    #[diesel(sql_type = Bool)]
    member_of_owner: bool,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    owned_tables: Vec<String>,
}

const RUNTIME_ROLE_FACTS: &str = r"
SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS exists,
       coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = $1), false) AS superuser,
       coalesce((SELECT rolbypassrls FROM pg_roles WHERE rolname = $1), false) AS bypass_rls,
       coalesce((SELECT pg_has_role($1, $2, 'MEMBER')
                   WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2)), false) AS member_of_owner,
       ARRAY(SELECT c.relname::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
              WHERE r.rolname = $1 AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1) AS owned_tables";

/// Audits the database `conn` is connected to. Empty result: every rule holds.
///
/// # Errors
/// [`DbError`] when the catalog queries fail.
pub async fn audit(conn: &mut AsyncPgConnection) -> Result<Vec<RlsViolation>, DbError> {
    let mut violations = Vec::new();
    let tables: Vec<TenantTable> = diesel::sql_query(TENANT_TABLES).load(conn).await?;
    for t in tables {
        let mut problem = |p: String| {
            violations.push(RlsViolation {
                object: t.table_name.clone(),
                problem: p,
            });
        };
        if !t.rls_enabled {
            problem(
                "row-level security is not enabled (ALTER TABLE … ENABLE ROW LEVEL SECURITY)"
                    .into(),
            );
        }
        if !t.rls_forced {
            problem(
                "row-level security is not forced (ALTER TABLE … FORCE ROW LEVEL SECURITY)".into(),
            );
        }
        if !t.has_policy {
            problem("no policy: add one keyed on current_org_id()".into());
        }
        for name in &t.open_policies {
            problem(format!(
                "permissive policy {name} does not restrict rows to current_org_id() in USING and WITH CHECK"
            ));
        }
    }

    let facts: RoleFacts = diesel::sql_query(RUNTIME_ROLE_FACTS)
        .bind::<Text, _>(RUNTIME_ROLE)
        .bind::<Text, _>(OWNER_ROLE)
        .get_result(conn)
        .await?;
    let mut role_problem = |p: String| {
        violations.push(RlsViolation {
            object: format!("role {RUNTIME_ROLE}"),
            problem: p,
        });
    };
    if !facts.exists {
        role_problem("does not exist".into());
    }
    if facts.superuser {
        role_problem("is a superuser (superusers skip row-level security)".into());
    }
    if facts.bypass_rls {
        role_problem("has BYPASSRLS".into());
    }
    if facts.member_of_owner {
        role_problem(format!(
            "is a member of {OWNER_ROLE} and so acts as the table owner"
        ));
    }
    if !facts.owned_tables.is_empty() {
        role_problem(format!(
            "owns relations {:?}; the runtime role must own nothing",
            facts.owned_tables
        ));
    }
    Ok(violations)
}

#[derive(QueryableByName)]
struct CurrentRole {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    superuser: bool,
    #[diesel(sql_type = Bool)]
    bypass_rls: bool,
}

/// Fails when the pool's role could skip row-level security (superuser or `BYPASSRLS`). The
/// gateway calls this at start-up so that a mis-set `DATABASE_URL` (for example the owner's) stops
/// it instead of silently serving without tenant isolation.
///
/// # Errors
/// [`DbError::UnsafeServingRole`] naming the role; [`DbError`] when the query fails.
pub async fn check_serving_role(db: &Db) -> Result<(), DbError> {
    let mut conn = db.conn().await?;
    let role: CurrentRole = diesel::sql_query(
        "SELECT current_user::text AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls \
           FROM pg_roles r WHERE r.rolname = current_user",
    )
    .get_result(&mut *conn)
    .await?;
    if role.superuser || role.bypass_rls {
        return Err(DbError::UnsafeServingRole { role: role.name });
    }
    Ok(())
}
