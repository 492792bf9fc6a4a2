//! Robot signatures (加签): a receiver configured with a signing secret takes only
//! messages signed with it and a fresh timestamp. DingTalk: `sign` = base64 of
//! HMAC-SHA256(key = secret, message = "timestamp\nsecret"), timestamp in milliseconds, both
//! as query parameters. Feishu: `sign` = base64 of HMAC-SHA256(key = "timestamp\nsecret",
//! empty message), timestamp in seconds, both in the JSON body. The secret never leaves
//! this module except inside the signature.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use j2t_config::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::Sha256;

use super::format::Format;

type HmacSha256 = Hmac<Sha256>;

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return String::new();
    };
    mac.update(message);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk's `sign` for `timestamp_ms` (before URL encoding).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    hmac_base64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    )
}

/// Feishu's `sign` for `timestamp_s`.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    hmac_base64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// The URL and body to send to a receiver of `format`, signed with `secret` when one is
/// configured (receivers of other formats take no signature: the secret is not used).
pub fn signed(
    format: Format,
    secret: Option<&SecretString>,
    url: &SecretString,
    mut body: Value,
    now: chrono::DateTime<chrono::Utc>,
) -> (SecretString, Value) {
    let Some(secret) = secret.filter(|s| !s.expose_secret().is_empty()) else {
        return (url.clone(), body);
    };
    match format {
        Format::DingTalk => {
            let timestamp = now.timestamp_millis();
            let sign = dingtalk_sign(secret.expose_secret(), timestamp);
            let Ok(mut signed) = reqwest::Url::parse(url.expose_secret()) else {
                // Not a URL: sent as it is, and the request fails with its own error.
                return (url.clone(), body);
            };
            signed
                .query_pairs_mut()
                .append_pair("timestamp", &timestamp.to_string())
                .append_pair("sign", &sign);
            (SecretString::from(signed.to_string()), body)
        }
        Format::Feishu => {
            let timestamp = now.timestamp();
            if let Value::Object(map) = &mut body {
                map.insert("timestamp".into(), Value::String(timestamp.to_string()));
                map.insert(
                    "sign".into(),
                    Value::String(feishu_sign(secret.expose_secret(), timestamp)),
                );
            }
            (url.clone(), body)
        }
        Format::Generic | Format::WeCom => (url.clone(), body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    // Vectors computed independently (Python `hmac` + `base64`).
    const SECRET: &str = "SEC0123456789abcdef";

    #[test]
    fn dingtalk_and_feishu_signatures_match_known_vectors() {
        assert_eq!(
            dingtalk_sign(SECRET, 1_700_000_000_000),
            "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
        );
        assert_eq!(
            feishu_sign(SECRET, 1_700_000_000),
            "PiO7POLlSx/DM2qf8Dy/XCWeJK3exVnevp5G99LEN2M="
        );
    }

    #[test]
    fn signing_puts_timestamp_and_sign_where_each_robot_reads_them() {
        let now = chrono::Utc
            .timestamp_millis_opt(1_700_000_000_000)
            .single()
            .expect("time");
        let secret = SecretString::from(SECRET);
        let url = SecretString::from("https://oapi.dingtalk.com/robot/send?access_token=t");
        let (signed_url, body) =
            signed(Format::DingTalk, Some(&secret), &url, json!({"a": 1}), now);
        assert_eq!(
            signed_url.expose_secret(),
            "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000\
             &sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
        );
        assert_eq!(body, json!({"a": 1}));

        let (same_url, body) = signed(Format::Feishu, Some(&secret), &url, json!({"a": 1}), now);
        assert_eq!(same_url.expose_secret(), url.expose_secret());
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], "PiO7POLlSx/DM2qf8Dy/XCWeJK3exVnevp5G99LEN2M=");

        // No secret, or a format without signatures: untouched.
        let (plain, body) = signed(Format::DingTalk, None, &url, json!({}), now);
        assert_eq!(plain.expose_secret(), url.expose_secret());
        assert_eq!(body, json!({}));
        let (_, body) = signed(Format::Generic, Some(&secret), &url, json!({}), now);
        assert_eq!(body, json!({}));
    }
}
