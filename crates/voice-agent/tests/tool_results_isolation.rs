//! `vapi_tool_results` (one row per effectful tool call) is confined to its organization by
//! forced row-level security, like every tenant table.

#![allow(missing_docs)]

use db::test_support::{IsolationProbe, TestDatabase, assert_tenant_isolation};
use db::{AsyncPgConnection, DbError, OrgId};
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

fn insert_result(
    c: &mut AsyncPgConnection,
    org: OrgId,
) -> db::ConnFuture<'_, Result<Uuid, DbError>> {
    let id = Uuid::new_v4();
    Box::pin(async move {
        diesel::sql_query(
            "INSERT INTO vapi_tool_results (org_id, tool_call_id, tool_name, reply) \
             VALUES ($1, $2, 'bookClinicAppointment', '{\"speech\": \"Booked.\"}')",
        )
        .bind::<SqlUuid, _>(org.0)
        .bind::<Text, _>(id.to_string())
        .execute(c)
        .await?;
        Ok(id)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_call_results_are_isolated_between_organizations() {
    let test_db = TestDatabase::new().await;
    let probe = IsolationProbe {
        table: "vapi_tool_results",
        tenant_column: "org_id",
        id_column: "tool_call_id::uuid",
        insert: &insert_result,
    };
    assert_tenant_isolation(&test_db.db(), &probe).await;
}
