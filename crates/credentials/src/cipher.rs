//! AES-256-GCM sealing with key ids (ring).
//!
//! - A fresh random 96-bit nonce from the OS CSPRNG for every encryption (NIST SP 800-38D §8.2.2:
//!   random nonces are safe far below 2^32 encryptions per key; a credential store writes a few
//!   per organization).
//! - The associated data binds a ciphertext to the row it belongs to: `org_credentials:v1:<org
//!   id>:<provider>`. A ciphertext copied to another organization or provider fails
//!   authentication instead of decrypting.
//! - Every sealed value records the id of the key that sealed it. The keyring holds several keys,
//!   one active for new encryptions; the others only decrypt, until rotation has re-sealed
//!   everything and they can be removed.

use std::collections::BTreeMap;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::CredentialError;

/// Length of a key in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// A sealed value as stored: key id, nonce, ciphertext with the 16-byte tag appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Id of the key that sealed it.
    pub key_id: String,
    /// The 96-bit nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the GCM tag.
    pub ciphertext: Vec<u8>,
}

/// The encryption keys, by id, and which one seals new values. `Debug` shows only the ids.
pub struct Keyring {
    keys: BTreeMap<String, LessSafeKey>,
    active: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

fn valid_key_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Keyring {
    /// A keyring from `(key id, 32 key bytes)` pairs and the id of the active key.
    ///
    /// # Errors
    /// [`CredentialError::Config`] for a key id outside `[A-Za-z0-9_-]{1,32}`, a key that is not
    /// 32 bytes, a repeated id, or an active id that is not in the list.
    pub fn new(
        keys: impl IntoIterator<Item = (String, Zeroizing<Vec<u8>>)>,
        active: &str,
    ) -> Result<Self, CredentialError> {
        let mut map = BTreeMap::new();
        for (id, bytes) in keys {
            if !valid_key_id(&id) {
                return Err(CredentialError::Config(format!(
                    "credential key id {id:?} must be 1-32 of A-Z a-z 0-9 _ -"
                )));
            }
            if bytes.len() != KEY_LEN {
                return Err(CredentialError::Config(format!(
                    "credential key {id} must be {KEY_LEN} bytes, not {}",
                    bytes.len()
                )));
            }
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| CredentialError::Config(format!("credential key {id} is unusable")))?;
            if map.insert(id.clone(), LessSafeKey::new(key)).is_some() {
                return Err(CredentialError::Config(format!(
                    "credential key id {id} appears twice"
                )));
            }
        }
        if !map.contains_key(active) {
            return Err(CredentialError::Config(format!(
                "the active credential key {active:?} is not among the configured keys"
            )));
        }
        Ok(Self {
            keys: map,
            active: active.to_owned(),
            rng: SystemRandom::new(),
        })
    }

    /// Parses the configuration form `id1:<base64 key>,id2:<base64 key>` (standard base64 of 32
    /// bytes) with the active id.
    ///
    /// # Errors
    /// [`CredentialError::Config`] naming the malformed entry (never its key material).
    pub fn from_config(keys: &str, active: &str) -> Result<Self, CredentialError> {
        use base64::Engine as _;
        let mut parsed = Vec::new();
        for entry in keys.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry.split_once(':').ok_or_else(|| {
                CredentialError::Config("each credential key must be written id:base64".into())
            })?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| {
                    CredentialError::Config(format!(
                        "credential key {} is not valid base64",
                        id.trim()
                    ))
                })?;
            parsed.push((id.trim().to_owned(), Zeroizing::new(bytes)));
        }
        Self::new(parsed, active.trim())
    }

    /// The id of the key new values are sealed with.
    #[must_use]
    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Whether a key id is in the keyring.
    #[must_use]
    pub fn has_key(&self, key_id: &str) -> bool {
        self.keys.contains_key(key_id)
    }

    /// Seals `plaintext` under the active key, bound to `aad`.
    ///
    /// # Errors
    /// [`CredentialError::Crypto`] if the CSPRNG or the cipher fails.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, CredentialError> {
        let key = &self.keys[&self.active];
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| CredentialError::Crypto("random nonce"))?;
        let mut buffer = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buffer,
        )
        .map_err(|_| CredentialError::Crypto("sealing"))?;
        Ok(Sealed {
            key_id: self.active.clone(),
            nonce,
            ciphertext: buffer,
        })
    }

    /// Opens a sealed value bound to `aad`. The plaintext zeroes its memory when dropped.
    ///
    /// # Errors
    /// [`CredentialError::UnknownKey`] when the key id is not in the keyring;
    /// [`CredentialError::Crypto`] when authentication fails (wrong key, tampered or moved
    /// ciphertext, wrong associated data).
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| CredentialError::UnknownKey(sealed.key_id.clone()))?;
        let mut buffer = Zeroizing::new(sealed.ciphertext.clone());
        let len = key
            .open_in_place(
                Nonce::assume_unique_for_key(sealed.nonce),
                Aad::from(aad),
                &mut buffer,
            )
            .map_err(|_| CredentialError::Crypto("authentication failed"))?
            .len();
        buffer.truncate(len);
        Ok(buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(active: &str) -> Keyring {
        Keyring::new(
            [
                ("k1".to_owned(), Zeroizing::new(vec![1u8; 32])),
                ("k2".to_owned(), Zeroizing::new(vec![2u8; 32])),
            ],
            active,
        )
        .unwrap()
    }

    #[test]
    fn seals_and_opens_with_fresh_nonces() {
        let ring = keyring("k1");
        let a = ring.seal(b"secret", b"aad").unwrap();
        let b = ring.seal(b"secret", b"aad").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(a.key_id, "k1");
        assert_eq!(&*ring.open(&a, b"aad").unwrap(), b"secret");
    }

    #[test]
    fn other_associated_data_or_tampering_fails() {
        let ring = keyring("k1");
        let sealed = ring.seal(b"secret", b"org-a:twilio").unwrap();
        assert!(matches!(
            ring.open(&sealed, b"org-b:twilio"),
            Err(CredentialError::Crypto(_))
        ));
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(ring.open(&tampered, b"org-a:twilio").is_err());
        let mut relabelled = sealed;
        relabelled.key_id = "k2".into();
        assert!(ring.open(&relabelled, b"org-a:twilio").is_err());
    }

    #[test]
    fn old_keys_open_until_removed() {
        let old = keyring("k1").seal(b"secret", b"aad").unwrap();
        let rotated = keyring("k2");
        assert_eq!(&*rotated.open(&old, b"aad").unwrap(), b"secret");
        let only_new =
            Keyring::new([("k2".to_owned(), Zeroizing::new(vec![2u8; 32]))], "k2").unwrap();
        assert!(
            matches!(only_new.open(&old, b"aad"), Err(CredentialError::UnknownKey(id)) if id == "k1")
        );
    }

    #[test]
    fn configuration_errors_name_the_problem_not_the_key() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let ring = Keyring::from_config(&format!("k1:{b64}, k2:{b64}"), "k2").unwrap();
        assert_eq!(ring.active_key_id(), "k2");
        assert!(format!("{ring:?}").contains("k1") && !format!("{ring:?}").contains(&b64));
        for (keys, active, expect) in [
            (format!("k1:{b64}"), "k9", "not among"),
            ("k1:short".to_owned(), "k1", "not valid base64"),
            (
                format!(
                    "k1:{}",
                    base64::engine::general_purpose::STANDARD.encode([7u8; 16])
                ),
                "k1",
                "32 bytes",
            ),
            (format!("bad id:{b64}"), "bad id", "must be 1-32"),
            (format!("k1:{b64},k1:{b64}"), "k1", "twice"),
            (b64.clone(), "k1", "id:base64"),
        ] {
            match Keyring::from_config(&keys, active) {
                Err(CredentialError::Config(m)) => {
                    assert!(m.contains(expect) && !m.contains(&b64), "{m}");
                }
                other => panic!("{keys}: {other:?}"),
            }
        }
    }
}
