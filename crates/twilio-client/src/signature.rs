//! `X-Twilio-Signature` validation, as the official helper libraries do it
//! (the telephony contract, B.1; `twilio-python` `request_validator.py`, `twilio-node`
//! `webhooks.ts`).
//!
//! 1. Start from the full URL as Twilio requested it (scheme, host, path, query).
//! 2. Form posts: append, for each parameter name in byte order (names de-duplicated), each of
//!    its values in byte order (values de-duplicated): `name + value`.
//! 3. `base64(HMAC-SHA1(auth token, that string))`, compared with the header in constant time.
//! 4. Accept the URL with any port removed, or with the scheme's default port added (Twilio's
//!    own signing is inconsistent about ports).
//! 5. JSON bodies: the URL carries `bodySHA256=<hex SHA-256 of the raw body>`; the signature is over
//!    the URL with no parameters, and the hash must match the body. A JSON request without
//!    `bodySHA256` is refused (as the Java library does).

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use ring::{digest, hmac};
use subtle::ConstantTimeEq;

/// The signature Twilio computes for `url` and form `params` with `auth_token`.
#[must_use]
pub fn compute(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        by_name.entry(name).or_default().insert(value);
    }
    let mut data = String::from(url);
    for (name, values) in by_name {
        for value in values {
            data.push_str(name);
            data.push_str(value);
        }
    }
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, data.as_bytes()).as_ref())
}

fn matches(expected: &str, presented: &str) -> bool {
    expected.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// The URL's scheme, authority and the rest (`/path?query#fragment`).
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((scheme, &rest[..end], &rest[end..]))
}

/// The port in an authority (`user@host:port`), if any (IPv6 literals in brackets are kept
/// whole).
fn port_of(authority: &str) -> Option<(&str, &str)> {
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host = &authority[host_start..];
    let colon = host.rfind(':')?;
    if host[colon..].contains(']') {
        return None;
    }
    let port = &host[colon + 1..];
    port.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| (&authority[..host_start + colon], port))
}

/// The URL with any port removed.
fn without_port(url: &str) -> String {
    match split_url(url) {
        Some((scheme, authority, rest)) => match port_of(authority) {
            Some((before, _)) => format!("{scheme}://{before}{rest}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The URL with the scheme's default port (443 for https, else 80) added when it has none.
fn with_default_port(url: &str) -> String {
    match split_url(url) {
        Some((scheme, authority, rest)) if port_of(authority).is_none() => {
            let port = if scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            format!("{scheme}://{authority}:{port}{rest}")
        }
        _ => url.to_owned(),
    }
}

/// Whether `signature` is Twilio's for a form-encoded request to `url` with `params` (every
/// POST parameter, in any order, repeats allowed).
#[must_use]
pub fn validate_form(
    auth_token: &str,
    url: &str,
    params: &[(&str, &str)],
    signature: &str,
) -> bool {
    let no_port = matches(&compute(auth_token, &without_port(url), params), signature);
    let default_port = matches(
        &compute(auth_token, &with_default_port(url), params),
        signature,
    );
    no_port | default_port
}

/// A form-encoded Twilio webhook as its signature covers it: the URL Twilio requested (as
/// configured), every POST parameter, and the `X-Twilio-Signature` header (empty when absent).
#[derive(Debug, Clone, Default)]
pub struct SignedForm {
    /// The full URL (scheme, host, path, query).
    pub url: String,
    /// The form parameters, in any order.
    pub params: Vec<(String, String)>,
    /// `X-Twilio-Signature`.
    pub signature: String,
}

impl SignedForm {
    /// The first value of a parameter.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the signature is Twilio's with `auth_token` ([`validate_form`]).
    #[must_use]
    pub fn is_signed_by(&self, auth_token: &str) -> bool {
        let pairs: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        validate_form(auth_token, &self.url, &pairs, &self.signature)
    }
}

/// Whether `signature` is Twilio's for a request with a JSON `body` to `url`, whose query must
/// carry `bodySHA256` equal to the hex SHA-256 of the body.
#[must_use]
pub fn validate_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    let Some(query) = url
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q))
    else {
        return false;
    };
    let Some(claimed) = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "bodySHA256")
        .map(|(_, value)| value.into_owned())
    else {
        return false;
    };
    let actual = hex::encode(digest::digest(&digest::SHA256, body));
    let body_ok = matches(&actual, &claimed.to_ascii_lowercase());
    body_ok & validate_form(auth_token, url, &[], signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from the official helper libraries' tests (contracts/telephony.md B.1).
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const PARAMS: [(&str, &str); 5] = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];
    const BODY: &str = r#"{"property": "value", "boolean": true}"#;
    const BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

    #[test]
    fn computes_the_official_signatures() {
        assert_eq!(compute(TOKEN, URL, &PARAMS), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            compute(
                TOKEN,
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                &PARAMS
            ),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        assert_eq!(
            compute(
                TOKEN,
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                &PARAMS
            ),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        );
        assert_eq!(
            compute(
                TOKEN,
                "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                &PARAMS
            ),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        );
    }

    #[test]
    fn repeated_values_are_sorted_and_deduplicated() {
        let params = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ];
        assert_eq!(compute(TOKEN, URL, &params), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
        assert!(validate_form(
            TOKEN,
            URL,
            &params,
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ));
    }

    #[test]
    fn the_docs_worked_example_validates() {
        let params = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ];
        assert!(validate_form(
            TOKEN,
            URL,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn port_variants_are_accepted_either_way() {
        // Signed with :443, requested without a port, and the reverse.
        assert!(validate_form(
            TOKEN,
            URL,
            &PARAMS,
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        ));
        assert!(validate_form(
            TOKEN,
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &PARAMS,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(validate_form(
            TOKEN,
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &PARAMS,
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
        assert!(validate_form(
            TOKEN,
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &PARAMS,
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        ));
    }

    #[test]
    fn wrong_token_params_or_signature_fail() {
        assert!(!validate_form(
            "54321",
            URL,
            &PARAMS,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!validate_form(
            TOKEN,
            URL,
            &PARAMS[..4],
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!validate_form(
            TOKEN,
            URL,
            &PARAMS,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8"
        ));
        assert!(!validate_form(TOKEN, URL, &PARAMS, ""));
    }

    #[test]
    fn json_bodies_use_the_body_hash() {
        assert_eq!(
            hex::encode(digest::digest(&digest::SHA256, BODY.as_bytes())),
            BODY_HASH
        );
        let with_params = format!("{URL}&bodySHA256={BODY_HASH}");
        assert_eq!(
            compute(TOKEN, &with_params, &[]),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        );
        assert!(validate_json(
            TOKEN,
            &with_params,
            BODY.as_bytes(),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
        let only_hash = format!("https://mycompany.com/myapp.php?bodySHA256={BODY_HASH}");
        assert!(validate_json(
            TOKEN,
            &only_hash,
            BODY.as_bytes(),
            "y77kIzt2vzLz71DgmJGsen2scGs="
        ));
        // A changed body, a missing hash or a wrong signature fail.
        assert!(!validate_json(
            TOKEN,
            &only_hash,
            br#"{"property": "other"}"#,
            "y77kIzt2vzLz71DgmJGsen2scGs="
        ));
        assert!(!validate_json(
            TOKEN,
            URL,
            BODY.as_bytes(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!validate_json(
            TOKEN,
            &only_hash,
            BODY.as_bytes(),
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
    }

    #[test]
    fn port_handling_keeps_user_info_and_ipv6_hosts() {
        assert_eq!(
            without_port("https://u:p@host:8443/x?y=1"),
            "https://u:p@host/x?y=1"
        );
        assert_eq!(
            with_default_port("https://u:p@host/x"),
            "https://u:p@host:443/x"
        );
        assert_eq!(with_default_port("http://[::1]/x"), "http://[::1]:80/x");
        assert_eq!(without_port("http://[::1]:8080/x"), "http://[::1]/x");
        assert_eq!(
            with_default_port("https://host?x=1"),
            "https://host:443?x=1"
        );
    }
}
