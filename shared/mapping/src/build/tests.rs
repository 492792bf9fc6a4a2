use crate::spec::Mapping;

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

#[test]
fn a_broken_value_map_is_reported_once() {
    let text = format!(
        "{}\n[value_maps.warehouse]\nentries = {{ \"1\" = true }}\n",
        crate::DEFAULT_MAPPING_TOML.replace("{wms_co_id}", "{wms_co_id|warehouse}")
    );
    assert_eq!(
        problems(&text),
        ["value_maps.warehouse: entry \"1\": the T+ value must be text"]
    );
}

#[test]
fn corrections_section_sets_the_convention_and_names_its_mistakes() {
    let builtin = crate::DEFAULT_MAPPING_TOML;
    let base = &builtin[..builtin
        .find("[corrections]")
        .expect("builtin has [corrections]")];
    let red = format!(
        "{base}\n[corrections]\ncode_prefix = \"RC\"\n[corrections.decrease]\nvoucher_type = \"ST1024\"\nbusi_type = \"13\"\nnegative_quantities = true\n"
    );
    let m = crate::Mapping::from_toml(&red).expect("valid");
    assert_eq!(m.corrections.code_prefix, "RC");
    assert!(m.corrections.decrease.negative_quantities);
    assert_eq!(m.corrections.increase.busi_type, "13");
    let bad = format!(
        "{base}\n[corrections]\ncode_prefix = \"TOOLONG\"\n[corrections.decrease]\nbusi_type = \"14\"\n"
    );
    let problems: Vec<String> = crate::Mapping::check(&bad)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("corrections.code_prefix")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("corrections.decrease")),
        "{problems:?}"
    );
}
