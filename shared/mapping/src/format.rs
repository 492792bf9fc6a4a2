use serde_json::Value;

use crate::spec::{FormatKind, FormatRule};

/// Applies `formatResponse` to one order in place. Errors name the field and value.
pub fn apply(rules: &[FormatRule], order: &mut Value) -> Result<(), String> {
    for rule in rules {
        let old = order
            .get(&rule.old)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("`{}` is missing or not text", rule.old))?;
        let new = match rule.format {
            FormatKind::Date => {
                date(old).ok_or_else(|| format!("`{}` = {old:?} is not a date", rule.old))?
            }
        };
        if let Some(map) = order.as_object_mut() {
            map.insert(rule.new.clone(), Value::String(new));
        }
    }
    Ok(())
}

/// `yyyy-MM-dd` or `yyyy-MM-dd HH:mm:ss` (or `T` separated) → `yyyy-MM-dd`: the day is
/// the first 10 characters.
fn date(text: &str) -> Option<String> {
    let day = text.trim().get(..10)?;
    let parsed = chrono::NaiveDate::parse_from_str(day, DAY_FORMAT).ok()?;
    Some(parsed.format(DAY_FORMAT).to_string())
}

const DAY_FORMAT: &str = "%Y-%m-%d";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn io_date_becomes_io_date_new() {
        let rules = [FormatRule {
            format: FormatKind::Date,
            old: "io_date".into(),
            new: "io_date_new".into(),
        }];
        let mut order = json!({"io_date": "2026-11-25 14:03:00"});
        apply(&rules, &mut order).expect("valid date");
        assert_eq!(order["io_date_new"], "2026-11-25");

        let mut bad = json!({"io_date": "25/11/2026"});
        let err = apply(&rules, &mut bad).expect_err("not a date");
        assert!(err.contains("io_date"), "{err}");
        for not_a_day in ["2026-02-30 00:00:00", "2026-13-01", "2026-1-5", "yesterday"] {
            let mut bad = json!({ "io_date": not_a_day });
            assert!(apply(&rules, &mut bad).is_err(), "{not_a_day}");
        }
        let mut missing = json!({});
        assert!(apply(&rules, &mut missing).is_err());
    }
}
