//! Mapping file → checked [`Mapping`]. Every section and row is read on its own and every
//! problem is collected with its row, so `check` can list all of them at once.

use serde::de::DeserializeOwned;
use serde_json::Value;
use toml::{Table, Value as Toml};

use crate::condition::{Condition, Scope, Test};
use crate::error::MappingProblem;
use crate::fields::{Catalog, Kind, LINE_ARRAY, MERGE};
use crate::file::{
    ConditionFile, DeriveFile, FormatFile, MergeFile, RowFile, SourceFile, TargetFile, TestFile,
};
use crate::spec::{
    DerivePrice, FieldRow, FieldType, FormatKind, FormatRule, Mapping, MergeSpec, TargetSpec,
};
use crate::template::{Path, Template, is_name};
use crate::value_map::{ValueMap, ValueMaps};

const SECTIONS: &[&str] = &[
    "source",
    "format_response",
    "value_maps",
    "conditions",
    "merge",
    "target",
    "header",
    "body",
];

/// The longest ExternalCode `code::external_code` makes, without its prefix.
const CODE_LEN_WITHOUT_PREFIX: usize = 8 + 1 + 10 + 1 + 3;
/// T+'s limit on ExternalCode that we hold ourselves to.
const CODE_MAX: usize = 30;

pub fn build(text: &str) -> Result<Mapping, Vec<MappingProblem>> {
    let mut table: Table = toml::from_str(text).map_err(|e| vec![syntax(text, &e)])?;
    let mut b = Builder {
        problems: Vec::new(),
        catalog: Catalog::new(&[], &[]),
    };
    for key in table.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
        b.add(
            key,
            format!("unknown section (expected one of {})", SECTIONS.join(", ")),
        );
    }
    b.source(table.remove("source"));
    let target = b.target(table.remove("target"));
    let format_response = b.format_response(table.remove("format_response"));
    let value_maps = b.value_maps(table.remove("value_maps"));
    let conditions = b.conditions(table.remove("conditions"));
    let merge = b.merge(table.remove("merge"));
    let header = b.rows("header", table.remove("header"), false, &value_maps);
    let body = b.rows("body", table.remove("body"), true, &value_maps);
    b.fields_do_not_collide(&header, &body, target.as_ref());
    if let Some(m) = &merge {
        b.external_code(&header, m);
    }
    match (target, merge) {
        (Some(target), Some(merge)) if b.problems.is_empty() => Ok(Mapping {
            format_response,
            value_maps,
            conditions,
            merge,
            target,
            header: header.into_iter().map(|(_, row)| row).collect(),
            body: body.into_iter().map(|(_, row)| row).collect(),
        }),
        _ => Err(b.problems),
    }
}

/// A TOML syntax error, at its line and column.
fn syntax(text: &str, e: &toml::de::Error) -> MappingProblem {
    let at = e.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..at).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    MappingProblem::new(
        format!("line {line}, column {column}"),
        format!("not valid TOML: {}", e.message().trim()),
    )
}

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

fn one_of<T: Copy>(names: &[(&str, T)], given: &str, what: &str) -> Result<T, String> {
    names
        .iter()
        .find(|(n, _)| *n == given)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let expected: Vec<String> = names.iter().map(|(n, _)| format!("`{n}`")).collect();
            format!(
                "unknown {what} `{given}` (expected {})",
                expected.join(" or ")
            )
        })
}

struct Builder {
    problems: Vec<MappingProblem>,
    catalog: Catalog,
}

impl Builder {
    fn add(&mut self, row: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(MappingProblem::new(row, problem));
    }

    /// `Ok` as `Some`; an error recorded against `row`.
    fn ok<T>(&mut self, row: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.add(row, e)).ok()
    }

    fn read<T: DeserializeOwned>(&mut self, row: &str, value: Toml) -> Option<T> {
        let result = T::deserialize(value).map_err(|e| e.message().trim().to_string());
        self.ok(row, result)
    }

    /// The elements of an array-of-tables section, each read on its own and named
    /// `section[i]`, plus ` (value)` of its `name_key` when it has one.
    fn list<T: DeserializeOwned>(
        &mut self,
        section: &str,
        value: Option<Toml>,
        name_key: Option<&str>,
    ) -> Vec<(String, T)> {
        let items = match value {
            None => return Vec::new(),
            Some(Toml::Array(items)) => items,
            Some(_) => {
                self.add(section, format!("must be a list of [[{section}]] tables"));
                return Vec::new();
            }
        };
        items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let name = match name_key.and_then(|k| item.get(k)).and_then(Toml::as_str) {
                    Some(n) if !n.is_empty() => format!("{section}[{i}] ({n})"),
                    _ => format!("{section}[{i}]"),
                };
                self.read(&name, item).map(|t| (name, t))
            })
            .collect()
    }

    /// Parses a path and checks the field exists where it is read.
    fn path(&mut self, row: &str, text: &str, merged: bool) -> Option<(Path, Kind)> {
        let path = self.ok(row, Path::parse(text, LINE_ARRAY))?;
        let kind = self.ok(row, self.catalog.kind(&path, merged))?;
        Some((path, kind))
    }

    fn source(&mut self, value: Option<Toml>) {
        let Some(value) = value else { return };
        let Some(source): Option<SourceFile> = self.read("source", value) else {
            return;
        };
        for (key, names) in [
            ("order_fields", &source.order_fields),
            ("line_fields", &source.line_fields),
        ] {
            for (i, name) in names.iter().enumerate() {
                if !is_name(name) {
                    self.add(
                        format!("source.{key}[{i}]"),
                        format!("`{name}` is not a field name"),
                    );
                }
            }
        }
        self.catalog = Catalog::new(&source.order_fields, &source.line_fields);
    }

    fn target(&mut self, value: Option<Toml>) -> Option<TargetSpec> {
        let Some(value) = value else {
            self.add(
                "target",
                "missing section [target] (wrapper, body_field, body_source)",
            );
            return None;
        };
        let t: TargetFile = self.read("target", value)?;
        let mut ok = true;
        for (key, name) in [("wrapper", &t.wrapper), ("body_field", &t.body_field)] {
            if !is_name(name) {
                self.add(
                    format!("target.{key}"),
                    format!("`{name}` is not a T+ field name"),
                );
                ok = false;
            }
        }
        if t.body_source != LINE_ARRAY {
            self.add(
                "target.body_source",
                format!(
                    "unknown line array `{}` (JST outbound orders carry their lines in `{LINE_ARRAY}`)",
                    t.body_source
                ),
            );
            ok = false;
        }
        ok.then_some(TargetSpec {
            wrapper: t.wrapper,
            body_field: t.body_field,
            body_source: t.body_source,
        })
    }

    fn format_response(&mut self, value: Option<Toml>) -> Vec<FormatRule> {
        let mut rules = Vec::new();
        for (row, f) in self.list::<FormatFile>("format_response", value, Some("new")) {
            let format = self.ok(&row, one_of(FormatKind::NAMES, &f.format, "format"));
            let old = self.path(&row, &f.old, false);
            if old.as_ref().is_some_and(|(p, _)| p.is_line()) {
                self.add(&row, format!("`old` = `{}` must be an order field", f.old));
            }
            if !is_name(&f.new) {
                self.add(&row, format!("`new` = `{}` is not a field name", f.new));
                continue;
            }
            // Later rules and every row may read it, even when this rule had a problem.
            self.catalog.create(&f.new);
            if let (Some(format), Some(_)) = (format, old) {
                rules.push(FormatRule {
                    format,
                    old: f.old,
                    new: f.new,
                });
            }
        }
        rules
    }

    fn value_maps(&mut self, value: Option<Toml>) -> ValueMaps {
        let mut maps = ValueMaps::new();
        let tables = match value {
            None => return maps,
            Some(Toml::Table(t)) => t,
            Some(_) => {
                self.add("value_maps", "must hold tables: [value_maps.NAME]");
                return maps;
            }
        };
        for (name, table) in tables {
            let row = format!("value_maps.{name}");
            if !is_name(&name) {
                self.add(&row, "a map name is letters, digits and `_`");
            }
            if let Some(map) = self.value_map(&row, table) {
                maps.insert(name, map);
            }
        }
        maps
    }

    fn value_map(&mut self, row: &str, table: Toml) -> Option<ValueMap> {
        let Toml::Table(mut table) = table else {
            self.add(row, "must be a table with `entries` (and `default`)");
            return None;
        };
        let entries = table.remove("entries");
        let default = table.remove("default");
        if let Some(key) = table.keys().next() {
            self.add(
                row,
                format!(
                    "`{key}` is not `entries` or `default`; list values under \
                     [{row}.entries] (or `entries = {{ \"1\" = \"WH01\" }}`)"
                ),
            );
            return None;
        }
        let text = |v: &Toml| match v {
            Toml::String(s) => Some(s.clone()),
            Toml::Integer(i) => Some(i.to_string()),
            _ => None,
        };
        let mut map = ValueMap {
            entries: Default::default(),
            default: None,
        };
        let mut ok = true;
        match entries {
            None => {}
            Some(Toml::Table(entries)) => {
                for (key, value) in entries {
                    match text(&value) {
                        Some(v) => {
                            map.entries.insert(key, v);
                        }
                        None => {
                            self.add(row, format!("entry {key:?}: the T+ value must be text"));
                            ok = false;
                        }
                    }
                }
            }
            Some(_) => {
                self.add(
                    row,
                    "`entries` must be a table of \"JST value\" = \"T+ value\"",
                );
                ok = false;
            }
        }
        if let Some(default) = default {
            map.default = text(&default);
            if map.default.is_none() {
                self.add(row, "`default` must be text");
                ok = false;
            }
        }
        if ok && map.entries.is_empty() && map.default.is_none() {
            self.add(row, "has no entries and no default");
            ok = false;
        }
        ok.then_some(map)
    }

    fn conditions(&mut self, value: Option<Toml>) -> Vec<Condition> {
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

    fn merge(&mut self, value: Option<Toml>) -> Option<MergeSpec> {
        let Some(value) = value else {
            self.add("merge", "missing section [merge]");
            return None;
        };
        let m: MergeFile = self.read("merge", value)?;
        let mut ok = true;
        if m.method != "merge" {
            self.add(
                "merge.method",
                format!("unknown operation `{}` (expected `merge`)", m.method),
            );
            ok = false;
        }
        if m.body_max_line == 0 {
            self.add("merge.body_max_line", "must be at least 1");
            ok = false;
        }
        if m.code_prefix.len() > 4 || !m.code_prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            self.add(
                "merge.code_prefix",
                "must be at most 4 ASCII letters or digits (ExternalCode ≤ 30 characters)",
            );
            ok = false;
        }
        let header_group = self.group("merge.header_group", &m.header_group, false);
        if m.line_group.is_empty() {
            self.add(
                "merge.line_group",
                "needs at least one line field (e.g. `items.sku_id`)",
            );
        }
        let line_group = self.group("merge.line_group", &m.line_group, true);
        let sum = self.sums(&m.sum, line_group.as_deref().unwrap_or_default());
        let derive_price = match m.derive_price {
            None => Some(None),
            Some(d) => self.derive(d, sum.as_deref().unwrap_or_default()).map(Some),
        };
        Some(MergeSpec {
            header_group: header_group?,
            line_group: line_group?,
            sum: sum?,
            body_max_line: m.body_max_line,
            code_prefix: m.code_prefix,
            derive_price: derive_price?,
        })
        .filter(|_| ok)
    }

    /// Group keys: order fields for the header, line fields for the lines.
    fn group(&mut self, key: &str, texts: &[String], line: bool) -> Option<Vec<Path>> {
        let mut paths = Vec::new();
        let mut ok = true;
        for (i, text) in texts.iter().enumerate() {
            let row = format!("{key}[{i}]");
            let Some((path, kind)) = self.path(&row, text, false) else {
                ok = false;
                continue;
            };
            let problem = if path.is_line() != line {
                Some(if line {
                    format!("`{path}` is not a line field (write `{LINE_ARRAY}.…`)")
                } else {
                    format!("header keys cannot address the line field `{path}`")
                })
            } else if kind == Kind::List {
                Some(format!("`{path}` is a list, not a value"))
            } else if paths.contains(&path) {
                Some(format!("`{path}` is listed twice"))
            } else {
                None
            };
            match problem {
                Some(problem) => {
                    self.add(row, problem);
                    ok = false;
                }
                None => paths.push(path),
            }
        }
        ok.then_some(paths)
    }

    /// `$sum` fields: numeric line fields that are not line keys.
    fn sums(&mut self, texts: &[String], line_group: &[Path]) -> Option<Vec<Path>> {
        let mut paths = Vec::new();
        let mut ok = true;
        for (i, text) in texts.iter().enumerate() {
            let row = format!("merge.sum[{i}]");
            let Some((path, kind)) = self.path(&row, text, false) else {
                ok = false;
                continue;
            };
            let problem = if !path.is_line() {
                Some(format!(
                    "`{path}` is not a line field: sums add up lines (`{LINE_ARRAY}.…`)"
                ))
            } else if matches!(kind, Kind::Text | Kind::Bool | Kind::List) {
                Some(format!("`{path}` is not a number"))
            } else if kind == Kind::Price {
                Some(format!(
                    "`{path}` is a unit price: a sum of prices means nothing (use [merge.derive_price])"
                ))
            } else if line_group.contains(&path) {
                Some(format!("`{path}` is a line key; it cannot be summed too"))
            } else if paths.contains(&path) {
                Some(format!("`{path}` is listed twice"))
            } else {
                None
            };
            match problem {
                Some(problem) => {
                    self.add(row, problem);
                    ok = false;
                }
                None => paths.push(path),
            }
        }
        ok.then_some(paths)
    }

    fn derive(&mut self, value: Toml, sums: &[Path]) -> Option<DerivePrice> {
        let d: DeriveFile = self.read("merge.derive_price", value)?;
        let line = |b: &mut Self, key: &str, text: &str| {
            let row = format!("merge.derive_price.{key}");
            let (path, kind) = b.path(&row, text, false)?;
            if !path.is_line() {
                b.add(row, format!("`{path}` is not a line field"));
                return None;
            }
            if key != "price" && matches!(kind, Kind::Text | Kind::Bool | Kind::List) {
                b.add(row, format!("`{path}` is not a number"));
                return None;
            }
            Some(path)
        };
        let price = line(self, "price", &d.price);
        let amount = line(self, "amount", &d.amount);
        let quantity = line(self, "quantity", &d.quantity);
        if price.as_ref().is_some_and(|p| sums.contains(p)) {
            self.add(
                "merge.derive_price.price",
                format!(
                    "`{}` is also in merge.sum; a derived price is not summed",
                    d.price
                ),
            );
            return None;
        }
        if d.decimals > 6 {
            self.add("merge.derive_price.decimals", "must be 0 to 6");
            return None;
        }
        Some(DerivePrice {
            price: price?,
            amount: amount?,
            quantity: quantity?,
            decimals: d.decimals,
        })
    }

    fn rows(
        &mut self,
        section: &str,
        value: Option<Toml>,
        line: bool,
        maps: &ValueMaps,
    ) -> Vec<(String, FieldRow)> {
        let mut out = Vec::new();
        for (row, r) in self.list::<RowFile>(section, value, Some("field")) {
            if let Some(field_row) = self.row(&row, r, line, maps) {
                out.push((row, field_row));
            }
        }
        if line && out.is_empty() && !self.problems.iter().any(|p| p.row.starts_with("body")) {
            self.add("body", "at least one line field is needed ([[body]] rows)");
        }
        out
    }

    fn row(&mut self, row: &str, r: RowFile, line: bool, maps: &ValueMaps) -> Option<FieldRow> {
        let mut ok = true;
        if !r.field.split('.').all(is_name) {
            self.add(row, "field must be a dotted name like `Inventory.Code`");
            ok = false;
        }
        let kind = self.ok(row, one_of(FieldType::NAMES, &r.kind, "type"));
        let value = self.ok(row, Template::parse(&r.value, LINE_ARRAY))?;
        for placeholder in value.placeholders() {
            let path = &placeholder.path;
            if !line && path.is_line() {
                self.add(
                    row,
                    format!("header rows cannot read line fields (`{path}`)"),
                );
                ok = false;
                continue;
            }
            match self.catalog.kind(path, true) {
                Err(e) => {
                    self.add(row, e);
                    ok = false;
                }
                Ok(Kind::List) => {
                    self.add(row, format!("`{path}` is a list, not a value"));
                    ok = false;
                }
                Ok(_) => {}
            }
            if let Some(name) = placeholder.map.as_ref().filter(|m| !maps.contains_key(*m)) {
                let known: Vec<&str> = maps.keys().map(String::as_str).collect();
                self.add(
                    row,
                    format!(
                        "unknown value map `{name}` (defined: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                ok = false;
            }
        }
        Some(FieldRow {
            field: r.field.split('.').map(str::to_string).collect(),
            label: r.label,
            describe: r.describe,
            kind: kind?,
            value,
            required: r.required,
        })
        .filter(|_| ok)
    }

    /// Two rows writing the same T+ field (or one inside the other) would overwrite each
    /// other silently.
    fn fields_do_not_collide(
        &mut self,
        header: &[(String, FieldRow)],
        body: &[(String, FieldRow)],
        target: Option<&TargetSpec>,
    ) {
        let overlaps = |a: &[String], b: &[String]| a.iter().zip(b).all(|(x, y)| x == y);
        for rows in [header, body] {
            for (i, (row, r)) in rows.iter().enumerate() {
                if let Some((other, _)) =
                    rows[..i].iter().find(|(_, o)| overlaps(&o.field, &r.field))
                {
                    self.add(row, format!("writes the same T+ field as {other}"));
                }
            }
        }
        if let Some(t) = target
            && let Some((row, _)) = header.iter().find(|(_, r)| r.field[0] == t.body_field)
        {
            self.add(
                row,
                format!(
                    "`{}` is target.body_field, where the lines go",
                    t.body_field
                ),
            );
        }
    }

    /// T+ refuses a second voucher with the same ExternalCode: that is what makes retries
    /// and replays harmless, so the header must send the merge's code, which is unique per
    /// voucher and the same on every replay.
    fn external_code(&mut self, header: &[(String, FieldRow)], merge: &MergeSpec) {
        let merge_code = MERGE[0].0;
        let Some((row, r)) = header.iter().find(|(_, r)| r.field == ["ExternalCode"]) else {
            if !self.problems.iter().any(|p| p.row.starts_with("header")) {
                self.add(
                    "header",
                    format!(
                        "no `ExternalCode` row; add one with value = \"{{{merge_code}}}\" \
                         (T+ refuses duplicates by ExternalCode)"
                    ),
                );
            }
            return;
        };
        let paths: Vec<&Path> = r.value.paths().collect();
        if paths.len() != 1 || paths[0].name() != merge_code {
            self.add(
                row,
                format!(
                    "ExternalCode must be made from `{{{merge_code}}}` alone (plus constant \
                     text): it is the only value unique per voucher and equal on every replay"
                ),
            );
            return;
        }
        let longest = r.value.constant_len() + merge.code_prefix.len() + CODE_LEN_WITHOUT_PREFIX;
        if longest > CODE_MAX {
            self.add(
                row,
                format!("ExternalCode can reach {longest} characters; T+ takes at most {CODE_MAX}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        Mapping::check(text)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn builtin_with(from: &str, to: &str) -> String {
        assert!(crate::DEFAULT_MAPPING_TOML.contains(from), "{from}");
        crate::DEFAULT_MAPPING_TOML.replacen(from, to, 1)
    }

    #[test]
    fn the_builtin_mapping_has_no_problems() {
        assert_eq!(problems(crate::DEFAULT_MAPPING_TOML), Vec::<String>::new());
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let p = problems("[merge\nmethod = 1");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("line 1, column"), "{p:?}");
    }

    #[test]
    fn row_problems_are_named() {
        let cases = [
            (
                "method = \"merge\"",
                "method = \"mrge\"",
                "merge.method: unknown operation `mrge`",
            ),
            (
                "{items.qty}\"",
                "{items.qty\"",
                "body[1] (BaseQuantity): template",
            ),
            (
                "value = \"{remark}\"",
                "value = \"{remarks}\"",
                "header[5] (Memo): unknown source field `remarks` (did you mean `remark`?)",
            ),
            (
                "type = \"number\"",
                "type = \"numbr\"",
                "body[1] (BaseQuantity): unknown type `numbr` (expected `string` or `number`)",
            ),
            (
                "format = \"date\"",
                "format = \"dat\"",
                "format_response[0] (io_date_new): unknown format `dat`",
            ),
            (
                "sum = [\"items.qty\"",
                "sum = [\"remark\"",
                "merge.sum[0]: `remark` is not a line field",
            ),
            (
                "sum = [\"items.qty\"",
                "sum = [\"items.sale_price\"",
                "merge.sum[0]: `items.sale_price` is a unit price",
            ),
            (
                "header_group = [\"io_date_new\"",
                "header_group = [\"merge_code\"",
                "merge.header_group[0]: `merge_code` is made by the merge",
            ),
            (
                "value = \"{wms_co_id}\"",
                "value = \"{wms_co_id|warehouse}\"",
                "header[4] (Warehouse.Code): unknown value map `warehouse` (defined: none)",
            ),
            (
                "value = \"{merge_code}\"",
                "value = \"{io_id}\"",
                "header[0] (ExternalCode): ExternalCode must be made from `{merge_code}`",
            ),
            (
                "label = \"单价\"",
                "lable = \"单价\"",
                "body[2] (Price): unknown field `lable`",
            ),
            ("[target]", "[targte]", "targte: unknown section"),
            (
                "field = \"Amount\"",
                "field = \"Price\"",
                "body[3] (Price): writes the same T+ field as body[2] (Price)",
            ),
        ];
        for (from, to, expected) in cases {
            let p = problems(&builtin_with(from, to));
            assert!(
                p.iter().any(|p| p.starts_with(expected)),
                "{to}: expected {expected:?} in {p:#?}"
            );
        }
    }

    #[test]
    fn value_maps_and_conditions_are_read_and_checked() {
        let text = format!(
            "{}\n{}",
            crate::DEFAULT_MAPPING_TOML.replace("{wms_co_id}", "{wms_co_id|warehouse}"),
            r#"
[value_maps.warehouse]
entries = { "1" = "WH01", "2" = 2 }
default = "WH00"

[value_maps.flat]
"1" = "x"

[[conditions]]
scope = "line"
label = "gifts"
skip_if = { field = "items.is_gift", equals = true }

[[conditions]]
scope = "order"
skip_if = { field = "items.is_gift", equals = true }

[[conditions]]
scope = "order"
keep_if = { field = "status", in = ["Confirmed"], equals = "x" }
"#
        );
        let p = problems(&text);
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(
            p[0].starts_with("value_maps.flat: `1` is not `entries` or `default`"),
            "{p:#?}"
        );
        assert!(
            p[1].starts_with("conditions[1]: an order condition cannot read the line field"),
            "{p:#?}"
        );
        assert!(
            p[2].starts_with("conditions[2]: needs exactly one test"),
            "{p:#?}"
        );

        let fixed = text
            .replace("[value_maps.flat]\n\"1\" = \"x\"", "")
            .replace(
                "scope = \"order\"\nskip_if = { field = \"items.is_gift\"",
                "scope = \"line\"\nskip_if = { field = \"items.is_gift\"",
            )
            .replace(", equals = \"x\"", "");
        let m = Mapping::from_toml(&fixed).expect("valid");
        assert_eq!(m.value_maps["warehouse"].entries["2"], "2");
        assert_eq!(m.conditions.len(), 3);
        assert_eq!(m.conditions[0].name, "conditions[0] (gifts)");
    }
}
