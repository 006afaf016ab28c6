//! `cargo xtask table-owners`: one owner per table. Every table has one owning crate; other crates
//! call the owner's functions instead of reading or writing the table themselves, so the owner's
//! rules (E.164 uniqueness, the forward-only pipeline, the booking lock) cannot be bypassed.
//!
//! A crate *touches* a table when its product code (`src/`, outside `#[cfg(test)]` modules and
//! test-support files) names it through a `schema::` path (`schema::contacts`,
//! `schema::{contacts, …}`; each crate's own `schema` module holds only its tables, so the compiler
//! refuses another's there too) or in SQL text after `FROM`, `INTO`, `UPDATE` or `JOIN`. The check fails on any touch of
//! another crate's table that is not in [`PENDING`], and on a [`PENDING`] entry that no longer
//! happens (the list only shrinks). `db` owns no table and is exempt, and so is
//! `apps/loadgen`, which is no product code: it drives a gateway from outside, and its only SQL
//! reads PostgreSQL's statistics and the job queue's length between benchmark scenarios and
//! seeds the seed stack's own database (whose tables share our names).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::Result;

/// Each crate and the tables it owns (every table of the migrations appears once).
pub const OWNERS: &[(&str, &[&str])] = &[
    (
        "tenancy",
        &[
            "organizations",
            "users",
            "user_sessions",
            "login_throttle",
            "apps",
            "api_key_audit_log",
            "org_api_keys",
            "audit_events",
            "api_idempotency_keys",
        ],
    ),
    ("credentials", &["org_credentials", "credential_audit_log"]),
    ("crm", &["contacts", "services", "call_logs"]),
    ("scheduling", &["appointments", "scheduling_settings"]),
    ("messaging", &["messages", "share_links"]),
    (
        "voice-agent",
        &[
            "voice_agents",
            "voice_settings",
            "voice_alerts",
            "assistant_org_mapping",
            "org_tools",
            "vapi_tools",
            "vapi_tool_results",
            "vapi_twilio_sync",
        ],
    ),
    (
        "event-log",
        &["webhook_events", "calls", "app_webhook_secrets"],
    ),
    (
        "user-mapping",
        &["dialpad_user_mappings", "user_mapping_audit_log"],
    ),
    ("voicemail", &["voicemails"]),
    (
        "webhooks",
        &[
            "webhook_endpoints",
            "webhook_messages",
            "webhook_deliveries",
            "webhook_attempts",
        ],
    ),
    ("realtime", &["realtime_events"]),
    ("softphone", &["softphone_calls"]),
    (
        "telephony",
        &[
            "verified_caller_ids",
            "caller_id_verification_requests",
            "hybrid_forwarding_configs",
        ],
    ),
    ("rag", &["kb_documents", "kb_chunks", "kb_settings"]),
    ("jobs", &["jobs", "job_schedules"]),
];

/// Touches of another crate's table still to move to the owner (crate, table, why it is still
/// there). Remove an entry when its move lands; the check fails while a stale entry remains.
pub const PENDING: &[(&str, &str, &str)] = &[];

/// Runs the check over the workspace at `root`.
pub fn check(root: &Path) -> Result {
    let owner = owner_of_each_table()?;
    let tables: BTreeSet<&str> = owner.keys().copied().collect();
    for table in migration_tables(&root.join("migrations"))? {
        if !tables.contains(table.as_str()) {
            return Err(format!(
                "table `{table}` (migrations) has no owner: add it to ownership::OWNERS"
            ));
        }
    }
    let mut touches = BTreeSet::new();
    for dir in ["crates", "apps"] {
        for krate in subdirs(&root.join(dir))? {
            let name = krate
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if name == "db" || name == "loadgen" {
                continue;
            }
            for file in rust_files(&krate.join("src"))? {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                for table in tables_named(product_code(&text), &tables) {
                    if owner.get(table.as_str()) != Some(&name.as_str()) {
                        touches.insert((name.clone(), table, file.clone()));
                    }
                }
            }
        }
    }
    judge(&owner, &touches, root)
}

fn judge(
    owner: &BTreeMap<&str, &str>,
    touches: &BTreeSet<(String, String, std::path::PathBuf)>,
    root: &Path,
) -> Result {
    let pending: BTreeSet<(&str, &str)> = PENDING.iter().map(|(c, t, _)| (*c, *t)).collect();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (krate, table, file) in touches {
        seen.insert((krate.as_str(), table.as_str()));
        if !pending.contains(&(krate.as_str(), table.as_str())) {
            problems.push(format!(
                "{} touches `{table}`, owned by `{}`: call the owner's functions",
                file.strip_prefix(root).unwrap_or(file).display(),
                owner.get(table.as_str()).copied().unwrap_or("?"),
            ));
        }
    }
    for (krate, table) in pending.difference(&seen) {
        problems.push(format!(
            "PENDING lists {krate} → `{table}`, which no longer happens: remove the entry"
        ));
    }
    if problems.is_empty() {
        eprintln!(
            "xtask: every table has one owner; {} cross-crate touches still pending",
            PENDING.len()
        );
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn owner_of_each_table() -> Result<BTreeMap<&'static str, &'static str>> {
    let mut owner = BTreeMap::new();
    for (krate, tables) in OWNERS {
        for table in *tables {
            if let Some(other) = owner.insert(*table, *krate) {
                return Err(format!("`{table}` has two owners: {other} and {krate}"));
            }
        }
    }
    Ok(owner)
}

/// Every `CREATE TABLE` of the migrations.
fn migration_tables(dir: &Path) -> Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    for migration in subdirs(dir)? {
        let up = migration.join("up.sql");
        let Ok(sql) = std::fs::read_to_string(&up) else {
            continue;
        };
        for (i, _) in sql.match_indices("CREATE TABLE ") {
            let rest = sql[i + "CREATE TABLE ".len()..].trim_start();
            let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
            found.insert(identifier(rest).to_owned());
        }
        // A later migration may drop a table (its work moved elsewhere): it needs no owner.
        for (i, _) in sql.match_indices("DROP TABLE ") {
            let rest = sql[i + "DROP TABLE ".len()..].trim_start();
            let rest = rest.strip_prefix("IF EXISTS ").unwrap_or(rest);
            found.remove(identifier(rest));
        }
    }
    Ok(found)
}

/// The text before the first `#[cfg(test)]`, without comment lines.
fn product_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tables `code` names through `schema::` paths or after an SQL keyword.
fn tables_named(code: String, tables: &BTreeSet<&str>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut keep = |word: &str| {
        if tables.contains(word) {
            found.insert(word.to_owned());
        }
    };
    for (i, _) in code.match_indices("schema::") {
        let rest = &code[i + "schema::".len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let end = list.find('}').unwrap_or(list.len());
            list[..end]
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .for_each(&mut keep);
        } else {
            keep(identifier(rest));
        }
    }
    let upper = code.to_ascii_uppercase();
    for keyword in ["FROM ", "INTO ", "UPDATE ", "JOIN "] {
        for (i, _) in upper.match_indices(keyword) {
            let before = upper[..i].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            keep(identifier(code[i + keyword.len()..].trim_start()));
        }
    }
    found
}

fn identifier(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

fn subdirs(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Ok(out)
}

/// Product `.rs` files under `dir` (test-support files excluded).
fn rust_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for path in subdirs(dir)? {
        if !path.ends_with("test_support") {
            out.extend(rust_files(&path)?);
        }
    }
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_file() && name.ends_with(".rs") && !name.starts_with("test_support") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_paths_and_sql_name_tables_but_modules_and_prose_do_not() {
        let tables: BTreeSet<&str> = ["contacts", "call_logs", "appointments", "users"].into();
        let code = "use db::schema::{contacts, call_logs::dsl};\n\
                    let a = db::schema::appointments::table;\n\
                    crm::contacts::get(db, org, id);\n\
                    sql_query(\"UPDATE users SET name = $1\");\n\
                    let fromusers = 1;";
        let found = tables_named(product_code(code), &tables);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["appointments", "call_logs", "contacts", "users"]
        );
        let prose =
            "// reads FROM contacts\nlet x = crm::contacts::list;\n#[cfg(test)]\nschema::users";
        assert!(tables_named(product_code(prose), &tables).is_empty());
    }

    #[test]
    fn every_table_has_one_owner() {
        assert!(owner_of_each_table().is_ok());
    }
}
