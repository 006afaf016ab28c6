//! Rebuilds this crate when a migration is added or changed: `embed_migrations!` reads the
//! directory at compile time, and without this an incremental build keeps the old set (diesel's
//! documented `build.rs`).

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
