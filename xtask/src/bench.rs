//! `cargo xtask bench [load|hot|peer]`: the benchmarks, all on release builds and, for the load
//! runs, on a **durable** PostgreSQL cluster (`target/postgres/bench`: `fsync`,
//! `synchronous_commit` and `full_page_writes` on, `pg_stat_statements` loaded), so that their
//! numbers mean what production would see (issue 22).
//!
//! - `bench`: the domain crates' own benchmarks, then `load`.
//! - `bench load`: `loadgen bench` against the release gateway → `target/bench/loadgen.json`.
//! - `bench hot`: `loadgen hot` (the four hot paths at saturation, with round trips, commits,
//!   WAL flushes and CPU per request) → `target/bench/hot.json`.
//! - `bench peer`: `bench hot` with the seed's own stack (`../shared/bench-peer`, or
//!   `BENCH_PEER_DIR`: Express + node-postgres, installed here with `npm ci`) measured side by
//!   side on the same cluster, with the ratios printed.
//!
//! `BENCH_BASELINE_GATEWAY=<binary>` runs the same load first against that binary and prints
//! both side by side.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use local_postgres::{Cluster, Profile, roles};

use crate::{
    Result, ScratchDb, cargo, loadgen_bin, migrate_with_gateway, model_dir, models, root, run,
    scratch_db_on, step, target_dir,
};

/// Which benchmarks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The crates' benchmarks and the load scenarios.
    All,
    /// The load scenarios only.
    Load,
    /// The hot paths only.
    Hot,
    /// The hot paths beside the seed's stack.
    Peer,
}

/// Runs the benchmarks of `mode` (module docs).
pub fn run_mode(mode: Mode) -> Result {
    models()?;
    if mode == Mode::All {
        step("crate benchmarks", crate_benches)?;
    }
    step("load benchmarks", || {
        run(
            "building the release gateway",
            cargo().args([
                "build",
                "--quiet",
                "--locked",
                "--release",
                "--package",
                "gateway",
                "--bin",
                "gateway",
            ]),
        )?;
        let bin = target_dir().join("release/gateway");
        let loadgen = loadgen_bin(true)?;
        let dir = target_dir().join("bench");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let cluster = Cluster::ensure_running(&target_dir().join("postgres/bench"), Profile::Bench)
            .map_err(|e| e.to_string())?;
        let peer = if mode == Mode::Peer {
            Some(Peer::start(&cluster)?)
        } else {
            None
        };
        let (args, file) = match mode {
            Mode::All | Mode::Load => ("bench", "loadgen"),
            Mode::Hot | Mode::Peer => ("hot", "hot"),
        };
        let baseline = std::env::var_os("BENCH_BASELINE_GATEWAY").map(PathBuf::from);
        let out = |suffix: &str| dir.join(format!("{file}{suffix}.json"));
        if let Some(baseline) = &baseline {
            load_run(
                &cluster,
                &loadgen,
                baseline,
                args,
                &out("-baseline"),
                peer.as_ref(),
            )?;
        }
        load_run(&cluster, &loadgen, &bin, args, &out(""), peer.as_ref())?;
        if baseline.is_some() {
            print_comparison(&out("-baseline"), &out(""))?;
        }
        Ok(())
    })
}

fn crate_benches() -> Result {
    run(
        "crate benchmarks",
        cargo().args([
            "bench",
            "--locked",
            "--package",
            "tenancy",
            "--package",
            "credentials",
            "--package",
            "telephony-gsm",
            "--package",
            "scheduling",
            "--package",
            "rag",
            "--package",
            "webhooks",
            "--benches",
        ]),
    )
}

/// One `loadgen <command>` run against gateway binary `bin` on a fresh database of the bench
/// cluster, written to `out`; with the peer's settings when one runs.
fn load_run(
    cluster: &Cluster,
    loadgen: &Path,
    bin: &Path,
    command: &str,
    out: &Path,
    peer: Option<&Peer>,
) -> Result {
    let out = out.to_str().ok_or("target path is not UTF-8")?;
    scratch_db_on(cluster, migrate_with_gateway(bin), |db: &ScratchDb| {
        let mut cmd = Command::new(loadgen);
        cmd.args([command, "--out", out])
            .current_dir(root())
            .env("GATEWAY_BIN", bin)
            .env("DATABASE_URL", &db.runtime_url)
            .env("BENCH_STATS_URL", &db.superuser_url)
            .env("EMBEDDING_MODEL_DIR", model_dir());
        eprintln!("xtask: load run on {} ({})", db.name, bin.display());
        if let Some(peer) = peer {
            cmd.env("PEER_URL", &peer.url)
                .env("PEER_SECRET", &peer.secret)
                .env("PEER_PID", peer.child.id().to_string())
                .env("PEER_DATABASE_URL", &peer.database_url);
        }
        run("loadgen", &mut cmd)
    })
}

/// The seed's stack running on the bench cluster (killed when dropped).
struct Peer {
    child: Child,
    url: String,
    secret: String,
    database_url: String,
}

impl Peer {
    const DATABASE: &'static str = "bench_peer";

    /// Copies the peer into `target/bench/peer`, installs its packages, creates its database
    /// from its `schema.sql` and starts it on a free loopback port with a pool of 16.
    fn start(cluster: &Cluster) -> Result<Self> {
        let source = std::env::var_os("BENCH_PEER_DIR")
            .map_or_else(|| root().join("../shared/bench-peer"), PathBuf::from);
        let dir = target_dir().join("bench/peer");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for file in [
            "package.json",
            "package-lock.json",
            "server.js",
            "schema.sql",
        ] {
            std::fs::copy(source.join(file), dir.join(file))
                .map_err(|e| format!("copying the peer's {file} from {}: {e}", source.display()))?;
        }
        if !dir.join("node_modules/express").is_dir() {
            run(
                "npm ci (the peer)",
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir),
            )?;
        }
        let psql = |db: &str, sql: &str| cluster.psql(db, sql).map_err(|e| e.to_string());
        psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", Self::DATABASE),
        )?;
        psql("postgres", &format!("CREATE DATABASE {}", Self::DATABASE))?;
        let schema = std::fs::read_to_string(dir.join("schema.sql"))
            .map_err(|e| format!("the peer's schema.sql: {e}"))?;
        psql(Self::DATABASE, &schema)?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let secret = format!("peer-{}", std::process::id());
        let database_url = cluster.url(roles::SUPERUSER, Self::DATABASE);
        let child = Command::new("node")
            .arg("server.js")
            .current_dir(&dir)
            .env("DATABASE_URL", &database_url)
            .env("PORT", port.to_string())
            .env("VAPI_SECRET", &secret)
            .env("POOL", "16")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting the peer (node server.js): {e}"))?;
        let peer = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            secret,
            database_url,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err("the peer did not listen within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(peer)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prints the two load runs side by side (p99 and throughput per scenario), as a Markdown
/// table for docs/benchmarks.md.
fn print_comparison(baseline: &Path, current: &Path) -> Result {
    let read = |path: &Path| -> Result<serde_json::Value> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    let (before, after) = (read(baseline)?, read(current)?);
    let empty = Vec::new();
    let rows = |v: &serde_json::Value| v["results"].as_array().unwrap_or(&empty).clone();
    eprintln!("| scenario | mode | p99 before | p99 after | per s before | per s after |");
    eprintln!("|---|---|---:|---:|---:|---:|");
    for row in rows(&after) {
        let same = rows(&before)
            .into_iter()
            .find(|b| b["name"] == row["name"] && b["mode"] == row["mode"]);
        let cell = |r: Option<&serde_json::Value>, key: &str| {
            r.and_then(|r| r[key].as_f64())
                .map_or_else(|| "–".to_owned(), |x| format!("{x:.1}"))
        };
        eprintln!(
            "| {} | {} | {} | {} | {} | {} |",
            row["name"].as_str().unwrap_or(""),
            row["mode"].as_str().unwrap_or(""),
            cell(same.as_ref(), "p99_ms"),
            cell(Some(&row), "p99_ms"),
            cell(same.as_ref(), "throughput_per_s"),
            cell(Some(&row), "throughput_per_s"),
        );
    }
    Ok(())
}
