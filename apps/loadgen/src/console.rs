//! `loadgen console -- <command…>`: the console's browser suite's world. A gateway process
//! serving the built console (`CONSOLE_DIR`) on a fresh database, providers faked on loopback,
//! the two demo clinics set up through the API and the first one's day of calls replayed
//! ([`crate::demo::seeded_clinics`]); then `command` runs with the world described in its
//! environment and its exit status is the result.
//!
//! The command's environment: `CONSOLE_URL` (the gateway's origin), `VAPI_SECRET` (the webhook
//! secret, for posting Vapi messages), and for each clinic `X` of `A` (with calls) and `B`
//! (another organization): `CLINIC_X_NAME`, `CLINIC_X_EMAIL`, `CLINIC_X_PASSWORD`,
//! `CLINIC_X_NUMBER` (E.164), `CLINIC_X_PHONE_NUMBER_ID` (Vapi's id of that number).

use anyhow::{Context as _, ensure};

use crate::api::Api;
use crate::clinic::{Clinic, MANAGER_PASSWORD};
use crate::fakes::FakeProviders;
use crate::gateway::GatewayProcess;

/// Sets the world up, runs `command` in it, and answers whether it succeeded.
///
/// # Errors
/// When `CONSOLE_DIR` is unset, the world cannot be set up, or `command` cannot start.
pub async fn run(command: &[String]) -> anyhow::Result<bool> {
    let (program, args) = command
        .split_first()
        .context("usage: loadgen console -- <command…>")?;
    let console_dir =
        std::env::var("CONSOLE_DIR").context("CONSOLE_DIR (the built console) is not set")?;
    let fakes = FakeProviders::start().await;
    let gateway = GatewayProcess::start(&fakes.uri(), &[("CONSOLE_DIR", &console_dir)]).await?;
    let api = Api::new(&gateway.base)?;
    let run_id = format!("{:x}", chrono::Utc::now().timestamp_millis());
    let (a, b) = crate::demo::seeded_clinics(&api, &gateway.vapi_secret, &run_id).await?;
    eprintln!(
        "console: gateway {} with {} and {}",
        gateway.base, a.name, b.name
    );
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .env("CONSOLE_URL", &gateway.base)
        .env("VAPI_SECRET", &gateway.vapi_secret);
    for (prefix, clinic) in [("CLINIC_A", &a), ("CLINIC_B", &b)] {
        describe(&mut cmd, prefix, clinic);
    }
    // The gateway and the fake providers keep serving on this runtime's other threads.
    let status = tokio::task::block_in_place(|| cmd.status())
        .with_context(|| format!("starting {program}"))?;
    ensure!(status.code().is_some(), "{program} was killed ({status})");
    Ok(status.success())
}

fn describe(cmd: &mut std::process::Command, prefix: &str, clinic: &Clinic) {
    cmd.env(format!("{prefix}_NAME"), clinic.name)
        .env(format!("{prefix}_EMAIL"), &clinic.email)
        .env(format!("{prefix}_PASSWORD"), MANAGER_PASSWORD)
        .env(format!("{prefix}_NUMBER"), clinic.number)
        .env(format!("{prefix}_PHONE_NUMBER_ID"), &clinic.phone_number_id);
}

/// The run suffix of the development database's demo clinics (`sunrise-aesthetics-dev`).
const DEV_RUN: &str = "dev";

/// `loadgen dev`: the product for a person at a browser. The gateway on `BIND_ADDR` (default
/// `127.0.0.1:8080`) against the development database (`DATABASE_URL`), serving the console
/// (`CONSOLE_DIR`), with Vapi, Twilio, Resend, ElevenLabs and Google Calendar answered by the
/// local stand-ins (so follow-up SMS and shared recordings succeed and show as sent). On first
/// run the demo clinics are set up and a day of calls replayed through the same Vapi messages
/// as real traffic ([`crate::demo::seeded_clinics`]); later runs keep what is there. Runs until
/// Ctrl-C.
///
/// # Errors
/// When `CONSOLE_DIR` is unset, the gateway does not start, or seeding fails.
pub async fn dev() -> anyhow::Result<bool> {
    let console_dir =
        std::env::var("CONSOLE_DIR").context("CONSOLE_DIR (the built console) is not set")?;
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let fakes = FakeProviders::start().await;
    // The secrets `cargo xtask dev` keeps in `target/dev-secrets.env` come through this
    // process's environment, so sessions and sealed credentials survive restarts.
    let gateway =
        GatewayProcess::start_on(&bind, &fakes.uri(), &[("CONSOLE_DIR", &console_dir)]).await?;
    let api = Api::new(&gateway.base)?;
    let email = format!("manager@sunrise-aesthetics-{DEV_RUN}.example");
    let login = serde_json::json!({"email": email, "password": MANAGER_PASSWORD});
    let seeded = api.post("/api/auth/login", None, &login).await?.status == 200;
    if !seeded {
        eprintln!("dev: setting up the demo clinics and replaying their day (about a minute)…");
        crate::demo::seeded_clinics(&api, &gateway.vapi_secret, DEV_RUN).await?;
    }
    eprintln!(
        "\n  Console:    {base}/\n  Demo login: {email} / {MANAGER_PASSWORD}  (Sunrise Aesthetics; \
         manager@lakeside-cosmetic-{DEV_RUN}.example is another organization)\n  \
         API:        {base}/api/openapi.json  ·  {base}/readyz\n  \
         Providers:  local stand-ins at {fakes}\n  Stop:       Ctrl-C\n",
        base = gateway.base,
        fakes = fakes.uri(),
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(true)
}
