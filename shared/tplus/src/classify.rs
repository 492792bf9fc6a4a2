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
    /// The base URL redirected elsewhere; not followed, so T+ never got the call.
    Redirected(j2t_upstream::Redirect),
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
        /// The call may have reached T+ and been stored although no success came back
        /// (timeout, connection error, 5xx): whether T+ has the voucher is unknown. Not
        /// so for answers that say T+ did not take it (409, 429, `14002`, a 2xx page that
        /// is no T+ success).
        ambiguous: bool,
    },
    /// Credentials rejected: refresh the token, then retry.
    AuthExpired(String),
    /// Monthly API quota used up: pause, alert, don't burn retries.
    QuotaExhausted(String),
    /// The voucher's date is in a closed accounting period (a recognised rejection): it
    /// stays refused until the period is reopened.
    PeriodClosed(String),
    /// T+ rejected the voucher with an answer no rule recognises. It may be data T+ will
    /// not take, or a duplicate ExternalCode in a shape the config does not know: the
    /// writer looks the voucher up before dead-lettering it.
    Permanent(String),
}

/// A business error T+ answers, recognised by its code and a text in its message. T+ does
/// not publish these replies, so they are configuration.
#[derive(Debug, Clone)]
pub struct ReplyRule {
    pub code: String,
    /// Empty: any message with the code.
    pub message_contains: String,
}

impl ReplyRule {
    fn matches(&self, code: &str, message: &str) -> bool {
        code == self.code
            && (self.message_contains.is_empty() || message.contains(&self.message_contains))
    }
}

/// The configured replies `classify` recognises.
#[derive(Debug, Clone)]
pub struct Rules {
    /// "ExternalCode already exists": an earlier attempt was stored.
    pub duplicate: ReplyRule,
    /// "The voucher date is in a closed period"; `None` = not recognised (an unrecognised
    /// rejection).
    pub period_closed: Option<ReplyRule>,
}

impl Rules {
    /// From `tplus.duplicate_*` and `tplus.period_closed_*`; an empty
    /// `period_closed_message_contains` turns the period rule off (code `999` alone is
    /// T+'s generic validation error, so it cannot mean a closed period by itself).
    pub fn from_config(cfg: &j2t_config::TplusConfig) -> Self {
        Self {
            duplicate: ReplyRule {
                code: cfg.duplicate_code.clone(),
                message_contains: cfg.duplicate_message_contains.clone(),
            },
            period_closed: (!cfg.period_closed_message_contains.is_empty()).then(|| ReplyRule {
                code: cfg.period_closed_code.clone(),
                message_contains: cfg.period_closed_message_contains.clone(),
            }),
        }
    }

    fn period_closed(&self, code: &str, message: &str) -> bool {
        self.period_closed
            .as_ref()
            .is_some_and(|rule| rule.matches(code, message))
    }
}

/// T+ business codes arrive as strings or numbers, as `code` (or `status` on some
/// services); normalise to a string.
pub(crate) fn code_of(body: &Value) -> Option<String> {
    match body.get("code").or_else(|| body.get("status"))? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn message_of(body: &Value) -> String {
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

pub fn classify(answer: &Answer, rules: &Rules) -> Outcome {
    let (status, body, retry_after) = match answer {
        Answer::Timeout => {
            return Outcome::Transient {
                reason: "timeout".into(),
                retry_after: None,
                ambiguous: true,
            };
        }
        // A reset connection may have carried the request to T+; a refused one did not,
        // but the client cannot always tell them apart, so every transport failure counts
        // as ambiguous (the cost is one lookup).
        Answer::Transport(e) => {
            return Outcome::Transient {
                reason: format!("transport: {e}"),
                retry_after: None,
                ambiguous: true,
            };
        }
        // Not followed: nothing reached T+, and trying again cannot help until the base
        // URL is fixed, so the writer holds the voucher and says why.
        Answer::Redirected(redirect) => {
            return Outcome::Transient {
                reason: format!("{redirect} (tplus.base_url)"),
                retry_after: None,
                ambiguous: false,
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
        _ if rules.duplicate.matches(&code, &message) => Outcome::AlreadyExists(json),
        // A recognised business refusal is T+ speaking, whatever status carries it.
        _ if rules.period_closed(&code, &message) => Outcome::PeriodClosed(described()),
        200..=299 if is_success(&json, &code) => Outcome::Created(json),
        // A proxy's or maintenance page's 200 is not T+ storing the voucher: try again
        // (the ExternalCode makes the repeat harmless).
        200..=299 => Outcome::Transient {
            reason: format!("HTTP {status} without a T+ success: {}", truncate(body)),
            retry_after,
            ambiguous: false,
        },
        // Throttling answers say the call was turned away before any work.
        409 | 429 => Outcome::Transient {
            reason: described(),
            retry_after,
            ambiguous: false,
        },
        // A 5xx may come after T+ stored the voucher (or from a proxy that gave up on it).
        500..=599 => Outcome::Transient {
            reason: described(),
            retry_after,
            ambiguous: true,
        },
        _ if code == "14002" => Outcome::Transient {
            reason: described(),
            retry_after,
            ambiguous: false,
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

/// Business codes that mean success on the `*OpenApi` services.
pub(crate) const SUCCESS_CODES: [&str; 3] = ["0", "200", "openapi.e0000"];

fn truncate(body: &str) -> String {
    body.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Rules {
        Rules {
            duplicate: ReplyRule {
                code: "999".into(),
                message_contains: "已存在".into(),
            },
            period_closed: Some(ReplyRule {
                code: "999".into(),
                message_contains: "已结账".into(),
            }),
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
            Outcome::Transient {
                ambiguous: true, ..
            } => "ambiguous",
            Outcome::Transient { .. } => "transient",
            Outcome::AuthExpired(_) => "auth",
            Outcome::QuotaExhausted(_) => "quota",
            Outcome::PeriodClosed(_) => "period_closed",
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
            (http(502, "bad gateway"), "ambiguous"),
            (http(503, ""), "ambiguous"),
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
            (Answer::Timeout, "ambiguous"),
            (Answer::Transport("connection refused".into()), "ambiguous"),
            (
                Answer::Transport("connection reset by peer".into()),
                "ambiguous",
            ),
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
            (
                http(500, r#"{"code":"500","message":"内部错误"}"#),
                "ambiguous",
            ),
            (http(504, "gateway timeout"), "ambiguous"),
            (http(429, ""), "transient"),
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
            // A closed accounting period is recognised by its code and text.
            (
                http(
                    400,
                    r#"{"code":"999","message":"单据日期[2026-01-05]所在会计期间已结账"}"#,
                ),
                "period_closed",
            ),
            (
                http(500, r#"{"code":"999","message":"会计期间已结账"}"#),
                "period_closed",
            ),
            // The text under another code is not the rule.
            (
                http(400, r#"{"code":"1000","message":"会计期间已结账"}"#),
                "permanent",
            ),
            // A duplicate reply in a shape the config does not know: unrecognised.
            (
                http(422, r#"{"errcode":42,"errmsg":"ExternalCode taken"}"#),
                "permanent",
            ),
            (
                http(400, r#"{"code":"12345","message":"单据编号重复"}"#),
                "permanent",
            ),
        ];
        for (answer, expected) in cases {
            assert_eq!(kind(classify(&answer, &rule())), expected, "{answer:?}");
        }
    }

    #[test]
    fn without_a_period_rule_a_closed_period_is_unrecognised() {
        let rules = Rules {
            period_closed: None,
            ..rule()
        };
        let answer = http(400, r#"{"code":"999","message":"会计期间已结账"}"#);
        assert_eq!(kind(classify(&answer, &rules)), "permanent");
        assert_eq!(
            classify(&answer, &rule()),
            Outcome::PeriodClosed("HTTP 400, code 999: 会计期间已结账".into())
        );
    }

    #[test]
    fn rules_from_config_turn_the_period_rule_off_when_its_text_is_empty() {
        let mut cfg = j2t_config::Config::load_with_env(None, Some(Default::default()))
            .expect("defaults")
            .tplus;
        let rules = Rules::from_config(&cfg);
        assert_eq!(rules.duplicate.code, "999");
        let period = rules.period_closed.expect("on by default");
        assert_eq!(
            (period.code.as_str(), period.message_contains.as_str()),
            ("999", "已结账")
        );
        cfg.period_closed_message_contains.clear();
        assert!(Rules::from_config(&cfg).period_closed.is_none());
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
