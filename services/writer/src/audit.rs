//! The optional audit (审核, `writer.audit`) of a voucher T+ has: find its id, call
//! `OtherDispatchOpenApi/Audit`. The policy is pure and table-tested here; `handle` carries
//! it out under the same permit and breaker turn as a write.
//!
//! A failed audit never undoes or repeats the write, and never holds the voucher for
//! longer than a few tries (outages aside, which hold every call): after `max_attempts`
//! tries, or at once when T+ refuses, the voucher is acked as written and a dead letter
//! `audit_failed` keeps it; replaying it posts the voucher again (found as already there)
//! and audits it again.

use j2t_tplus::ReadError;
use serde_json::Value;

use crate::breaker::Health;
use crate::decide::Lookup;

/// What one try (finding the id, or auditing) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The voucher's id in T+: audit it next.
    Audit(String),
    /// Audited.
    Done,
    /// Try again (after a pause), unless the tries are used up.
    Again(String),
    /// Give up now: dead-letter the audit with this reason.
    Failed(String),
}

/// The voucher's id from what the writer already knows (a lookup's row), if it is there.
pub fn known_id(response: &Value) -> Option<String> {
    response
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

/// After looking the id up.
pub fn after_lookup(lookup: Lookup) -> Step {
    match lookup {
        Lookup::Found(row) => match known_id(&row) {
            Some(id) => Step::Audit(id),
            None => Step::Failed(format!("the voucher's row in T+ has no id: {row}")),
        },
        // Just written, not yet listed: T+'s list may lag.
        Lookup::Missing => Step::Again("not in T+'s voucher list yet".into()),
        Lookup::NotDone => Step::Again("not looked up".into()),
        Lookup::Transient(why) => Step::Again(format!("lookup: {why}")),
        Lookup::QuotaExhausted(why) => Step::Failed(format!("lookup: quota exhausted: {why}")),
        Lookup::Failed(why) => Step::Failed(format!("lookup: {why}")),
    }
}

/// After calling Audit, and what that says about T+ as a whole. A refusal holding
/// `already_audited` (non-empty) means an earlier try audited it (its answer was lost).
pub fn after_audit(result: Result<(), ReadError>, already_audited: &str) -> (Step, Health) {
    match result {
        Ok(()) => (Step::Done, Health::Up),
        Err(ReadError::Refused { message, .. })
            if !already_audited.is_empty() && message.contains(already_audited) =>
        {
            (Step::Done, Health::Up)
        }
        Err(ReadError::Transient(why)) => (Step::Again(why), Health::Down { retry_after: None }),
        Err(ReadError::AuthRefused(why)) => {
            (Step::Again(format!("credentials: {why}")), Health::Up)
        }
        // A refusal (e.g. already audited, or a period closed for auditing) is for a person.
        Err(error) => (Step::Failed(error.to_string()), Health::Up),
    }
}

/// Gives up on `Again` once `attempt` (1-based) reached `max_attempts`.
pub fn bounded(step: Step, attempt: usize, max_attempts: usize) -> Step {
    match step {
        Step::Again(why) if attempt >= max_attempts => {
            Step::Failed(format!("{why} (after {attempt} tries)"))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn id_lookup_table() {
        let cases = [
            (Lookup::Found(json!({"id": "42"})), Step::Audit("42".into())),
            (
                Lookup::Found(json!({"id": ""})),
                Step::Failed(r#"the voucher's row in T+ has no id: {"id":""}"#.into()),
            ),
            (
                Lookup::Missing,
                Step::Again("not in T+'s voucher list yet".into()),
            ),
            (
                Lookup::Transient("timeout".into()),
                Step::Again("lookup: timeout".into()),
            ),
            (
                Lookup::Failed("HTTP 400".into()),
                Step::Failed("lookup: HTTP 400".into()),
            ),
            (
                Lookup::QuotaExhausted("50112".into()),
                Step::Failed("lookup: quota exhausted: 50112".into()),
            ),
        ];
        for (lookup, expected) in cases {
            assert_eq!(after_lookup(lookup.clone()), expected, "{lookup:?}");
        }
    }

    #[test]
    fn audit_answer_table() {
        let down = Health::Down { retry_after: None };
        let audited = "已审核";
        assert_eq!(after_audit(Ok(()), audited), (Step::Done, Health::Up));
        assert_eq!(
            after_audit(Err(ReadError::Transient("HTTP 503".into())), audited),
            (Step::Again("HTTP 503".into()), down)
        );
        assert!(matches!(
            after_audit(Err(ReadError::AuthRefused("401".into())), audited),
            (Step::Again(_), Health::Up)
        ));
        let refused = |message: &str| ReadError::Refused {
            status: 400,
            code: "999".into(),
            message: message.into(),
        };
        // Audited by an earlier try whose answer was lost.
        assert_eq!(
            after_audit(Err(refused("单据[QC-1]已审核")), audited),
            (Step::Done, Health::Up)
        );
        assert!(matches!(
            after_audit(Err(refused("单据[QC-1]已审核")), ""),
            (Step::Failed(why), Health::Up) if why.contains("已审核")
        ));
        assert!(matches!(
            after_audit(Err(refused("会计期间已结账")), audited),
            (Step::Failed(why), Health::Up) if why.contains("已结账")
        ));
        assert!(matches!(
            after_audit(Err(ReadError::QuotaExhausted("50112".into())), audited),
            (Step::Failed(_), Health::Up)
        ));
    }

    #[test]
    fn tries_are_bounded() {
        assert_eq!(
            bounded(Step::Again("x".into()), 1, 3),
            Step::Again("x".into())
        );
        assert_eq!(
            bounded(Step::Again("x".into()), 3, 3),
            Step::Failed("x (after 3 tries)".into())
        );
        assert_eq!(bounded(Step::Done, 3, 3), Step::Done);
        assert_eq!(known_id(&json!(null)), None);
        assert_eq!(known_id(&json!({"id": "7"})), Some("7".into()));
    }
}
