//! Redaction for the debug logs of request and response bodies: credentials never reach a log.

use serde_json::Value;

/// Field names whose values are credentials, in either API (compared case-insensitively).
const SECRET_KEYS: [&str; 9] = [
    "access_token",
    "refresh_token",
    "refreshtoken",
    "opentoken",
    "app_secret",
    "appsecret",
    "sign",
    "token",
    "secret",
];

pub const REDACTED: &str = "[REDACTED]";

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.contains(&key.as_str())
}

/// A JSON body with every credential value replaced, at any depth. A body that is not JSON
/// is not logged at all (it could hold anything).
pub fn redacted_json(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(mut value) => {
            redact(&mut value);
            value.to_string()
        }
        Err(_) => format!("<{} bytes, not JSON>", body.len()),
    }
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if is_secret(key) {
                    *v = Value::String(REDACTED.into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Form fields for a debug log, credentials replaced.
pub fn redacted_form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", if is_secret(k) { REDACTED } else { v }))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_replaced_at_any_depth_and_other_fields_kept() {
        let body = r#"{"code":0,"data":{"access_token":"s1","refresh_token":"s2","expires_in":5,
            "list":[{"openToken":"s3","name":"ok"}]}}"#;
        let out = redacted_json(body);
        for secret in ["s1", "s2", "s3"] {
            assert!(!out.contains(secret), "{out}");
        }
        assert!(out.contains(r#""expires_in":5"#), "{out}");
        assert!(out.contains(r#""name":"ok""#), "{out}");
        assert_eq!(redacted_json("not json s1"), "<11 bytes, not JSON>");
        let form = redacted_form(&[("app_key", "k"), ("access_token", "s1"), ("sign", "s2")]);
        assert_eq!(form, "app_key=k&access_token=[REDACTED]&sign=[REDACTED]");
    }
}
