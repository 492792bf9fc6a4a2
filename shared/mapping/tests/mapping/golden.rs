//! The exact output for `tests/golden/orders.json`. After an intended change of output:
//! `UPDATE_GOLDEN=1 cargo test -p j2t-mapping --test mapping golden`, then review the diff.

use std::path::PathBuf;

use j2t_mapping::{MapOutput, Mapping, map_orders};
use serde_json::{Value, json};

use crate::support::{builtin_with, documented_example};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn orders() -> Vec<Value> {
    let text = std::fs::read_to_string(golden_dir().join("orders.json")).expect("orders.json");
    serde_json::from_str(&text).expect("orders.json is a JSON array")
}

/// Everything the mapping decided, as reviewable JSON.
fn report(out: &MapOutput) -> Value {
    json!({
        "vouchers": out.vouchers,
        "rejected": out.rejected.iter()
            .map(|r| json!({"io_id": r.io_id, "reason": r.reason}))
            .collect::<Vec<_>>(),
        "skipped_orders": out.skipped_orders.iter()
            .map(|s| json!({"io_id": s.io_id, "reason": s.reason}))
            .collect::<Vec<_>>(),
        "skipped_lines": out.skipped_lines.iter()
            .map(|s| json!({"io_id": s.io_id, "line": s.line, "reason": s.reason}))
            .collect::<Vec<_>>(),
    })
}

fn assert_golden(name: &str, mapping: &Mapping) {
    let out = map_orders(mapping, orders(), "golden");
    let actual = serde_json::to_string_pretty(&report(&out)).expect("serialises") + "\n";
    let path = golden_dir().join(format!("{name}.expected.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        actual == expected,
        "{name}: output differs from {}; if intended, regenerate with UPDATE_GOLDEN=1 and \
         review the diff\n--- actual ---\n{actual}",
        path.display()
    );
}

#[test]
fn golden_default_mapping() {
    assert_golden("default", &Mapping::builtin());
}

#[test]
fn golden_default_mapping_split_at_two_lines() {
    let text = builtin_with("body_max_line = 200", "body_max_line = 2");
    assert_golden("default_split", &Mapping::from_toml(&text).expect("valid"));
}

#[test]
fn golden_documented_example() {
    let text = documented_example();
    assert_eq!(
        Mapping::check(&text),
        vec![],
        "MAPPING.md's example must be valid"
    );
    assert_golden("example", &Mapping::from_toml(&text).expect("valid"));
}
