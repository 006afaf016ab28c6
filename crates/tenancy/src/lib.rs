//! Organizations (the tenants), their users and roles (`../shared/SPEC.md` §1, "Tenancy model";
//! seed 002 "Users").
//!
//! This crate owns provisioning an organization with its first admin, password hashing, and the
//! demo data `cargo xtask dev` seeds. Sign-in, sessions, user management and app API keys build on
//! it.

pub mod demo;
mod error;
pub mod organizations;
pub mod password;
pub mod users;

pub use error::TenancyError;
