//! Text PostgreSQL cannot store: `text`, `varchar` and `jsonb` refuse the NUL character
//! (`U+0000`; `invalid byte sequence for encoding "UTF8": 0x00`, `unsupported Unicode escape
//! sequence`). The edge decides per kind of input (`docs/security.md`, "Hostile input"):
//! what people type is refused ([`find_nul`]), what providers send is cleaned ([`strip_nul`]) so
//! that their call or event is still recorded.

use serde_json::Value;

/// Whether `s` holds a NUL character.
#[must_use]
pub fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

/// The JSON pointer (RFC 6901, e.g. `/contacts/0/name`) of the first string or object key in
/// `value` that holds a NUL character, `None` when there is none.
#[must_use]
pub fn find_nul(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if has_nul(s) => Some(String::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_nul(v).map(|p| format!("/{i}{p}"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let key = k.replace('~', "~0").replace('/', "~1");
            if has_nul(k) {
                return Some(format!("/{}", key.replace('\0', "")));
            }
            find_nul(v).map(|p| format!("/{key}{p}"))
        }),
        _ => None,
    }
}

/// Removes every NUL character from the strings and object keys of `value`. Returns whether
/// anything was removed.
pub fn strip_nul(value: &mut Value) -> bool {
    match value {
        Value::String(s) if has_nul(s) => {
            s.retain(|c| c != '\0');
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |any, v| strip_nul(v) | any),
        Value::Object(map) => {
            let mut any = false;
            if map.keys().any(|k| has_nul(k)) {
                let old = std::mem::take(map);
                for (k, v) in old {
                    map.insert(k.replace('\0', ""), v);
                }
                any = true;
            }
            map.values_mut().fold(any, |any, v| strip_nul(v) | any)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_is_found_with_its_path_and_stripped() {
        let mut v = json!({"name": "ok", "items": [{"a/b": "x\u{0}y"}], "k\u{0}": 1});
        assert_eq!(find_nul(&v).as_deref(), Some("/items/0/a~1b"));
        assert!(strip_nul(&mut v));
        assert_eq!(v, json!({"name": "ok", "items": [{"a/b": "xy"}], "k": 1}));
        assert_eq!(find_nul(&v), None);
        assert!(!strip_nul(&mut v));
    }
}
