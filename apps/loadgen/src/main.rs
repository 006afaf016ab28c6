//! `loadgen`: drives a gateway **process** through its public HTTP and WebSocket interfaces
//! only, with Vapi and Twilio faked at the HTTP level on loopback.
//!
//! - `loadgen demo`: replays a realistic day of two clinics and checks what a clinic owner
//!   would check ([`demo`]); exits 1 when any check fails.
//! - `loadgen dev`: the gateway for `cargo xtask dev`, with the providers' stand-ins and the
//!   demo clinics seeded on first run ([`console::dev`]).
//! - `loadgen console -- <command…>`: runs `command` (the console's browser suite) against a
//!   gateway serving the console, with the demo clinics set up ([`console`]).
//! - `loadgen bench [--out FILE]`: load scenarios at a fixed rate and at saturation, with
//!   latency histograms and the gateway's memory ([`bench`]); writes JSON to `FILE`.
//! - `loadgen hot [--out FILE]`: the four hot paths at saturation, beside the seed's own stack
//!   when one is given, with round trips, commits, WAL flushes and CPU per request ([`hot`]).
//!
//! Environment: `GATEWAY_BIN` (the gateway binary to start), `DATABASE_URL` (a migrated
//! database, runtime role), optionally `EMBEDDING_MODEL_DIR` and `GATEWAY_LOG` (the gateway's
//! `RUST_LOG`, default `warn`). `cargo xtask demo` and `cargo xtask bench` set them up.

mod api;
mod bench;
mod clinic;
mod console;
mod demo;
mod fakes;
mod gateway;
mod hot;
mod stats;
mod wire;
mod ws;

use std::process::ExitCode;

fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match args
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["demo"] => demo::run().await,
            ["dev"] => console::dev().await,
            ["console", "--", command @ ..] => {
                let command: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
                console::run(&command).await
            }
            ["bench"] => bench::run(None).await,
            ["bench", "--out", file] => bench::run(Some(file)).await,
            ["hot"] => hot::run(None).await,
            ["hot", "--out", file] => hot::run(Some(file)).await,
            _ => Err(anyhow::anyhow!(
                "usage: loadgen demo | loadgen dev | loadgen console -- <command…> | loadgen bench [--out FILE] | loadgen hot [--out FILE]"
            )),
        }
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}
