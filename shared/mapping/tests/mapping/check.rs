use j2t_mapping::{DEFAULT_MAPPING_TOML, Mapping, MappingProblem};

use crate::support::documented_example;

#[test]
fn check_reports_all_three_mistakes_with_their_rows() {
    let broken = DEFAULT_MAPPING_TOML
        .replacen("method = \"merge\"", "method = \"mrge\"", 1)
        .replacen("value = \"{io_date_new}\"", "value = \"{io_date_nw}\"", 1)
        .replacen(
            "type = \"number\"\nvalue = \"{items.qty}\"",
            "type = \"numbr\"\nvalue = \"{items.qty}\"",
            1,
        );
    let problems: Vec<String> = Mapping::check(&broken)
        .iter()
        .map(MappingProblem::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            "merge.method: unknown operation `mrge` (expected `merge`)",
            "header[2] (VoucherDate): unknown source field `io_date_nw` (did you mean `io_date_new`?)",
            "body[1] (BaseQuantity): unknown type `numbr` (expected `string` or `number`)",
        ]
    );
    // `from_toml` refuses the same mapping with the same messages.
    let err = Mapping::from_toml(&broken)
        .expect_err("invalid")
        .to_string();
    for p in &problems {
        assert!(err.contains(p.as_str()), "{err}");
    }
}

#[test]
fn check_finds_problems_in_every_kind_of_section() {
    let broken = format!(
        "{}\n{}",
        DEFAULT_MAPPING_TOML
            .replacen(
                "value = \"{wms_co_id}\"",
                "value = \"{wms_co_id|warehous}\"",
                1
            )
            .replacen(
                "sum = [\"items.qty\", \"items.sale_amount\"]",
                "sum = [\"items.qty\", \"remark\"]",
                1
            )
            .replacen("value = \"{remark}\"", "value = \"{remark\"", 1),
        r#"
[value_maps.warehouse]
entries = { "1" = "WH01" }

[[conditions]]
label = "gifts"
scope = "lines"
skip_if = { field = "items.is_gift", equals = true }
"#
    );
    let rows: Vec<String> = Mapping::check(&broken).into_iter().map(|p| p.row).collect();
    assert_eq!(
        rows,
        [
            "conditions[0] (gifts)",
            "merge.sum[1]",
            "header[4] (Warehouse.Code)",
            "header[5] (Memo)",
        ]
    );
}

#[test]
fn the_shipped_mappings_have_no_problems() {
    assert_eq!(Mapping::check(DEFAULT_MAPPING_TOML), vec![]);
    assert_eq!(Mapping::check(&documented_example()), vec![]);
    let summary = Mapping::builtin().summary();
    assert!(
        summary.starts_with("6 header rows, 4 body rows"),
        "{summary}"
    );
}
