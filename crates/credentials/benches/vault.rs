//! Credential vault costs, on a real PostgreSQL (the test cluster): `get` from the cache, `get`
//! on a cache miss (database read and decryption), and sealing/opening one credential.
//! Run: `cargo bench -p credentials --bench vault` (or `cargo xtask bench`). Prints
//! percentiles; nothing fails on a number.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use credentials::{
    Credential, CredentialService, Keyring, Provider, TwilioApiKey, TwilioCredentials,
    associated_data,
};
use db::OrgId;
use db::test_support::{TestDatabase, create_org};
use secrecy::SecretString;
use zeroize::Zeroizing;

const ITERATIONS: usize = 5_000;

fn twilio() -> Credential {
    Credential::Twilio(TwilioCredentials {
        account_sid: format!("AC{}", "0".repeat(32)),
        auth_token: None,
        api_key: Some(TwilioApiKey {
            sid: format!("SK{}", "1".repeat(32)),
            secret: SecretString::from("x".repeat(32)),
        }),
        phone_number: "+15551234567".into(),
        voice_application_sid: None,
    })
}

fn main() {
    let keyring =
        Arc::new(Keyring::new([("k1".to_owned(), Zeroizing::new(vec![5u8; 32]))], "k1").unwrap());
    println!(
        "vault benchmark: {ITERATIONS} sequential operations, release build, local PostgreSQL"
    );

    let org = OrgId(uuid::Uuid::new_v4());
    let aad = associated_data(org, Provider::Twilio);
    let plain = twilio().to_sealable().unwrap();
    let sealed = keyring.seal(&plain, &aad).unwrap();
    let mut seal = Vec::with_capacity(ITERATIONS);
    let mut open = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let t = Instant::now();
        std::hint::black_box(keyring.seal(&plain, &aad).unwrap());
        seal.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(keyring.open(&sealed, &aad).unwrap());
        open.push(t.elapsed());
    }
    latency_stats::report("seal (AES-256-GCM)", &seal, "");
    latency_stats::report("open (AES-256-GCM)", &open, "");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let test_db = TestDatabase::new().await;
        let db = test_db.db();
        let service = CredentialService::new(db.clone(), keyring.clone());
        let mut orgs = Vec::new();
        for i in 0..100 {
            let org = create_org(&db, &format!("Clinic {i}")).await;
            service
                .store(org, &twilio(), true, &tenancy::audit::ChangedBy::system())
                .await
                .unwrap();
            orgs.push(org);
        }
        let mut hits = Vec::with_capacity(ITERATIONS);
        service.get::<TwilioCredentials>(orgs[0]).await.unwrap();
        for _ in 0..ITERATIONS {
            let t = Instant::now();
            std::hint::black_box(service.get::<TwilioCredentials>(orgs[0]).await.unwrap());
            hits.push(t.elapsed());
        }
        latency_stats::report("get, cached", &hits, "");

        // A fresh service per round makes every get a miss (database + decryption).
        let mut misses = Vec::with_capacity(ITERATIONS / 5);
        for i in 0..ITERATIONS / 5 {
            let cold = CredentialService::new(db.clone(), keyring.clone());
            let t = Instant::now();
            std::hint::black_box(
                cold.get::<TwilioCredentials>(orgs[i % orgs.len()])
                    .await
                    .unwrap(),
            );
            misses.push(t.elapsed());
        }
        latency_stats::report("get, cache miss (db + decrypt)", &misses, "");
    });
}
