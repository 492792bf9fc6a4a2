use std::fmt;

use serde_json::Value;

use crate::decimal::Fixed;
use crate::template::{Path, scalar_text};

/// What a condition looks at: whole orders or single lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Order,
    Line,
}

/// A test on one field's value. A missing or `null` field equals nothing, so `equals` and
/// `in` fail on it and `not_equals` and `not_in` pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Equals(Value),
    NotEquals(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    /// `true`: the field is missing, `null`, `""` or `[]`; `false`: it has a value.
    IsEmpty(bool),
}

impl Test {
    pub fn matches(&self, value: Option<&Value>) -> bool {
        let eq = |expected: &Value| value.is_some_and(|v| same(v, expected));
        match self {
            Test::Equals(e) => eq(e),
            Test::NotEquals(e) => !eq(e),
            Test::In(list) => list.iter().any(eq),
            Test::NotIn(list) => !list.iter().any(eq),
            Test::IsEmpty(want) => *want == is_empty(value),
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |l: &[Value]| Value::Array(l.to_vec()).to_string();
        match self {
            Test::Equals(v) => write!(f, "equals {v}"),
            Test::NotEquals(v) => write!(f, "not_equals {v}"),
            Test::In(l) => write!(f, "in {}", list(l)),
            Test::NotIn(l) => write!(f, "not_in {}", list(l)),
            Test::IsEmpty(b) => write!(f, "is_empty {b}"),
        }
    }
}

/// JST sends some numbers as text, so a number in the mapping compares numerically with a
/// number or numeric text; anything else compares as text (`true` matches `true` and
/// `"true"`, `"1"` matches `1`).
fn same(actual: &Value, expected: &Value) -> bool {
    if expected.is_number() {
        return match (Fixed::from_json(actual), Fixed::from_json(expected)) {
            (Some(a), Some(e)) => a == e,
            _ => false,
        };
    }
    scalar_text(actual) == scalar_text(expected)
}

fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

/// One `[[conditions]]` entry: `skip_if` leaves out what matches, `keep_if` what does not.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// `conditions[0]`, with the label when there is one, for reasons.
    pub name: String,
    pub scope: Scope,
    /// `keep_if` (true) or `skip_if` (false).
    pub keep: bool,
    pub path: Path,
    pub test: Test,
}

impl Condition {
    /// Why this condition leaves the order (or the line) out; `None` keeps it.
    pub fn skip_reason(&self, order: &Value, line: Option<&Value>) -> Option<String> {
        let hit = self.test.matches(self.path.get(order, line));
        let (verb, skip) = if self.keep {
            ("keep_if", !hit)
        } else {
            ("skip_if", hit)
        };
        let not = if self.keep { " is not met" } else { "" };
        skip.then(|| format!("{}: {verb} {} {}{not}", self.name, self.path, self.test))
    }
}

/// The first reason any of `conditions` (of `scope`) gives to leave this out.
pub fn skipped_by(
    conditions: &[Condition],
    scope: Scope,
    order: &Value,
    line: Option<&Value>,
) -> Option<String> {
    conditions
        .iter()
        .filter(|c| c.scope == scope)
        .find_map(|c| c.skip_reason(order, line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(keep: bool, field: &str, test: Test) -> Condition {
        Condition {
            name: "conditions[0]".into(),
            scope: Scope::Line,
            keep,
            path: Path::parse(field, "items").expect("valid"),
            test,
        }
    }

    #[test]
    fn tests_compare_numbers_numerically_and_the_rest_as_text() {
        let gift = cond(false, "items.is_gift", Test::Equals(json!(true)));
        let order = json!({});
        assert!(
            gift.skip_reason(&order, Some(&json!({"is_gift": true})))
                .is_some()
        );
        assert!(
            gift.skip_reason(&order, Some(&json!({"is_gift": "true"})))
                .is_some()
        );
        assert!(
            gift.skip_reason(&order, Some(&json!({"is_gift": false})))
                .is_none()
        );
        assert!(gift.skip_reason(&order, Some(&json!({}))).is_none());

        assert!(Test::Equals(json!(1)).matches(Some(&json!("1.0"))));
        assert!(Test::Equals(json!("1")).matches(Some(&json!(1))));
        assert!(!Test::Equals(json!(1)).matches(Some(&json!("one"))));
        assert!(Test::NotEquals(json!(1)).matches(None));
        assert!(Test::In(vec![json!("a"), json!("b")]).matches(Some(&json!("b"))));
        assert!(Test::NotIn(vec![json!("a")]).matches(None));
        assert!(Test::IsEmpty(true).matches(Some(&json!(" "))));
        assert!(Test::IsEmpty(true).matches(Some(&json!([]))));
        assert!(Test::IsEmpty(false).matches(Some(&json!(0))));
    }

    #[test]
    fn keep_if_skips_what_does_not_match_and_says_why() {
        let mut confirmed = cond(true, "status", Test::In(vec![json!("Confirmed")]));
        confirmed.scope = Scope::Order;
        let reason = confirmed
            .skip_reason(&json!({"status": "Cancelled"}), None)
            .expect("skipped");
        assert_eq!(
            reason,
            r#"conditions[0]: keep_if status in ["Confirmed"] is not met"#
        );
        assert!(
            confirmed
                .skip_reason(&json!({"status": "Confirmed"}), None)
                .is_none()
        );
        let conditions = [confirmed];
        assert!(skipped_by(&conditions, Scope::Line, &json!({}), None).is_none());
        assert!(skipped_by(&conditions, Scope::Order, &json!({}), None).is_some());
    }
}
