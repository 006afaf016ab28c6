//! Randomness and hashing shared by API keys and sessions (ring: CSPRNG, HMAC-SHA-256, SHA-256).

use ring::rand::{SecureRandom, SystemRandom};

use crate::TenancyError;

/// `N` bytes from the operating system's CSPRNG.
///
/// # Errors
/// [`TenancyError::Crypto`] if the CSPRNG fails (never expected on Linux).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], TenancyError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| TenancyError::Crypto("random generator unavailable"))?;
    Ok(bytes)
}

/// SHA-256 of `data` (32 bytes).
#[must_use]
pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}
