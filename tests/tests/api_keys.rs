//! Contract cases for the seed-000 API-key endpoints (`tests/fixtures/api-keys/`).

#[tokio::test(flavor = "multi_thread")]
async fn api_key_fixtures() {
    contract_tests::replay_all("api-keys").await;
}
