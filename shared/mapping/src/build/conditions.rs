//! `[[conditions]]`.

use serde_json::Value;
use toml::Value as Toml;

use super::{Builder, one_of};
use crate::condition::{Condition, Scope, Test};
use crate::file::{ConditionFile, TestFile};
use crate::template::Path;

/// A scalar in the mapping (condition values) as JSON.
fn scalar(v: &Toml) -> Option<Value> {
    match v {
        Toml::String(s) => Some(Value::from(s.as_str())),
        Toml::Integer(i) => Some(Value::from(*i)),
        Toml::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
        Toml::Boolean(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

impl Builder {
    pub(super) fn conditions(&mut self, value: Option<Toml>) -> Vec<Condition> {
        let mut out = Vec::new();
        for (row, c) in self.list::<ConditionFile>("conditions", value, None) {
            if let Some(condition) = self.condition(row, c) {
                out.push(condition);
            }
        }
        out
    }

    fn condition(&mut self, row: String, c: ConditionFile) -> Option<Condition> {
        let row = match c.label.as_str() {
            "" => row,
            label => format!("{row} ({label})"),
        };
        let scopes = [("order", Scope::Order), ("line", Scope::Line)];
        let scope = self.ok(&row, one_of(&scopes, &c.scope, "scope"));
        let (keep, test) = match (c.skip_if, c.keep_if) {
            (Some(t), None) => (false, t),
            (None, Some(t)) => (true, t),
            _ => {
                self.add(&row, "needs exactly one of `skip_if` or `keep_if`");
                return None;
            }
        };
        let path = self.path(&row, &test.field, false).map(|(p, _)| p);
        if scope == Some(Scope::Order) && path.as_ref().is_some_and(Path::is_line) {
            self.add(
                &row,
                format!(
                    "an order condition cannot read the line field `{}`; use scope = \"line\"",
                    test.field
                ),
            );
            return None;
        }
        let test = self.ok(&row, Self::test(test));
        Some(Condition {
            name: row,
            scope: scope?,
            keep,
            path: path?,
            test: test?,
        })
    }

    fn test(t: TestFile) -> Result<Test, String> {
        let value = |v: Toml| {
            scalar(&v).ok_or_else(|| {
                format!(
                    "a {} cannot be compared: use text, a number or true/false",
                    v.type_str()
                )
            })
        };
        let list = |l: Vec<Toml>| -> Result<Vec<Value>, String> {
            if l.is_empty() {
                return Err("an `in` / `not_in` list cannot be empty".into());
            }
            l.into_iter().map(value).collect()
        };
        let tests = [
            t.equals.map(|v| value(v).map(Test::Equals)),
            t.not_equals.map(|v| value(v).map(Test::NotEquals)),
            t.in_.map(|l| list(l).map(Test::In)),
            t.not_in.map(|l| list(l).map(Test::NotIn)),
            t.is_empty.map(|b| Ok(Test::IsEmpty(b))),
        ];
        let mut given = tests.into_iter().flatten();
        match (given.next(), given.next()) {
            (Some(test), None) => test,
            _ => Err("needs exactly one test: equals, not_equals, in, not_in or is_empty".into()),
        }
    }
}
