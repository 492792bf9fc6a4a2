//! `[[header]]` and `[[body]]` rows, and the checks across rows.

use toml::Value as Toml;

use super::{Builder, one_of};
use crate::fields::{Kind, LINE_ARRAY, MERGE};
use crate::file::RowFile;
use crate::spec::{FieldRow, FieldType, MergeSpec, TargetSpec};
use crate::template::{Path, Template, is_name};

/// The longest ExternalCode `code::external_code` makes, without its prefix.
const CODE_LEN_WITHOUT_PREFIX: usize = 8 + 1 + 10 + 1 + 3;
/// T+'s limit on ExternalCode that we hold ourselves to.
const CODE_MAX: usize = 30;

impl Builder {
    pub(super) fn rows(
        &mut self,
        section: &str,
        value: Option<Toml>,
        line: bool,
    ) -> Vec<(String, FieldRow)> {
        let mut out = Vec::new();
        for (row, r) in self.list::<RowFile>(section, value, Some("field")) {
            if let Some(field_row) = self.row(&row, r, line) {
                out.push((row, field_row));
            }
        }
        if line && out.is_empty() && !self.problems.iter().any(|p| p.row.starts_with("body")) {
            self.add("body", "at least one line field is needed ([[body]] rows)");
        }
        out
    }

    fn row(&mut self, row: &str, r: RowFile, line: bool) -> Option<FieldRow> {
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
            let unknown = |m: &&String| !self.map_names.contains(*m);
            if let Some(name) = placeholder.map.as_ref().filter(unknown) {
                let known: Vec<&str> = self.map_names.iter().map(String::as_str).collect();
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
    pub(super) fn fields_do_not_collide(
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
    pub(super) fn external_code(&mut self, header: &[(String, FieldRow)], merge: &MergeSpec) {
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
