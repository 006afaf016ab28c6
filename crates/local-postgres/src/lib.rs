//! A private PostgreSQL cluster for development and tests.
//!
//! The cluster lives in a directory under `target/` (for example `target/postgres/dev`), is created
//! with `initdb` from the machine's PostgreSQL server binaries on first use, listens on `127.0.0.1`
//! only (no Unix socket), and touches no system service. Every role authenticates with
//! SCRAM-SHA-256; the generated passwords are kept in `<dir>/cluster.env`, readable by the user who
//! created the cluster.
//!
//! PostgreSQL refuses to run as root, so when this process is root the server binaries are run as
//! the unprivileged `postgres` system user (`runuser -u postgres --`), on a data directory that user
//! owns (the stack notes, STACK, "PostgreSQL refuses to run as root").
//!
//! Every cluster gets the project's two roles (see [`roles`]): an owner that owns the tables and runs
//! migrations, and a runtime role that owns nothing and cannot bypass row-level security.
//!
//! Only the standard library is used, so that `xtask` builds in seconds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The project's PostgreSQL roles. The migrations grant to [`RUNTIME`] by name.
pub mod roles {
    /// Cluster superuser created by `initdb`; used only by tooling (create databases and roles).
    pub const SUPERUSER: &str = "postgres";
    /// Owns every table and runs migrations. `BYPASSRLS`, so that it can own the narrow
    /// `SECURITY DEFINER` routing functions; the gateway refuses to serve as such a role.
    pub const OWNER: &str = "platform_owner";
    /// The role the gateway serves requests as: owns nothing, `NOSUPERUSER NOBYPASSRLS`.
    pub const RUNTIME: &str = "platform_runtime";
}

/// Name of the application database created in every cluster.
pub const APP_DATABASE: &str = "platform";

/// Errors of cluster management. Messages name what to do next; none contains a password.
#[derive(Debug)]
pub enum ClusterError {
    /// No PostgreSQL server binaries were found.
    BinariesNotFound {
        /// The places that were searched.
        searched: Vec<PathBuf>,
    },
    /// Running as root, but there is no `postgres` system user to run the server as.
    NoPostgresUser,
    /// A command failed.
    Command {
        /// What was being done.
        what: String,
        /// The command's exit status and the tail of its output.
        detail: String,
    },
    /// A file-system operation failed.
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// `<dir>/cluster.env` is missing a key or is malformed.
    Corrupt {
        /// The cluster directory.
        dir: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The server did not accept connections in time.
    StartTimeout {
        /// The server's log file, to read next.
        log: PathBuf,
    },
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BinariesNotFound { searched } => write!(
                f,
                "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; searched {searched:?} and PATH. \
                 Install PostgreSQL >= 15 server binaries (Debian/Ubuntu: `apt-get install postgresql`), \
                 or set PG_BIN_DIR to the directory holding initdb and pg_ctl"
            ),
            Self::NoPostgresUser => write!(
                f,
                "running as root, and PostgreSQL refuses to run as root, but there is no `postgres` system user \
                 to run it as; install the postgresql package (it creates that user) or run as a normal user"
            ),
            Self::Command { what, detail } => write!(f, "{what} failed: {detail}"),
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::Corrupt { dir, detail } => write!(
                f,
                "cluster directory {} is not usable ({detail}); remove it (`cargo xtask db reset`)",
                dir.display()
            ),
            Self::StartTimeout { log } => write!(
                f,
                "PostgreSQL did not accept connections within 30 s; see {}",
                log.display()
            ),
        }
    }
}

impl std::error::Error for ClusterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Io { what, source }
}

/// How the server is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Durable defaults, for `cargo xtask dev`.
    Dev,
    /// `fsync`, `synchronous_commit` and `full_page_writes` off: a throw-away cluster for one test
    /// run, where speed matters and a crash only costs a re-run.
    Test,
    /// Durable like [`Profile::Dev`] (`fsync`, `synchronous_commit`, `full_page_writes` on), with
    /// `pg_stat_statements` loaded so the load benchmarks can count statements per request.
    Bench,
}

impl Profile {
    /// Settings appended to `postgresql.conf` beyond the common ones. `pg_stat_statements`
    /// (top-level statements) is loaded in test and bench clusters: tests count a request's
    /// round trips with it, benchmarks the statements per request.
    fn settings(self) -> String {
        let statements = "shared_preload_libraries = 'pg_stat_statements'\n\
                          pg_stat_statements.track = top\npg_stat_statements.max = 10000\n";
        match self {
            Self::Dev => String::new(),
            Self::Test => {
                format!(
                    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n{statements}"
                )
            }
            Self::Bench => statements.to_owned(),
        }
    }
}

/// A running cluster: where it listens and how to log in as each role.
#[derive(Debug, Clone)]
pub struct Cluster {
    dir: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    passwords: BTreeMap<String, String>,
}

impl Cluster {
    /// Makes sure the cluster in `dir` exists, runs, and has the project's roles and
    /// [`APP_DATABASE`]; returns it. Safe to call from several processes at once (a lock file
    /// beside `dir` serialises them). Initialises the cluster on first use (`initdb`, ~1 s).
    ///
    /// # Errors
    /// [`ClusterError`] when the binaries are missing or a step fails.
    pub fn ensure_running(dir: &Path, profile: Profile) -> Result<Self, ClusterError> {
        let parent = dir.parent().unwrap_or_else(|| Path::new("."));
        fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
        let lock_path = dir.with_extension("lock");
        let lock = File::create(&lock_path).map_err(io_err(format!(
            "creating lock file {}",
            lock_path.display()
        )))?;
        lock.lock()
            .map_err(io_err(format!("locking {}", lock_path.display())))?;

        let bin_dir = find_bin_dir()?;
        let env_file = dir.join("cluster.env");
        if !env_file.exists() {
            init(dir, &bin_dir, profile)?;
        }
        let cluster = Self::load(dir, bin_dir)?;
        let added = cluster.add_missing_settings(profile)?;
        if added && cluster.is_running() {
            let out = cluster.pg_ctl(&["-w", "-t", "30", "-m", "fast", "stop"])?;
            if !out.status.success() {
                return Err(command_failed("restarting PostgreSQL (pg_ctl stop)", &out));
            }
        }
        if !cluster.is_running() {
            cluster.start()?;
        }
        cluster.bootstrap_roles()?;
        drop(lock);
        Ok(cluster)
    }

    /// Loads a cluster's connection facts without starting it.
    ///
    /// # Errors
    /// [`ClusterError::Corrupt`] when `dir` holds no initialised cluster.
    pub fn open(dir: &Path) -> Result<Self, ClusterError> {
        Self::load(dir, find_bin_dir()?)
    }

    fn load(dir: &Path, bin_dir: PathBuf) -> Result<Self, ClusterError> {
        let env_file = dir.join("cluster.env");
        let text = fs::read_to_string(&env_file).map_err(|e| ClusterError::Corrupt {
            dir: dir.to_path_buf(),
            detail: format!("cannot read cluster.env: {e}"),
        })?;
        let mut port = None;
        let mut passwords = BTreeMap::new();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if key == "port" {
                port = value.parse().ok();
            } else if let Some(role) = key.strip_prefix("password.") {
                passwords.insert(role.to_owned(), value.to_owned());
            }
        }
        let port = port.ok_or_else(|| ClusterError::Corrupt {
            dir: dir.to_path_buf(),
            detail: "no port in cluster.env".into(),
        })?;
        for role in [roles::SUPERUSER, roles::OWNER, roles::RUNTIME] {
            if !passwords.contains_key(role) {
                return Err(ClusterError::Corrupt {
                    dir: dir.to_path_buf(),
                    detail: format!("no password for {role} in cluster.env"),
                });
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            bin_dir,
            port,
            passwords,
        })
    }

    /// The TCP port on `127.0.0.1`.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `postgres://<role>:<password>@127.0.0.1:<port>/<database>` for one of [`roles`].
    ///
    /// # Panics
    /// When `role` is not one of [`roles`] (a programming error).
    #[must_use]
    pub fn url(&self, role: &str, database: &str) -> String {
        let password = self
            .passwords
            .get(role)
            .unwrap_or_else(|| panic!("unknown role {role}"));
        format!(
            "postgres://{role}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Whether the server answers on its port.
    #[must_use]
    pub fn is_running(&self) -> bool {
        TcpStream::connect_timeout(
            &(Ipv4Addr::LOCALHOST, self.port).into(),
            Duration::from_millis(200),
        )
        .is_ok()
            && self.pg_ctl(&["status"]).is_ok_and(|o| o.status.success())
    }

    /// Appends the profile's settings a cluster made by an older version of this crate lacks
    /// (each line whose setting name is absent from `postgresql.conf`); whether any was added
    /// (the server then needs a restart).
    fn add_missing_settings(&self, profile: Profile) -> Result<bool, ClusterError> {
        let path = self.data_dir().join("postgresql.conf");
        let mut conf = fs::read_to_string(&path).map_err(io_err("reading postgresql.conf"))?;
        let settings = profile.settings();
        let missing: Vec<&str> = settings
            .lines()
            .filter(|line| {
                let name = line.split('=').next().unwrap_or_default().trim();
                !conf.lines().any(|l| l.trim_start().starts_with(name))
            })
            .collect();
        if missing.is_empty() {
            return Ok(false);
        }
        conf.push_str("\n# Added by local-postgres\n");
        for line in missing {
            conf.push_str(line);
            conf.push('\n');
        }
        fs::write(&path, conf).map_err(io_err("writing postgresql.conf"))?;
        Ok(true)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<Output, ClusterError> {
        let data = self.data_dir();
        let mut all = vec!["-D", data.to_str().unwrap_or_default()];
        all.extend_from_slice(args);
        run_as_server_user(&self.bin_dir.join("pg_ctl"), &all)
    }

    fn start(&self) -> Result<(), ClusterError> {
        let log = self.log_file();
        let log_arg = log.to_string_lossy().into_owned();
        let out = self.pg_ctl(&["-l", &log_arg, "-w", "-t", "30", "start"])?;
        if !out.status.success() {
            return Err(command_failed("starting PostgreSQL (pg_ctl start)", &out));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(
            &(Ipv4Addr::LOCALHOST, self.port).into(),
            Duration::from_millis(200),
        )
        .is_err()
        {
            if Instant::now() > deadline {
                return Err(ClusterError::StartTimeout { log });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Stops the server (fast shutdown) if it runs.
    ///
    /// # Errors
    /// [`ClusterError::Command`] when `pg_ctl stop` fails on a running server.
    pub fn stop(&self) -> Result<(), ClusterError> {
        if !self.data_dir().join("postmaster.pid").exists() {
            return Ok(());
        }
        let out = self.pg_ctl(&["-m", "fast", "-w", "stop"])?;
        if out.status.success() || !self.is_running() {
            Ok(())
        } else {
            Err(command_failed("stopping PostgreSQL (pg_ctl stop)", &out))
        }
    }

    /// Stops the server and deletes the cluster directory.
    ///
    /// # Errors
    /// When stopping or deleting fails.
    pub fn destroy(dir: &Path) -> Result<(), ClusterError> {
        if dir.join("cluster.env").exists()
            && let Ok(cluster) = Self::open(dir)
        {
            cluster.stop()?;
        }
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(io_err(format!("removing {}", dir.display())))?;
        }
        Ok(())
    }

    /// Runs SQL through `psql` as the superuser on `database`, stopping at the first error.
    /// Returns what `psql` printed (unaligned, tuples only).
    ///
    /// # Errors
    /// [`ClusterError::Command`] with `psql`'s message.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ClusterError> {
        let out = Command::new(self.bin_dir.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                roles::SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ])
            .env("PGPASSWORD", &self.passwords[roles::SUPERUSER])
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("running psql"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(command_failed("psql", &out))
        }
    }

    /// Path of a client or server binary of this cluster's PostgreSQL (for example `psql`).
    #[must_use]
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Creates the owner and runtime roles and [`APP_DATABASE`] if they are missing, and (re)sets
    /// the roles' attributes so that a cluster from an older version is brought in line.
    fn bootstrap_roles(&self) -> Result<(), ClusterError> {
        let owner_pw = &self.passwords[roles::OWNER];
        let runtime_pw = &self.passwords[roles::RUNTIME];
        let sql = format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{owner}') THEN
                 CREATE ROLE {owner} LOGIN;
               END IF;
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{runtime}') THEN
                 CREATE ROLE {runtime} LOGIN;
               END IF;
             END $$;
             ALTER ROLE {owner} LOGIN NOSUPERUSER CREATEDB NOCREATEROLE BYPASSRLS PASSWORD '{owner_pw}';
             ALTER ROLE {runtime} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD '{runtime_pw}';",
            owner = roles::OWNER,
            runtime = roles::RUNTIME,
        );
        self.psql("postgres", &sql)?;
        let exists = self.psql(
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{APP_DATABASE}'"),
        )?;
        if exists.is_empty() {
            self.psql(
                "postgres",
                &format!("CREATE DATABASE {APP_DATABASE} OWNER {}", roles::OWNER),
            )?;
        }
        Ok(())
    }
}

/// Finds the directory holding `initdb`, `pg_ctl` and `postgres`: `PG_BIN_DIR`, then
/// `pg_config --bindir`, then the newest `/usr/lib/postgresql/<major>/bin`, then `PATH`.
///
/// # Errors
/// [`ClusterError::BinariesNotFound`] with an install hint.
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    let has_server = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres", "psql"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    let mut searched = Vec::new();
    if let Some(dir) = std::env::var_os("PG_BIN_DIR").map(PathBuf::from) {
        if has_server(&dir) {
            return Ok(dir);
        }
        searched.push(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
        searched.push(dir);
    }
    let debian = Path::new("/usr/lib/postgresql");
    if let Ok(entries) = fs::read_dir(debian) {
        let mut majors: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((major, e.path().join("bin")))
            })
            .collect();
        majors.sort();
        if let Some((_, dir)) = majors.into_iter().rev().find(|(_, d)| has_server(d)) {
            return Ok(dir);
        }
    }
    searched.push(debian.to_path_buf());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_server(&dir) {
                return Ok(dir);
            }
        }
    }
    Err(ClusterError::BinariesNotFound { searched })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a server binary, as the `postgres` system user when this process is root.
fn run_as_server_user(program: &Path, args: &[&str]) -> Result<Output, ClusterError> {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(io_err(format!("running {}", program.display())))
}

fn command_failed(what: &str, out: &Output) -> ClusterError {
    let mut detail = format!("{}", out.status);
    for stream in [&out.stderr, &out.stdout] {
        let text = String::from_utf8_lossy(stream);
        let tail: Vec<&str> = text.lines().rev().take(12).collect();
        for line in tail.into_iter().rev() {
            let _ = write!(detail, "\n  {line}");
        }
    }
    ClusterError::Command {
        what: what.to_owned(),
        detail,
    }
}

/// 32 hex characters from the operating system's CSPRNG.
fn random_password() -> Result<String, ClusterError> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_err("reading /dev/urandom"))?;
    Ok(bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

fn free_port() -> Result<u16, ClusterError> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("finding a free port"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(io_err("finding a free port"))
}

/// `initdb` into `<dir>/data`, then writes the server settings and `<dir>/cluster.env`.
fn init(dir: &Path, bin_dir: &Path, profile: Profile) -> Result<(), ClusterError> {
    let root = is_root();
    if root
        && !Command::new("id")
            .arg("postgres")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return Err(ClusterError::NoPostgresUser);
    }
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io_err(format!("clearing {}", dir.display())))?;
    }
    let data = dir.join("data");
    fs::create_dir_all(&data).map_err(io_err(format!("creating {}", data.display())))?;

    let superuser_pw = random_password()?;
    let pwfile = dir.join("superuser.pw");
    fs::write(&pwfile, &superuser_pw).map_err(io_err("writing the initdb password file"))?;
    if root {
        let out = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir)
            .output()
            .map_err(io_err("running chown"))?;
        if !out.status.success() {
            return Err(command_failed("chown of the cluster directory", &out));
        }
    }
    let data_arg = data.to_string_lossy().into_owned();
    let pw_arg = format!("--pwfile={}", pwfile.display());
    let out = run_as_server_user(
        &bin_dir.join("initdb"),
        &[
            "-D",
            &data_arg,
            "-U",
            roles::SUPERUSER,
            "--auth=scram-sha-256",
            &pw_arg,
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
    )?;
    let _ = fs::remove_file(&pwfile);
    if !out.status.success() {
        return Err(command_failed("initdb", &out));
    }

    let port = free_port()?;
    let mut conf = format!(
        "\n# Written by local-postgres\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
         unix_socket_directories = ''\nmax_connections = 300\npassword_encryption = 'scram-sha-256'\n\
         log_min_messages = warning\n"
    );
    conf.push_str(&profile.settings());
    let conf_path = data.join("postgresql.conf");
    let mut existing = fs::read_to_string(&conf_path).map_err(io_err("reading postgresql.conf"))?;
    existing.push_str(&conf);
    fs::write(&conf_path, existing).map_err(io_err("writing postgresql.conf"))?;

    let env = format!(
        "port={port}\npassword.{}={superuser_pw}\npassword.{}={}\npassword.{}={}\n",
        roles::SUPERUSER,
        roles::OWNER,
        random_password()?,
        roles::RUNTIME,
        random_password()?,
    );
    // Written last: its presence marks a complete initialisation.
    fs::write(dir.join("cluster.env"), env).map_err(io_err("writing cluster.env"))?;
    Ok(())
}
