//! Decision 52: a statement that finds rows by a key without `org_id` and checks the tenant with
//! [`db::same_tenant`] reaches them through the key's index even under a cached generic plan,
//! on the young tables where PostgreSQL 15 would otherwise pick an `org_id`-led listing index.
#![allow(clippy::unwrap_used)]

use db::test_support::TestDatabase;
use diesel::pg::Pg;
use diesel::{ExpressionMethods, QueryDsl};
use uuid::Uuid;

/// Just the columns these statements touch, of tables that have `org_id`-led indexes.
#[allow(missing_docs)]
mod schema {
    diesel::table! { call_logs (id) { id -> Uuid, org_id -> Uuid, vapi_call_id -> Nullable<Text>, } }
    diesel::table! { contacts (id) { id -> Uuid, org_id -> Uuid, } }
    diesel::table! { users (id) { id -> Uuid, org_id -> Uuid, } }
    diesel::table! { kb_documents (id) { id -> Uuid, org_id -> Uuid, } }
}
use schema::{call_logs, contacts, kb_documents, users};

/// The statement's text as diesel sends it (placeholders `$1`, `$2`).
fn statement<Q: diesel::query_builder::QueryFragment<Pg>>(query: &Q) -> String {
    let shown = diesel::debug_query::<Pg, _>(query).to_string();
    shown.split(" -- binds:").next().unwrap().to_owned()
}

/// The generic plan PostgreSQL caches for `sql`, whose parameters have the SQL `types` (each
/// given a fresh UUID's text, which every type here accepts).
fn generic_plan(test: &TestDatabase, sql: &str, types: &[&str]) -> String {
    let values: Vec<String> = types
        .iter()
        .map(|_| format!("'{}'", Uuid::new_v4()))
        .collect();
    test.psql_superuser(&format!(
        "SET plan_cache_mode = force_generic_plan; PREPARE probe({}) AS {sql}; \
         EXPLAIN (COSTS OFF) EXECUTE probe({});",
        types.join(", "),
        values.join(", "),
    ))
}

/// A read of `$table`'s row by primary key with the tenant check of decision 52, as a case:
/// its text, its parameter types, and the index it must use (`<table>_pkey`).
macro_rules! read_by_id {
    ($table:ident, $id:expr, $org:expr) => {
        (
            statement(
                &$table::table
                    .filter($table::id.eq($id))
                    .filter(db::same_tenant($table::org_id, $org))
                    .select($table::id),
            ),
            &["uuid", "uuid"][..],
            concat!(stringify!($table), "_pkey"),
        )
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_key_statements_keep_to_the_key_index_under_a_generic_plan() {
    let test = TestDatabase::new().await;
    let (id, org) = (Uuid::new_v4(), Uuid::new_v4());
    let cases = [
        read_by_id!(call_logs, id, org),
        (
            statement(
                &call_logs::table
                    .filter(call_logs::vapi_call_id.eq("call"))
                    .filter(db::same_tenant(call_logs::org_id, org))
                    .select(call_logs::id),
            ),
            &["text", "uuid"][..],
            "call_logs_vapi_call_id_key",
        ),
        (
            statement(
                &diesel::update(
                    contacts::table
                        .filter(contacts::id.eq(id))
                        .filter(db::same_tenant(contacts::org_id, org)),
                )
                .set(contacts::org_id.eq(org)),
            ),
            &["uuid", "uuid", "uuid"][..],
            "contacts_pkey",
        ),
        read_by_id!(users, id, org),
        read_by_id!(kb_documents, id, org),
    ];
    for (sql, types, index) in cases {
        let plan = generic_plan(&test, &sql, types);
        assert!(sql.contains("IS NOT DISTINCT FROM"), "{sql}");
        assert!(
            plan.contains(&format!("using {index}")),
            "{sql}\nchose:\n{plan}"
        );
    }
}
