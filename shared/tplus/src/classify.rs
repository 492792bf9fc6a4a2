use std::time::Duration;

use serde_json::Value;

/// What came back from one T+ call, before interpretation.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Http {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    Timeout,
    /// Connection refused, reset, DNS, …
    Transport(String),
}

/// What the writer does about an [`Answer`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Created(Value),
    /// The ExternalCode is already in T+: an earlier attempt succeeded. Counts as success.
    AlreadyExists(Value),
    /// Try again later; nothing is wrong with the voucher.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Credentials rejected: refresh the token, then retry.
    AuthExpired(String),
    /// Monthly API quota used up: pause, alert, don't burn retries.
    QuotaExhausted(String),
    /// T+ rejects this voucher until someone fixes data: dead-letter it.
    Permanent(String),
}

/// How T+ reports a duplicate ExternalCode (not public, so configurable).
#[derive(Debug, Clone)]
pub struct DuplicateRule {
    pub code: String,
    pub message_contains: String,
}

impl DuplicateRule {
    fn matches(&self, code: &str, message: &str) -> bool {
        code == self.code
            && (self.message_contains.is_empty() || message.contains(&self.message_contains))
    }
}

/// T+ business codes arrive as strings or numbers, as `code` (or `status` on some
/// services); normalise to a string.
fn code_of(body: &Value) -> Option<String> {
    match body.get("code").or_else(|| body.get("status"))? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn message_of(body: &Value) -> String {
    ["message", "msg", "error"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .unwrap_or_default()
        .to_string()
}

/// The answer's JSON body (a non-JSON body becomes a string), and its business code.
fn parse(body: &str) -> (Value, String) {
    let json: Value = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
    };
    let code = code_of(&json).unwrap_or_default();
    (json, code)
}

/// The credentials were refused (HTTP 401/403 other than the quota code 50112): refreshing
/// the token may help.
pub fn is_auth_failure(answer: &Answer) -> bool {
    match answer {
        Answer::Http { status, body, .. } => {
            matches!(status, 401 | 403) && parse(body).1 != "50112"
        }
        _ => false,
    }
}

pub fn classify(answer: &Answer, duplicate: &DuplicateRule) -> Outcome {
    let (status, body, retry_after) = match answer {
        Answer::Timeout => {
            return Outcome::Transient {
                reason: "timeout".into(),
                retry_after: None,
            };
        }
        Answer::Transport(e) => {
            return Outcome::Transient {
                reason: format!("transport: {e}"),
                retry_after: None,
            };
        }
        Answer::Http {
            status,
            body,
            retry_after,
        } => (*status, body, *retry_after),
    };
    let (json, code) = parse(body);
    let message = message_of(&json);
    let described = || {
        if code.is_empty() {
            format!("HTTP {status}: {}", truncate(body))
        } else {
            format!("HTTP {status}, code {code}: {message}")
        }
    };
    match status {
        // A duplicate means an earlier attempt was stored, whatever status carries it.
        _ if duplicate.matches(&code, &message) => Outcome::AlreadyExists(json),
        200..=299 if is_success(&json, &code) => Outcome::Created(json),
        // A proxy's or maintenance page's 200 is not T+ storing the voucher: try again
        // (the ExternalCode makes the repeat harmless).
        200..=299 => Outcome::Transient {
            reason: format!("HTTP {status} without a T+ success: {}", truncate(body)),
            retry_after,
        },
        409 | 429 | 500..=599 => Outcome::Transient {
            reason: described(),
            retry_after,
        },
        _ if code == "14002" => Outcome::Transient {
            reason: described(),
            retry_after,
        },
        401 if code == "50112" => Outcome::QuotaExhausted(described()),
        _ if is_auth_failure(answer) => Outcome::AuthExpired(described()),
        _ => Outcome::Permanent(described()),
    }
}

/// T+'s success answers: `null` or an empty body (Create on cloud), or an `*OpenApi`
/// envelope whose code says success.
fn is_success(json: &Value, code: &str) -> bool {
    match json {
        Value::Null => true,
        Value::Object(_) => SUCCESS_CODES.contains(&code),
        _ => false,
    }
}

const SUCCESS_CODES: [&str; 3] = ["0", "200", "openapi.e0000"];

fn truncate(body: &str) -> String {
    body.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> DuplicateRule {
        DuplicateRule {
            code: "999".into(),
            message_contains: "已存在".into(),
        }
    }

    fn http(status: u16, body: &str) -> Answer {
        Answer::Http {
            status,
            body: body.into(),
            retry_after: None,
        }
    }

    fn kind(outcome: Outcome) -> &'static str {
        match outcome {
            Outcome::Created(_) => "created",
            Outcome::AlreadyExists(_) => "exists",
            Outcome::Transient { .. } => "transient",
            Outcome::AuthExpired(_) => "auth",
            Outcome::QuotaExhausted(_) => "quota",
            Outcome::Permanent(_) => "permanent",
        }
    }

    #[test]
    fn every_documented_answer_lands_in_its_bucket() {
        let cases = [
            (http(200, "null"), "created"),
            (http(200, ""), "created"),
            (
                http(200, r#"{"code":"0","message":"","data":{}}"#),
                "created",
            ),
            (
                http(400, r#"{"code":"999","message":"外部单据号[JT1]已存在"}"#),
                "exists",
            ),
            (
                http(400, r#"{"code":"999","message":"存货编码[SKU9]不存在"}"#),
                "permanent",
            ),
            (http(409, r#"{"error":"too many requests"}"#), "transient"),
            (http(502, "bad gateway"), "transient"),
            (http(503, ""), "transient"),
            (
                http(400, r#"{"code":"14002","message":"busy"}"#),
                "transient",
            ),
            (http(401, r#"{"code":"50000","message":"token"}"#), "auth"),
            (http(401, r#"{"code":"50112","message":"quota"}"#), "quota"),
            (
                http(403, r#"{"code":"50112","message":"other app"}"#),
                "permanent",
            ),
            (Answer::Timeout, "transient"),
            (Answer::Transport("connection refused".into()), "transient"),
            (http(200, r#"{"code":"999","message":"已存在"}"#), "exists"),
            (
                http(200, r#"{"status":"openapi.e0000","data":{}}"#),
                "created",
            ),
            // A 2xx that is not a T+ success is not a write.
            (
                http(200, "<html><body>系统维护中</body></html>"),
                "transient",
            ),
            (http(200, r#"{"data":{}}"#), "transient"),
            (
                http(200, r#"{"code":"500","message":"内部错误"}"#),
                "transient",
            ),
            (http(200, "[]"), "transient"),
            (http(204, "   "), "created"),
            // The duplicate rule comes before the status classes.
            (
                http(409, r#"{"code":"999","message":"外部单据号[JT1]已存在"}"#),
                "exists",
            ),
            (
                http(500, r#"{"code":"999","message":"外部单据号[JT1]已存在"}"#),
                "exists",
            ),
        ];
        for (answer, expected) in cases {
            assert_eq!(kind(classify(&answer, &rule())), expected, "{answer:?}");
        }
    }

    #[test]
    fn permanent_reason_carries_the_message() {
        let outcome = classify(
            &http(400, r#"{"code":"999","message":"存货编码[SKU9]不存在"}"#),
            &rule(),
        );
        assert_eq!(
            outcome,
            Outcome::Permanent("HTTP 400, code 999: 存货编码[SKU9]不存在".into())
        );
    }

    #[test]
    fn retry_after_is_kept() {
        let answer = Answer::Http {
            status: 409,
            body: String::new(),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert!(matches!(
            classify(&answer, &rule()),
            Outcome::Transient { retry_after: Some(d), .. } if d == Duration::from_secs(3)
        ));
    }
}
