//! Password hashing with argon2id at the OWASP Password Storage Cheat Sheet's first recommended
//! parameter set: 19 MiB of memory (m = 19456 KiB), 2 iterations, 1 lane. Hashes are PHC strings
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) with a random 16-byte salt, so the parameters
//! travel with each hash and can be raised later without invalidating old ones.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::TenancyError;

/// Shortest password accepted, in characters (NIST SP 800-63B §5.1.1.2: at least 8).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in characters: bounds hashing cost per request.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Passwords refused outright: the most common ones in breach corpora (a short excerpt; length
/// rules catch most of the rest).
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty123",
    "qwertyuiop",
    "iloveyou",
    "11111111",
    "00000000",
    "abc12345",
    "letmein1",
    "welcome1",
    "admin123",
    "changeme",
    "passw0rd",
    "sunshine",
    "football",
    "baseball",
    "superman",
    "trustno1",
    "1q2w3e4r",
    "zaq12wsx",
    "asdfghjk",
    "princess",
    "dragon12",
    "monkey12",
];

/// The length rule, applied to every password that is set.
fn check_length(password: &str) -> Result<(), TenancyError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(TenancyError::Invalid(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(TenancyError::Invalid(format!(
            "password must be at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Refuses weak or reused passwords with a message that says why: outside the length limits,
/// one repeated character, a common password, or containing the account's own email (whole, or
/// its local part), name or organization (`context`, case-insensitive, parts of 4+ characters).
///
/// # Errors
/// [`TenancyError::Invalid`] naming the rule.
pub fn check_strength(password: &str, context: &[&str]) -> Result<(), TenancyError> {
    check_length(password)?;
    let lower = password.to_lowercase();
    let first = lower.chars().next();
    if lower.chars().all(|c| Some(c) == first) || COMMON.contains(&lower.as_str()) {
        return Err(TenancyError::Invalid(
            "password is too common; choose a less predictable one".into(),
        ));
    }
    for item in context {
        let item = item.trim().to_lowercase();
        let local = item.split('@').next().unwrap_or_default();
        let reused = [item.as_str(), local]
            .iter()
            .any(|part| part.chars().count() >= 4 && lower.contains(part));
        if reused {
            return Err(TenancyError::Invalid(
                "password must not contain your email, name or organization".into(),
            ));
        }
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // 19456 KiB, t = 2, p = 1 are valid argon2 parameters; `Params::new` cannot fail on them.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks length rules and hashes `password` into a PHC string.
///
/// # Errors
/// [`TenancyError::Invalid`] for a password outside
/// [`MIN_PASSWORD_CHARS`]..=[`MAX_PASSWORD_CHARS`]; [`TenancyError::PasswordHash`] if hashing fails.
pub fn hash(password: &str) -> Result<String, TenancyError> {
    check_length(password)?;
    hash_secret(password)
}

/// Hashes any secret with the same argon2id parameters, without the password rules: for
/// short one-time codes (for example caller-ID verification codes) whose guessing is bounded
/// by attempt limits rather than length.
///
/// # Errors
/// [`TenancyError::PasswordHash`] if hashing fails.
pub fn hash_secret(secret: &str) -> Result<String, TenancyError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| TenancyError::PasswordHash)
}

/// [`hash_secret`] on tokio's blocking pool.
///
/// # Errors
/// As [`hash_secret`].
pub async fn hash_secret_off_thread(secret: &str) -> Result<String, TenancyError> {
    let secret = secret.to_owned();
    off_thread(move || hash_secret(&secret)).await
}

/// Whether `password` matches the PHC string `stored` (constant-time comparison inside argon2).
/// A malformed `stored` value never matches.
#[must_use]
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// [`hash`] on tokio's blocking pool: argon2 takes tens of milliseconds of CPU, which must not
/// stall the async workers serving other requests.
///
/// # Errors
/// As [`hash`].
pub async fn hash_off_thread(password: &str) -> Result<String, TenancyError> {
    let password = password.to_owned();
    off_thread(move || hash(&password)).await
}

/// [`verify`] on tokio's blocking pool.
pub async fn verify_off_thread(password: &str, stored: String) -> bool {
    let password = password.to_owned();
    off_thread(move || verify(&password, &stored)).await
}

async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_carry_their_parameters() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse battery!", &h));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn weak_and_reused_passwords_are_refused_with_the_reason() {
        let ctx = ["ada@riverside.example", "Ada Lovelace", "Riverside Clinic"];
        assert!(check_strength("a sound passphrase", &ctx).is_ok());
        for (pw, why) in [
            ("short", "at least 8"),
            ("aaaaaaaaaa", "too common"),
            ("Password123", "too common"),
            ("ada@riverside.example!", "must not contain"),
            ("my riverside clinic pw", "must not contain"),
        ] {
            match check_strength(pw, &ctx) {
                Err(TenancyError::Invalid(m)) => assert!(m.contains(why), "{pw}: {m}"),
                other => panic!("{pw} accepted: {other:?}"),
            }
        }
    }

    #[test]
    fn length_rules_are_enforced() {
        assert!(matches!(hash("short"), Err(TenancyError::Invalid(m)) if m.contains("at least 8")));
        assert!(
            matches!(hash(&"x".repeat(129)), Err(TenancyError::Invalid(m)) if m.contains("at most 128"))
        );
    }
}
