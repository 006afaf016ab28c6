//! `cargo xtask crate-map`: the crate map in `docs/architecture.md` says what each crate depends
//! on, and this check keeps it true. For every workspace package under `apps/` and `crates/`,
//! the map must have a row (`| \`crates/<dir>\` | … | <depends on> |`) whose last column names,
//! in backticks, exactly the workspace crates the package's `[dependencies]` list (third-party
//! crates may be named too; they are not checked). `cargo metadata` is the source of truth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::Result;

/// Runs the check over the workspace at `root`.
pub fn check(root: &Path) -> Result {
    let packages = workspace_packages(root)?;
    let names: BTreeSet<&str> = packages.values().map(|p| p.name.as_str()).collect();
    let doc_path = root.join("docs/architecture.md");
    let doc =
        std::fs::read_to_string(&doc_path).map_err(|e| format!("{}: {e}", doc_path.display()))?;
    let rows = map_rows(&doc);
    let mut problems = Vec::new();
    for (dir, package) in &packages {
        let Some(documented) = rows.get(dir.as_str()) else {
            problems.push(format!(
                "{dir} ({}) has no row in the crate map",
                package.name
            ));
            continue;
        };
        let documented: BTreeSet<&str> = backticked(documented)
            .into_iter()
            .filter(|n| names.contains(n))
            .collect();
        let actual: BTreeSet<&str> = package.deps.iter().map(String::as_str).collect();
        if documented != actual {
            problems.push(format!(
                "{dir}: the map says it depends on {:?}; Cargo.toml says {:?}",
                documented, actual
            ));
        }
    }
    if problems.is_empty() {
        eprintln!(
            "xtask: the crate map in docs/architecture.md matches Cargo.toml ({} crates)",
            packages.len()
        );
        Ok(())
    } else {
        Err(format!(
            "crate map out of date:\n  {}",
            problems.join("\n  ")
        ))
    }
}

struct Package {
    name: String,
    /// Workspace crates among its normal dependencies.
    deps: BTreeSet<String>,
}

/// Every workspace package under `apps/` or `crates/`, by its directory (`crates/db`).
fn workspace_packages(root: &Path) -> Result<BTreeMap<String, Package>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let empty = Vec::new();
    let all = meta["packages"].as_array().unwrap_or(&empty);
    let members: BTreeSet<&str> = all.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut packages = BTreeMap::new();
    for p in all {
        let manifest = Path::new(p["manifest_path"].as_str().unwrap_or(""));
        let Some(dir) = manifest
            .parent()
            .and_then(|d| d.strip_prefix(root).ok())
            .and_then(Path::to_str)
        else {
            continue;
        };
        if !(dir.starts_with("apps/") || dir.starts_with("crates/")) {
            continue;
        }
        let deps = p["dependencies"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|n| members.contains(n))
            .map(str::to_owned)
            .collect();
        let name = p["name"].as_str().unwrap_or("").to_owned();
        packages.insert(dir.to_owned(), Package { name, deps });
    }
    Ok(packages)
}

/// The crate map's rows: first column's path (`crates/db`) → last column's text.
fn map_rows(doc: &str) -> BTreeMap<&str, &str> {
    doc.lines()
        .filter(|l| l.starts_with("| `apps/") || l.starts_with("| `crates/"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
            let path = backticked(cells.first()?).into_iter().next()?;
            Some((path, *cells.last()?))
        })
        .collect()
}

/// The words in backticks in `text`.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_names_are_read_from_the_table() {
        let doc = "| crate | job | depends on |\n|---|---|---|\n| `crates/db` | pool | diesel |\n| `crates/crm` | contacts | `db`, `telephony-gsm` |\n";
        let rows = map_rows(doc);
        assert_eq!(rows["crates/crm"], "`db`, `telephony-gsm` ");
        assert_eq!(backticked(rows["crates/crm"]), ["db", "telephony-gsm"]);
        assert!(backticked(rows["crates/db"]).is_empty());
    }
}
