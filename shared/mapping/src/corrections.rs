//! Correction vouchers (the mapping's `[corrections]`): what T+ gets when JST changes an order
//! after its voucher was written and `corrections.policy = "reverse"`. The T+ convention is
//! configuration: a decrease as a return voucher (`BusiType` 14, positive quantities) or as a
//! red other-outbound voucher (negative quantities), whichever the user's T+ books. Pure.

use std::collections::BTreeMap;

use j2t_domain::{LineDelta, VoucherEnvelope, micro_text};
use serde_json::{Map, Value, json};

use crate::code::external_code;

/// `[corrections]`, with the defaults of the built-in mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionsSpec {
    pub code_prefix: String,
    /// JST now ships less than was written (cancelled, fewer items).
    pub decrease: CorrectionForm,
    /// JST now ships more than was written.
    pub increase: CorrectionForm,
}

/// The header of one kind of correction voucher and the sign of its quantities.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionForm {
    pub voucher_type: String,
    pub busi_type: String,
    /// Quantities (and amounts) written negative: a red voucher.
    #[serde(default)]
    pub negative_quantities: bool,
    /// Header remark; `{io_id}` and `{external_code}` (the voucher corrected) are filled in.
    #[serde(default)]
    pub memo: String,
}

impl Default for CorrectionsSpec {
    fn default() -> Self {
        CorrectionsSpec {
            code_prefix: "JC".into(),
            decrease: CorrectionForm {
                voucher_type: "ST1024".into(),
                busi_type: "14".into(),
                negative_quantities: false,
                memo: "JST order {io_id} changed after {external_code}: return".into(),
            },
            increase: CorrectionForm {
                voucher_type: "ST1024".into(),
                busi_type: "13".into(),
                negative_quantities: false,
                memo: "JST order {io_id} changed after {external_code}: more shipped".into(),
            },
        }
    }
}

/// The correction vouchers for `deltas` of order `io_id` at JST version `ts`: one per (date,
/// warehouse, direction), each with an ExternalCode that is a function of the io_id, the
/// version and that group, so the same change always gives the same vouchers. Lines whose
/// quantity did not change are left out (T+ refuses a quantity of 0; an amount-only change
/// is recorded, not corrected).
pub fn correction_vouchers(
    spec: &CorrectionsSpec,
    wrapper: &str,
    body_field: &str,
    io_id: i64,
    ts: i64,
    corrected: &str,
    deltas: &[LineDelta],
) -> Vec<VoucherEnvelope> {
    let mut groups: BTreeMap<(String, String, bool), Vec<&LineDelta>> = BTreeMap::new();
    for d in deltas.iter().filter(|d| d.qty() != 0) {
        groups
            .entry((d.date.clone(), d.warehouse.clone(), d.qty() < 0))
            .or_default()
            .push(d);
    }
    groups
        .into_iter()
        .map(|((date, warehouse, decrease), lines)| {
            let form = if decrease {
                &spec.decrease
            } else {
                &spec.increase
            };
            let direction = if decrease { "decrease" } else { "increase" };
            let group = vec![
                date.clone(),
                warehouse.clone(),
                direction.to_string(),
                ts.to_string(),
            ];
            let code = external_code(&spec.code_prefix, &group, &[io_id], 1);
            // A decrease is written as its opposite (a return takes back what was shipped),
            // and negated again on a red voucher.
            let mut factor = if decrease { -1 } else { 1 };
            if form.negative_quantities {
                factor = -factor;
            }
            let body: Vec<Value> = lines
                .iter()
                .map(|d| {
                    json!({
                        "Inventory": {"Code": d.sku},
                        "BaseQuantity": number(d.qty() * factor),
                        "Amount": number(d.amount() * factor),
                    })
                })
                .collect();
            let memo = form
                .memo
                .replace("{io_id}", &io_id.to_string())
                .replace("{external_code}", corrected);
            let mut dto = Map::new();
            dto.insert("ExternalCode".into(), json!(code));
            dto.insert("VoucherType".into(), json!({"Code": form.voucher_type}));
            dto.insert("VoucherDate".into(), json!(date));
            dto.insert("BusiType".into(), json!({"Code": form.busi_type}));
            dto.insert("Warehouse".into(), json!({"Code": warehouse}));
            dto.insert("Memo".into(), json!(memo));
            dto.insert(body_field.into(), Value::Array(body));
            let payload = if wrapper.is_empty() {
                Value::Object(dto)
            } else {
                json!({ wrapper: Value::Object(dto) })
            };
            VoucherEnvelope {
                external_code: code,
                group,
                part: 1,
                parts: 1,
                io_ids: vec![io_id],
                window: format!("correction:{io_id}:{ts}"),
                payload,
            }
        })
        .collect()
}

/// Millionths as a JSON number (exact for the decimals JST uses).
fn number(micro: i64) -> Value {
    micro_text(micro)
        .parse::<f64>()
        .ok()
        .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(sku: &str, before: i64, after: i64) -> LineDelta {
        LineDelta {
            date: "2026-11-25".into(),
            warehouse: "1".into(),
            sku: sku.into(),
            qty_before: before * 1_000_000,
            qty_after: after * 1_000_000,
            amount_before: before * 10_000_000,
            amount_after: after * 10_000_000,
        }
    }

    fn lines(v: &VoucherEnvelope) -> Vec<(String, f64, f64)> {
        v.payload["dto"]["RDRecordDetails"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| {
                (
                    l["Inventory"]["Code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    l["BaseQuantity"].as_f64().unwrap_or_default(),
                    l["Amount"].as_f64().unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn return_convention_and_red_convention() {
        let deltas = [delta("A", 3, 0), delta("B", 1, 2), delta("C", 2, 2)];
        let spec = CorrectionsSpec::default();
        let out = correction_vouchers(&spec, "dto", "RDRecordDetails", 7, 42, "JT1", &deltas);
        assert_eq!(out.len(), 2, "an increase and a decrease");
        let (inc, dec) = (&out[0], &out[1]);
        assert_eq!(dec.payload["dto"]["BusiType"]["Code"], "14");
        assert_eq!(lines(dec), [("A".to_string(), 3.0, 30.0)]);
        assert_eq!(inc.payload["dto"]["BusiType"]["Code"], "13");
        assert_eq!(lines(inc), [("B".to_string(), 1.0, 10.0)]);
        assert!(dec.external_code.starts_with("JC20261125-"));
        assert_ne!(dec.external_code, inc.external_code);

        let red = CorrectionsSpec {
            decrease: CorrectionForm {
                busi_type: "13".into(),
                negative_quantities: true,
                ..spec.decrease.clone()
            },
            ..spec.clone()
        };
        let out = correction_vouchers(&red, "dto", "RDRecordDetails", 7, 42, "JT1", &deltas);
        assert_eq!(out[1].payload["dto"]["BusiType"]["Code"], "13");
        assert_eq!(lines(&out[1]), [("A".to_string(), -3.0, -30.0)]);
    }

    #[test]
    fn the_code_is_a_function_of_the_order_and_the_change() {
        let spec = CorrectionsSpec::default();
        let d = [delta("A", 3, 0)];
        let code = |io_id, ts| {
            correction_vouchers(&spec, "dto", "RDRecordDetails", io_id, ts, "JT1", &d)[0]
                .external_code
                .clone()
        };
        assert_eq!(code(7, 42), code(7, 42));
        assert_ne!(code(7, 42), code(7, 43));
        assert_ne!(code(7, 42), code(8, 42));
        assert!(code(7, 42).len() <= 30);
    }
}
