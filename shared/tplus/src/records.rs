//! The typed answers of T+'s read endpoints, and the pure decoding of every shape accepted.
//! Where the public material leaves a shape open, the choice comes from the configuration
//! (see `docs/tplus-api.md`, "Reading T+ back").

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One row of OtherDispatchOpenApi/FindVoucherList.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherRow {
    pub id: String,
    pub code: String,
    /// Empty for a voucher entered by hand in T+.
    pub external_code: String,
    pub ts: Option<String>,
}

/// A voucher read back with OtherDispatchOpenApi/GetVoucherDTO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoucherDto {
    pub id: Option<String>,
    pub code: Option<String>,
    pub external_code: String,
    /// yyyy-MM-dd
    pub voucher_date: String,
    /// Warehouse.Code
    pub warehouse: String,
    pub lines: Vec<VoucherLine>,
    /// The DTO as T+ sent it.
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoucherLine {
    /// Inventory.Code
    pub inventory: String,
    /// BaseQuantity (or Quantity when BaseQuantity is absent).
    pub quantity: f64,
    pub amount: Option<f64>,
}

/// A row of inventory/Query or warehouse/Query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterRecord {
    pub code: String,
    pub name: Option<String>,
}

/// The payload of an answer already known to be a success: an `*OpenApi` envelope's `data`
/// (null when absent), or the body itself when it is not an envelope (a bare array or DTO).
pub(crate) fn payload(body: Value) -> Value {
    match body {
        Value::Object(mut map) if map.contains_key("code") || map.contains_key("status") => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// FindVoucherList's rows: `data` is the array itself, or an object holding it under
/// `rows_key`; a null `data` is an empty page.
pub(crate) fn decode_voucher_list(body: Value, rows_key: &str) -> Result<Vec<VoucherRow>, String> {
    let rows = match payload(body) {
        Value::Null => return Ok(Vec::new()),
        Value::Array(rows) => rows,
        Value::Object(mut map) => match map.remove(rows_key) {
            Some(Value::Array(rows)) => rows,
            Some(Value::Null) => return Ok(Vec::new()),
            _ => {
                let keys: Vec<&String> = map.keys().collect();
                return Err(format!(
                    "FindVoucherList data is an object without an array under `{rows_key}` \
                     (tplus.voucher_list_rows_key); its keys: {keys:?}"
                ));
            }
        },
        other => return Err(format!("FindVoucherList data is {}", kind(&other))),
    };
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let id = text(field(row, "id"))
                .ok_or_else(|| format!("FindVoucherList row {i} has no id: {}", short(row)))?;
            Ok(VoucherRow {
                id,
                code: text(field(row, "code")).unwrap_or_default(),
                external_code: text(field(row, "externalcode")).unwrap_or_default(),
                ts: text(field(row, "ts")),
            })
        })
        .collect()
}

/// GetVoucherDTO's voucher; `None` when `data` is null (one way T+ may say "not found").
pub(crate) fn decode_voucher_dto(body: Value) -> Result<Option<VoucherDto>, String> {
    let dto = match payload(body) {
        Value::Null => return Ok(None),
        dto @ Value::Object(_) => dto,
        other => return Err(format!("GetVoucherDTO data is {}", kind(&other))),
    };
    let details = match field(&dto, "RDRecordDetails") {
        Some(Value::Array(lines)) => lines.as_slice(),
        None | Some(Value::Null) => &[],
        Some(other) => {
            return Err(format!("GetVoucherDTO RDRecordDetails is {}", kind(other)));
        }
    };
    let lines = details
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let inventory = field(line, "Inventory")
                .and_then(|inv| text(field(inv, "Code")))
                .ok_or_else(|| format!("GetVoucherDTO line {i} has no Inventory.Code"))?;
            let quantity = number(field(line, "BaseQuantity"))
                .or_else(|| number(field(line, "Quantity")))
                .ok_or_else(|| format!("GetVoucherDTO line {i} ({inventory}) has no quantity"))?;
            Ok(VoucherLine {
                inventory,
                quantity,
                amount: number(field(line, "Amount")),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let voucher_date = text(field(&dto, "VoucherDate"))
        .ok_or("GetVoucherDTO has no VoucherDate")?
        .chars()
        .take(10)
        .collect();
    Ok(Some(VoucherDto {
        id: text(field(&dto, "ID")),
        code: text(field(&dto, "Code")),
        external_code: text(field(&dto, "ExternalCode")).unwrap_or_default(),
        voucher_date,
        warehouse: field(&dto, "Warehouse")
            .and_then(|w| text(field(w, "Code")))
            .unwrap_or_default(),
        lines,
        raw: dto,
    }))
}

/// inventory/Query, warehouse/Query: a bare array (an envelope's array is accepted too).
pub(crate) fn decode_master(body: Value, what: &str) -> Result<Vec<MasterRecord>, String> {
    let rows = match payload(body) {
        Value::Null => return Ok(Vec::new()),
        Value::Array(rows) => rows,
        other => return Err(format!("{what} answered {}, not an array", kind(&other))),
    };
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            Ok(MasterRecord {
                code: text(field(row, "Code"))
                    .ok_or_else(|| format!("{what} row {i} has no Code: {}", short(row)))?,
                name: text(field(row, "Name")),
            })
        })
        .collect()
}

/// A key, matched without regard to case (`externalcode`, `ExternalCode` and `ID`, `Id`
/// are all seen in T+ answers).
fn field<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Strings as they are, numbers written out (ids and timestamps come as either); null and
/// the empty string are absent.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(value: &Value) -> String {
    value.to_string().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(id: &str, code: &str, ext: &str, ts: Option<&str>) -> VoucherRow {
        VoucherRow {
            id: id.into(),
            code: code.into(),
            external_code: ext.into(),
            ts: ts.map(str::to_string),
        }
    }

    #[test]
    fn voucher_list_accepts_every_documented_shape() {
        let one = || vec![row("7", "QT-1", "J2T-1", Some("42"))];
        let cases: Vec<(Value, Result<Vec<VoucherRow>, ()>)> = vec![
            // data is the array
            (
                json!({"code":"0","message":"","data":[{"id":7,"code":"QT-1","externalcode":"J2T-1","ts":42}]}),
                Ok(one()),
            ),
            // data is an object holding it under the configured key
            (
                json!({"code":"0","data":{"rows":[{"id":"7","code":"QT-1","externalcode":"J2T-1","ts":"42"}],"total":1}}),
                Ok(one()),
            ),
            // other success codes, `status` instead of `code`, other key case
            (
                json!({"status":"openapi.e0000","data":[{"ID":"7","Code":"QT-1","ExternalCode":"J2T-1","ts":"42"}]}),
                Ok(one()),
            ),
            // a bare array
            (
                json!([{"id":"7","code":"QT-1","externalcode":"J2T-1","ts":"42"}]),
                Ok(one()),
            ),
            // empty pages
            (json!({"code":"0","data":null}), Ok(vec![])),
            (json!({"code":"0"}), Ok(vec![])),
            (json!({"code":"0","data":{"rows":null}}), Ok(vec![])),
            (json!({"code":"0","data":[]}), Ok(vec![])),
            // a voucher entered by hand: no ExternalCode, no ts
            (
                json!({"code":"0","data":[{"id":"8","code":"QT-2","externalcode":null}]}),
                Ok(vec![row("8", "QT-2", "", None)]),
            ),
            // shapes not accepted
            (json!({"code":"0","data":{"list":[]}}), Err(())),
            (json!({"code":"0","data":"x"}), Err(())),
            (json!({"code":"0","data":[{"code":"QT-1"}]}), Err(())),
        ];
        for (body, expected) in cases {
            let got = decode_voucher_list(body.clone(), "rows").map_err(|_| ());
            assert_eq!(got, expected, "{body}");
        }
    }

    #[test]
    fn voucher_dto_reads_header_and_lines() {
        let dto = json!({"ID":12,"Code":"QT-2026-0001","ExternalCode":"J2T-1",
            "VoucherDate":"2026-11-01 00:00:00","Warehouse":{"Code":"01"},
            "RDRecordDetails":[
                {"Inventory":{"Code":"SKU1"},"BaseQuantity":2,"Amount":"10.5"},
                {"Inventory":{"Code":"SKU2"},"Quantity":"3"}]});
        let expected = VoucherDto {
            id: Some("12".into()),
            code: Some("QT-2026-0001".into()),
            external_code: "J2T-1".into(),
            voucher_date: "2026-11-01".into(),
            warehouse: "01".into(),
            lines: vec![
                VoucherLine {
                    inventory: "SKU1".into(),
                    quantity: 2.0,
                    amount: Some(10.5),
                },
                VoucherLine {
                    inventory: "SKU2".into(),
                    quantity: 3.0,
                    amount: None,
                },
            ],
            raw: dto.clone(),
        };
        let cases: Vec<(Value, Result<Option<VoucherDto>, ()>)> = vec![
            (
                json!({"code":"0","data":dto.clone()}),
                Ok(Some(expected.clone())),
            ),
            (dto.clone(), Ok(Some(expected))),
            (json!({"code":"0","data":null}), Ok(None)),
            (Value::Null, Ok(None)),
            (json!({"code":"0","data":[]}), Err(())),
            (
                json!({"code":"0","data":{"VoucherDate":"2026-11-01","RDRecordDetails":[{"BaseQuantity":1}]}}),
                Err(()),
            ),
            (json!({"code":"0","data":{"RDRecordDetails":[]}}), Err(())),
        ];
        for (body, expected) in cases {
            let got = decode_voucher_dto(body.clone()).map_err(|_| ());
            assert_eq!(got, expected, "{body}");
        }
    }

    #[test]
    fn master_data_is_a_bare_array() {
        let rec = |c: &str, n: Option<&str>| MasterRecord {
            code: c.into(),
            name: n.map(str::to_string),
        };
        let cases: Vec<(Value, Result<Vec<MasterRecord>, ()>)> = vec![
            (
                json!([{"Code":"SKU1","Name":"杯子"},{"Code":"SKU2"}]),
                Ok(vec![rec("SKU1", Some("杯子")), rec("SKU2", None)]),
            ),
            (json!([]), Ok(vec![])),
            (
                json!({"code":"0","data":[{"Code":"01"}]}),
                Ok(vec![rec("01", None)]),
            ),
            (json!({"Code":"01"}), Err(())),
            (json!([{"Name":"x"}]), Err(())),
        ];
        for (body, expected) in cases {
            let got = decode_master(body.clone(), "inventory/Query").map_err(|_| ());
            assert_eq!(got, expected, "{body}");
        }
    }
}
