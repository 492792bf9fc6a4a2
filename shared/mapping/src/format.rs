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

/// `yyyy-MM-dd` or `yyyy-MM-dd HH:mm:ss` (or `T` separated) → `yyyy-MM-dd`.
fn date(text: &str) -> Option<String> {
    let day = text.trim().get(..10)?;
    let b = day.as_bytes();
    let valid = b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    let month: u32 = day[5..7].parse().ok()?;
    let dom: u32 = day[8..10].parse().ok()?;
    (valid && (1..=12).contains(&month) && (1..=31).contains(&dom)).then(|| day.to_string())
}

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
        let mut missing = json!({});
        assert!(apply(&rules, &mut missing).is_err());
    }
}
