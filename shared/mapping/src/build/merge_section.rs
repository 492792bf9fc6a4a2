//! `[merge]` and `[merge.derive_price]`: the article's `operation: merge` / groupCalculate.

use toml::Value as Toml;

use super::Builder;
use crate::fields::{Kind, LINE_ARRAY};
use crate::file::{DeriveFile, MergeFile};
use crate::spec::{DerivePrice, MergeSpec};
use crate::template::Path;

impl Builder {
    pub(super) fn merge(&mut self, value: Option<Toml>) -> Option<MergeSpec> {
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
        self.paths(key, texts, |path, kind| {
            if path.is_line() != line {
                Some(if line {
                    format!("`{path}` is not a line field (write `{LINE_ARRAY}.…`)")
                } else {
                    format!("header keys cannot address the line field `{path}`")
                })
            } else if kind == Kind::List {
                Some(format!("`{path}` is a list, not a value"))
            } else {
                None
            }
        })
    }

    /// `$sum` fields: numeric line fields that are not line keys.
    fn sums(&mut self, texts: &[String], line_group: &[Path]) -> Option<Vec<Path>> {
        self.paths("merge.sum", texts, |path, kind| {
            if !path.is_line() {
                Some(format!(
                    "`{path}` is not a line field: sums add up lines (`{LINE_ARRAY}.…`)"
                ))
            } else if matches!(kind, Kind::Text | Kind::Bool | Kind::List) {
                Some(format!("`{path}` is not a number"))
            } else if kind == Kind::Price {
                Some(format!(
                    "`{path}` is a unit price: a sum of prices means nothing (use [merge.derive_price])"
                ))
            } else if line_group.contains(path) {
                Some(format!("`{path}` is a line key; it cannot be summed too"))
            } else {
                None
            }
        })
    }

    /// Reads the field list `key[i]`, reporting each row `problem` finds and each repeat.
    /// `None` if any row was wrong.
    fn paths(
        &mut self,
        key: &str,
        texts: &[String],
        problem: impl Fn(&Path, Kind) -> Option<String>,
    ) -> Option<Vec<Path>> {
        let mut paths = Vec::new();
        let mut ok = true;
        for (i, text) in texts.iter().enumerate() {
            let row = format!("{key}[{i}]");
            let Some((path, kind)) = self.path(&row, text, false) else {
                ok = false;
                continue;
            };
            let found = problem(&path, kind).or_else(|| {
                paths
                    .contains(&path)
                    .then(|| format!("`{path}` is listed twice"))
            });
            match found {
                Some(found) => {
                    self.add(row, found);
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
}
