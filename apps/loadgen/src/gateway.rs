//! The gateway under test as its own process: the binary named by `GATEWAY_BIN`, on a free
//! loopback port, against an already migrated database (`DATABASE_URL`, runtime role), with
//! every provider pointed at the [`crate::fakes::FakeProviders`] server and secrets generated
//! for this run (or taken from its own environment, see [`GatewayProcess::start_on`]).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;

use crate::api::Api;

/// The Vapi platform key the gateway is given (the fake Vapi accepts anything).
const VAPI_PRIVATE_KEY: &str = "loadgen-vapi-private-key";

/// A running gateway process; killed when dropped.
pub struct GatewayProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The Vapi webhook secret it expects in `x-vapi-secret` (generated per run).
    pub vapi_secret: String,
}

/// Settings of one start beyond the defaults (for example `DB_POOL_SIZE`).
pub type ExtraEnv<'a> = &'a [(&'a str, &'a str)];

impl GatewayProcess {
    /// Starts `GATEWAY_BIN serve` and waits (up to 60 s) until `/readyz` answers 200.
    ///
    /// # Errors
    /// When `GATEWAY_BIN` or `DATABASE_URL` is unset, the process cannot start, exits, or never
    /// becomes ready.
    pub async fn start(fakes_url: &str, extra: ExtraEnv<'_>) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free loopback port")?
            .port();
        Self::start_on(&format!("127.0.0.1:{port}"), fakes_url, extra).await
    }

    /// [`GatewayProcess::start`] listening on `bind` (`host:port`). The secrets (`JWT_SECRET`,
    /// `API_KEY_PEPPER`, `CREDENTIALS_KEYS` with `CREDENTIALS_ACTIVE_KEY`) are this process's
    /// own when set (`cargo xtask dev` keeps them across restarts), else generated for the run.
    ///
    /// # Errors
    /// As [`GatewayProcess::start`].
    pub async fn start_on(
        bind: &str,
        fakes_url: &str,
        extra: ExtraEnv<'_>,
    ) -> anyhow::Result<Self> {
        let bin =
            std::env::var("GATEWAY_BIN").context("GATEWAY_BIN (the gateway binary) is not set")?;
        let database_url = std::env::var("DATABASE_URL")
            .context("DATABASE_URL (a migrated database, runtime role) is not set")?;
        let base = format!("http://{bind}");
        let vapi_secret = hex(&random_bytes()?);
        let inherited = |name: &str| std::env::var(name).ok();
        let (keyring, active_key) = match (
            inherited("CREDENTIALS_KEYS"),
            inherited("CREDENTIALS_ACTIVE_KEY"),
        ) {
            (Some(keys), Some(active)) => (keys, active),
            _ => (
                format!(
                    "loadgen:{}",
                    base64::engine::general_purpose::STANDARD.encode(random_bytes()?)
                ),
                "loadgen".to_owned(),
            ),
        };
        let jwt_secret =
            inherited("JWT_SECRET").map_or_else(|| random_bytes().map(|b| hex(&b)), Ok)?;
        let pepper =
            inherited("API_KEY_PEPPER").map_or_else(|| random_bytes().map(|b| hex(&b)), Ok)?;
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .env("DATABASE_URL", &database_url)
            .env("MIGRATE_ON_STARTUP", "false")
            .env("BIND_ADDR", bind)
            .env("JWT_SECRET", jwt_secret)
            .env("API_KEY_PEPPER", pepper)
            .env("CREDENTIALS_KEYS", keyring)
            .env("CREDENTIALS_ACTIVE_KEY", active_key)
            .env("PUBLIC_BASE_URL", &base)
            .env("VAPI_PRIVATE_KEY", VAPI_PRIVATE_KEY)
            .env("VAPI_API_BASE_URL", fakes_url)
            .env("VAPI_WEBHOOK_SECRET", &vapi_secret)
            .env("TWILIO_API_BASE_URL", fakes_url)
            .env("RESEND_API_BASE_URL", fakes_url)
            .env("ELEVENLABS_API_BASE_URL", fakes_url)
            .env("GOOGLE_CALENDAR_API_BASE_URL", fakes_url)
            .env("LOG_FORMAT", "text")
            .env(
                "RUST_LOG",
                std::env::var("GATEWAY_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().with_context(|| format!("starting {bin}"))?;
        let mut gateway = Self {
            child,
            base,
            vapi_secret,
        };
        let api = Api::new(&gateway.base)?;
        for _ in 0..600 {
            if let Ok(reply) = api.send("GET", "/readyz", None, &[], None).await
                && reply.status == 200
            {
                return Ok(gateway);
            }
            if let Some(status) = gateway.child.try_wait()? {
                bail!("the gateway exited during start-up ({status})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the gateway was not ready after 60 s")
    }

    /// The process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now (`VmRSS`) and at its peak so far (`VmHWM`), in KiB (Linux; 0 when
    /// unreadable).
    #[must_use]
    pub fn memory_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lower-case hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes from the operating system's CSPRNG.
///
/// # Errors
/// When `/dev/urandom` cannot be read.
pub fn random_bytes() -> anyhow::Result<[u8; 32]> {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes)
}
