//! The built-in mapping never panics, whatever JST sends: arbitrary JSON orders, and orders
//! that look right but carry arbitrary strings where dates and numbers belong (a non-ASCII
//! `io_date` such as `2026-1é-25` once sliced bytes before checking).

use j2t_mapping::{Mapping, map_orders};
use proptest::prelude::*;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("io_id".to_string()),
                    Just("io_date".to_string()),
                    Just("items".to_string()),
                    Just("qty".to_string()),
                    Just("sku_id".to_string()),
                    Just("wms_co_id".to_string()),
                    "[a-z_]{0,8}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Date-like strings: digits, separators and arbitrary (often multi-byte) characters.
fn date_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9é大 :-]{0,22}",
        "2026-1.-25( 1.:00:00)?",
        ".{0,22}",
        Just("2026-1é-25".to_string()),
        Just("2026-11-25 1é:00:00".to_string()),
    ]
}

fn plausible_order() -> impl Strategy<Value = Value> {
    (
        any::<i64>(),
        date_like(),
        arb_json(),
        prop::collection::vec((".{0,6}", arb_json(), arb_json()), 0..4),
        arb_json(),
    )
        .prop_map(|(io_id, io_date, wms, items, remark)| {
            let items: Vec<Value> = items
                .into_iter()
                .map(|(sku, qty, amount)| json!({"sku_id": sku, "qty": qty, "sale_amount": amount}))
                .collect();
            json!({"io_id": io_id, "io_date": io_date, "wms_co_id": wms, "remark": remark,
                   "ts": 1, "items": items})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_orders_never_panic(orders in prop::collection::vec(arb_json(), 0..6)) {
        let _ = map_orders(&Mapping::builtin(), orders, "w");
    }

    #[test]
    fn arbitrary_dates_and_fields_never_panic(
        orders in prop::collection::vec(plausible_order(), 0..6),
    ) {
        let _ = map_orders(&Mapping::builtin(), orders, "w");
    }
}

#[test]
fn a_non_ascii_io_date_is_rejected_not_a_panic() {
    let order = json!({"io_id": 1, "io_date": "2026-1é-25", "wms_co_id": 1, "ts": 1,
                       "items": [{"sku_id": "A", "qty": 1, "sale_amount": 1.0}]});
    let out = map_orders(&Mapping::builtin(), vec![order], "w");
    assert_eq!(out.rejected.len(), 1, "{out:?}");
}
