//! Mapping file → checked [`Mapping`]. Every section and row is read on its own and every
//! problem is collected with its row, so `check` can list all of them at once. One file per
//! part of the mapping file; this one reads the file and holds the shared helpers.

mod conditions;
mod merge_section;
mod rows;
mod sections;
#[cfg(test)]
mod tests;
mod value_maps;

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use toml::{Table, Value as Toml};

use crate::error::MappingProblem;
use crate::fields::{Catalog, Kind, LINE_ARRAY};
use crate::spec::Mapping;
use crate::template::Path;

const SECTIONS: &[&str] = &[
    "source",
    "format_response",
    "value_maps",
    "conditions",
    "merge",
    "target",
    "header",
    "body",
    "corrections",
];

pub fn build(text: &str) -> Result<Mapping, Vec<MappingProblem>> {
    let mut table: Table = toml::from_str(text).map_err(|e| vec![syntax(text, &e)])?;
    let mut b = Builder {
        problems: Vec::new(),
        catalog: Catalog::new(&[], &[]),
        map_names: BTreeSet::new(),
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
    let header = b.rows("header", table.remove("header"), false);
    let body = b.rows("body", table.remove("body"), true);
    let corrections = b.corrections(table.remove("corrections"));
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
            corrections,
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
    /// Every `[value_maps.NAME]` written, usable or not: a row naming a map that has its own
    /// problem is not reported a second time as naming an unknown map.
    map_names: BTreeSet<String>,
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
}
