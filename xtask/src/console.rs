//! The operator console (`apps/console`): installing its npm packages, checking its generated
//! API types against `docs/openapi.json`, linting, type-checking, unit tests, the production
//! build, and the browser suite (headless Chromium against the gateway binary, driven through
//! `loadgen console`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::{Result, compare_or_write, gateway_bin, loadgen_bin, migrate_with_gateway, root, run};

/// The console's directory.
fn dir() -> PathBuf {
    root().join("apps/console")
}

/// The built console the gateway serves (`CONSOLE_DIR`).
pub fn dist() -> PathBuf {
    dir().join("dist")
}

/// A command from the console's own `node_modules/.bin`, run in its directory.
fn npx(tool: &str) -> Command {
    let mut cmd = Command::new(dir().join("node_modules/.bin").join(tool));
    cmd.current_dir(dir());
    cmd
}

/// Newest modification time of the files under `paths` (recursively).
fn newest(paths: &[PathBuf]) -> Option<SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if let Ok(modified) = meta.modified() {
            newest = newest.max(Some(modified));
        }
    }
    newest
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `npm ci` when `node_modules` is missing or older than `package-lock.json`.
pub fn install() -> Result {
    let lock = dir().join("package-lock.json");
    let installed = dir().join("node_modules/.package-lock.json");
    if modified(&installed).is_some_and(|i| modified(&lock).is_some_and(|l| i >= l)) {
        return Ok(());
    }
    run(
        "npm ci (apps/console)",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir()),
    )
}

/// Regenerates `src/api/schema.d.ts` from `docs/openapi.json` (`check`: fail on drift).
pub fn api_types(check: bool) -> Result {
    install()?;
    let generated = crate::target_dir().join("console/schema.d.ts");
    run(
        "openapi-typescript",
        npx("openapi-typescript")
            .arg(root().join("docs/openapi.json"))
            .arg("-o")
            .arg(&generated)
            .stdout(std::process::Stdio::null()),
    )?;
    let text = std::fs::read_to_string(&generated)
        .map_err(|e| format!("reading {}: {e}", generated.display()))?;
    compare_or_write(
        &dir().join("src/api/schema.d.ts"),
        &text,
        check,
        "cargo xtask console-types",
    )
}

/// Biome (format and lint), TypeScript's strict check, and the Vitest unit tests.
pub fn check() -> Result {
    install()?;
    run("biome ci", npx("biome").args(["ci", "."]))?;
    run("tsc", npx("tsc").args(["-p", "."]))?;
    run("vitest", npx("vitest").args(["run"]))
}

/// `vite build` into `dist/` when a source is newer than the last build (or `force`), and a
/// gzip copy of each asset beside it (the gateway sends those to browsers that accept gzip).
pub fn build(force: bool) -> Result {
    install()?;
    let sources = [
        "src",
        "public",
        "index.html",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
        "scripts",
    ]
    .map(|p| dir().join(p));
    let built = modified(&dist().join("index.html"));
    if !force && built.is_some() && newest(&sources) <= built {
        return Ok(());
    }
    run(
        "vite build",
        npx("vite").args(["build", "--logLevel", "warn"]),
    )?;
    run(
        "gzip the assets",
        Command::new("node")
            .arg("scripts/gzip-assets.mjs")
            .current_dir(dir()),
    )
}

/// The browser suite against the gateway binary on a fresh database, writing screenshots to
/// `screenshots` (default `target/console/screenshots`).
pub fn e2e(screenshots: Option<&Path>) -> Result {
    build(false)?;
    let bin = gateway_bin()?;
    let loadgen = loadgen_bin(false)?;
    let chromium = std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!(
            "{chromium} not found: install Debian's chromium (apt-get install chromium) or set CHROMIUM_BIN"
        ));
    }
    crate::with_scratch_db_urls(migrate_with_gateway(&bin), |_, runtime_url| {
        let vitest = dir().join("node_modules/.bin/vitest");
        let mut cmd = Command::new(loadgen);
        cmd.args(["console", "--"])
            .arg(vitest)
            .args(["run", "--config", "e2e/vitest.config.ts"])
            .current_dir(dir())
            .env("GATEWAY_BIN", &bin)
            .env("DATABASE_URL", runtime_url)
            .env("CONSOLE_DIR", dist())
            .env("CHROMIUM_BIN", &chromium)
            .env("EMBEDDING_MODEL_DIR", crate::model_dir());
        if let Some(dir) = screenshots {
            cmd.env("SCREENSHOT_DIR", dir);
        }
        run("the console's browser suite", &mut cmd)
    })
}
