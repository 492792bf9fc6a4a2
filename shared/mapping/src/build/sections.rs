//! `[source]`, `[target]` and `[[format_response]]`.

use toml::Value as Toml;

use super::{Builder, one_of};
use crate::corrections::{CorrectionForm, CorrectionsSpec};
use crate::fields::{Catalog, LINE_ARRAY};
use crate::file::{CorrectionsFile, FormatFile, SourceFile, TargetFile};
use crate::spec::{FormatKind, FormatRule, TargetSpec};
use crate::template::is_name;

impl Builder {
    pub(super) fn source(&mut self, value: Option<Toml>) {
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

    pub(super) fn target(&mut self, value: Option<Toml>) -> Option<TargetSpec> {
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

    pub(super) fn format_response(&mut self, value: Option<Toml>) -> Vec<FormatRule> {
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

    /// `[corrections]`: absent, the defaults (return vouchers for decreases).
    pub(super) fn corrections(&mut self, value: Option<Toml>) -> CorrectionsSpec {
        let mut spec = CorrectionsSpec::default();
        let Some(value) = value else { return spec };
        let Some(file): Option<CorrectionsFile> = self.read("corrections", value) else {
            return spec;
        };
        if let Some(prefix) = file.code_prefix {
            if prefix.is_empty()
                || prefix.len() > 4
                || !prefix.chars().all(|c| c.is_ascii_alphanumeric())
            {
                self.add(
                    "corrections.code_prefix",
                    format!("`{prefix}` must be 1 to 4 letters or digits (the ExternalCode has at most 30 characters)"),
                );
            } else {
                spec.code_prefix = prefix;
            }
        }
        for (key, given, form) in [
            ("decrease", file.decrease, &mut spec.decrease),
            ("increase", file.increase, &mut spec.increase),
        ] {
            let Some(given) = given else { continue };
            let row = format!("corrections.{key}");
            if let Some(read) = self.read::<CorrectionForm>(&row, given) {
                if read.voucher_type.is_empty() || read.busi_type.is_empty() {
                    self.add(&row, "voucher_type and busi_type must not be empty");
                } else {
                    *form = read;
                }
            }
        }
        spec
    }
}
