//! The source fields a mapping may read, so that `check` can name a misspelt one. The lists
//! are JST's documented outbound order fields (`docs/jushuitan-api.md`, "Response"); a
//! mapping adds its own with `[source]`, `[[format_response]]` adds the fields it creates, and
//! the merge adds `merge_*` to each voucher's header.

use std::collections::BTreeMap;

use crate::template::Path;

/// What a field holds, as far as the docs say; `check` uses it to refuse sums of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    /// A unit price: a number, but summing it means nothing.
    Price,
    Bool,
    List,
    /// Declared in `[source]` or created by `format_response`: not known.
    Any,
}

use Kind::{Any, Bool, List, Number, Price, Text};

const ORDER: &[(&str, Kind)] = &[
    ("co_id", Number),
    ("shop_id", Number),
    ("shop_name", Text),
    ("io_id", Number),
    ("o_id", Number),
    ("so_id", Text),
    ("created", Text),
    ("modified", Text),
    ("io_date", Text),
    ("status", Text),
    ("order_type", Text),
    ("remark", Text),
    ("wms_co_id", Number),
    ("pay_amount", Number),
    ("freight", Number),
    ("l_id", Text),
    ("lc_id", Text),
    ("logistics_company", Text),
    ("ts", Number),
    ("items", List),
    ("batchs", List),
    ("sns", List),
    ("ClusterInfos", List),
];

/// Fields of one `items[]` line.
const LINE: &[(&str, Kind)] = &[
    ("ioi_id", Number),
    ("sku_id", Text),
    ("i_id", Text),
    ("name", Text),
    ("properties_value", Text),
    ("qty", Number),
    ("sale_price", Price),
    ("sale_amount", Number),
    ("sale_base_price", Price),
    ("is_gift", Bool),
    ("combine_sku_id", Text),
    ("unit", Text),
    ("outer_oi_id", Text),
    ("raw_so_id", Text),
];

/// Added by the merge to the header of every voucher (see `merge.rs`).
pub const MERGE: &[(&str, Kind)] = &[
    ("merge_code", Text),
    ("merge_count", Number),
    ("merge_io_ids", Text),
];

/// The only line array with documented fields.
pub const LINE_ARRAY: &str = "items";

/// The fields known to one mapping.
#[derive(Debug, Clone)]
pub struct Catalog {
    order: BTreeMap<String, Kind>,
    line: BTreeMap<String, Kind>,
}

impl Catalog {
    /// The documented fields plus a mapping's own (`[source] order_fields / line_fields`).
    pub fn new(extra_order: &[String], extra_line: &[String]) -> Self {
        let known = |docs: &[(&str, Kind)], extra: &[String]| {
            docs.iter()
                .map(|(n, k)| (n.to_string(), *k))
                .chain(extra.iter().map(|n| (n.clone(), Any)))
                .collect()
        };
        Self {
            order: known(ORDER, extra_order),
            line: known(LINE, extra_line),
        }
    }

    /// A field `format_response` creates on the order.
    pub fn create(&mut self, name: &str) {
        self.order.insert(name.to_string(), Any);
    }

    /// The kind of `path`, or why it does not exist there. `merged`: the path is read from a
    /// merged voucher (header and body rows), where the `merge_*` fields exist too.
    pub fn kind(&self, path: &Path, merged: bool) -> Result<Kind, String> {
        let name = path.name();
        let merge = MERGE.iter().find(|(n, _)| *n == name);
        let found = if path.is_line() {
            self.line.get(name).copied()
        } else if let Some((_, kind)) = merge {
            if !merged {
                return Err(format!(
                    "`{name}` is made by the merge; only header and body rows can read it"
                ));
            }
            Some(*kind)
        } else {
            self.order.get(name).copied()
        };
        found.ok_or_else(|| self.unknown(path))
    }

    fn unknown(&self, path: &Path) -> String {
        let (what, names, section): (_, Vec<&str>, _) = if path.is_line() {
            (
                "line field",
                self.line.keys().map(String::as_str).collect(),
                "line_fields",
            )
        } else {
            (
                "source field",
                self.order
                    .keys()
                    .map(String::as_str)
                    .chain(MERGE.iter().map(|(n, _)| *n))
                    .collect(),
                "order_fields",
            )
        };
        let prefix = if path.is_line() {
            format!("{LINE_ARRAY}.")
        } else {
            String::new()
        };
        match closest(path.name(), &names) {
            Some(near) => format!("unknown {what} `{path}` (did you mean `{prefix}{near}`?)"),
            None => format!(
                "unknown {what} `{path}`: not a documented JST outbound field; if your JST \
                 account returns it, list it in `[source] {section}`"
            ),
        }
    }
}

/// The known name nearest to a misspelt one, if it is near enough to be a typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance, case-insensitive (`Io_Date` is a typo of `io_date` too).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> Path {
        Path::parse(text, LINE_ARRAY).expect("valid")
    }

    #[test]
    fn documented_declared_and_created_fields_are_known() {
        let mut c = Catalog::new(&["is_offline_shop".into()], &[]);
        assert_eq!(c.kind(&path("items.qty"), false), Ok(Number));
        assert_eq!(c.kind(&path("is_offline_shop"), false), Ok(Any));
        assert!(c.kind(&path("io_date_new"), false).is_err());
        c.create("io_date_new");
        assert_eq!(c.kind(&path("io_date_new"), false), Ok(Any));
        assert_eq!(c.kind(&path("merge_code"), true), Ok(Text));
        let err = c
            .kind(&path("merge_code"), false)
            .expect_err("not yet merged");
        assert!(err.contains("made by the merge"), "{err}");
    }

    #[test]
    fn typos_get_a_suggestion() {
        let c = Catalog::new(&[], &[]);
        assert_eq!(
            c.kind(&path("items.skuid"), false),
            Err("unknown line field `items.skuid` (did you mean `items.sku_id`?)".into())
        );
        let err = c.kind(&path("warehouse_name"), false).expect_err("unknown");
        assert!(err.contains("[source] order_fields"), "{err}");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
