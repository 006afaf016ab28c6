//! Contract cases for Dialpad call-event webhooks (`tests/fixtures/dialpad/`): payloads written
//! from the telephony contract, A.3, signed (A.2) and unsigned.

#[tokio::test(flavor = "multi_thread")]
async fn dialpad_fixtures() {
    contract_tests::replay_all("dialpad").await;
}
