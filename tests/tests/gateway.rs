//! Contract cases for the gateway's own surface (health, readiness, error shapes). Provider
//! suites (Vapi, Dialpad, Twilio) add their own files beside this one.

#[tokio::test(flavor = "multi_thread")]
async fn gateway_fixtures() {
    contract_tests::replay_all("gateway").await;
}
