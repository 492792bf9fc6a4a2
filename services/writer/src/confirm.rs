//! What a lookup of a voucher's ExternalCode in T+ means: for `decide` (a [`Lookup`]) and for
//! the breaker (a [`Health`]). Pure, table-tested; the lookup itself is `VoucherIndex`'s.

use j2t_tplus::{ReadError, VoucherRow};

use crate::breaker::Health;
use crate::decide::Lookup;

/// The lookup's result as `decide`'s input, and what it says about T+ as a whole: only a
/// transient failure counts against T+, like a transient write failure.
pub fn interpret(found: Result<Option<VoucherRow>, ReadError>) -> (Lookup, Health) {
    let up = Health::Up;
    match found {
        Ok(Some(row)) => (
            Lookup::Found(serde_json::to_value(&row).unwrap_or_default()),
            up,
        ),
        Ok(None) => (Lookup::Missing, up),
        Err(ReadError::Transient(why)) => {
            (Lookup::Transient(why), Health::Down { retry_after: None })
        }
        // The client refreshed the token once already; later may work, as for a write.
        Err(ReadError::AuthRefused(why)) => (Lookup::Transient(format!("credentials: {why}")), up),
        Err(ReadError::QuotaExhausted(why)) => (Lookup::QuotaExhausted(why), up),
        Err(error @ (ReadError::Refused { .. } | ReadError::Unreadable(_))) => {
            (Lookup::Failed(error.to_string()), up)
        }
    }
}

/// The metric label of a lookup's result (bounded).
pub fn label(lookup: &Lookup) -> &'static str {
    match lookup {
        Lookup::Found(_) => "found",
        Lookup::Missing => "missing",
        Lookup::NotDone => "not_done",
        Lookup::Transient(_) | Lookup::QuotaExhausted(_) | Lookup::Failed(_) => "failed",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row() -> VoucherRow {
        VoucherRow {
            id: "17".into(),
            code: "QC-0017".into(),
            external_code: "J2T-A".into(),
            ts: None,
        }
    }

    #[test]
    fn lookup_results_table() {
        let down = Health::Down { retry_after: None };
        let cases: Vec<(Result<Option<VoucherRow>, ReadError>, Lookup, Health)> = vec![
            (
                Ok(Some(row())),
                Lookup::Found(serde_json::to_value(row()).expect("row")),
                Health::Up,
            ),
            (Ok(None), Lookup::Missing, Health::Up),
            (
                Err(ReadError::Transient("timeout".into())),
                Lookup::Transient("timeout".into()),
                down,
            ),
            (
                Err(ReadError::AuthRefused("HTTP 401".into())),
                Lookup::Transient("credentials: HTTP 401".into()),
                Health::Up,
            ),
            (
                Err(ReadError::QuotaExhausted("50112".into())),
                Lookup::QuotaExhausted("50112".into()),
                Health::Up,
            ),
        ];
        for (found, lookup, health) in cases {
            let shown = format!("{found:?}");
            assert_eq!(interpret(found), (lookup, health), "{shown}");
        }
        for error in [
            ReadError::Refused {
                status: 400,
                code: "999".into(),
                message: "无权限".into(),
            },
            ReadError::Unreadable("not a list".into()),
        ] {
            let (lookup, health) = interpret(Err(error));
            assert!(matches!(lookup, Lookup::Failed(_)), "{lookup:?}");
            assert_eq!(health, Health::Up);
        }
    }

    #[test]
    fn labels_are_bounded() {
        assert_eq!(label(&Lookup::Found(json!({}))), "found");
        assert_eq!(label(&Lookup::Missing), "missing");
        assert_eq!(label(&Lookup::Transient(String::new())), "failed");
    }
}
