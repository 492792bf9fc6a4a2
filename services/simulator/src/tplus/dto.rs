//! The body of `otherDispatch/Create`: `{"dto": {…}}`, checked the way T+ checks a voucher
//! before it looks at master data. Every problem is a business error (HTTP 400, code 999)
//! with T+'s style of Chinese message.

use serde_json::Value;

/// `BusiType` of a return (其他退货): counted negative in sums.
pub const RETURN_BUSI_TYPE: &str = "14";

/// The validated `dto` of a Create body, under the default convention (positive quantities,
/// returns as `BusiType` 14).
#[cfg(test)]
pub fn parse(body: &[u8]) -> Result<Value, String> {
    parse_with(body, false)
}

/// The validated `dto` of a Create body; `negative_quantities`: the red-voucher convention
/// (negative quantities accepted, `BusiType` 14 refused) instead of the return convention.
pub fn parse_with(body: &[u8], negative_quantities: bool) -> Result<Value, String> {
    let dto = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut body)) => match body.remove("dto") {
            Some(dto @ Value::Object(_)) => dto,
            _ => return Err("请求缺少 dto".into()),
        },
        _ => return Err("请求体不是 JSON 对象".into()),
    };
    validate(&dto, negative_quantities)?;
    Ok(dto)
}

/// The voucher's ExternalCode as given (uniqueness is checked on the exact value).
pub fn external_code(dto: &Value) -> &str {
    dto["ExternalCode"].as_str().unwrap_or_default()
}

/// `VoucherDate` as given (`yyyy-MM-dd` once validated).
pub fn voucher_date(dto: &Value) -> &str {
    dto["VoucherDate"]
        .as_str()
        .map(str::trim)
        .unwrap_or_default()
}

pub fn warehouse_code(dto: &Value) -> &str {
    dto["Warehouse"]["Code"].as_str().unwrap_or_default()
}

/// The inventory code of every line, in line order.
pub fn inventory_codes(dto: &Value) -> impl Iterator<Item = &str> {
    dto["RDRecordDetails"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|line| line["Inventory"]["Code"].as_str().unwrap_or_default())
}

fn validate(dto: &Value, negative_quantities: bool) -> Result<(), String> {
    let text = |v: &Value| v.as_str().map(str::trim).unwrap_or_default().to_string();
    if text(&dto["ExternalCode"]).is_empty() {
        return Err("外部单据号(ExternalCode)不能为空".into());
    }
    let date = text(&dto["VoucherDate"]);
    if chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_err() {
        return Err(format!("单据日期[{date}]格式错误"));
    }
    if text(&dto["VoucherType"]["Code"]) != "ST1024" {
        return Err("单据类型必须为 ST1024 (其他出库单)".into());
    }
    let busi_type = text(&dto["BusiType"]["Code"]);
    if negative_quantities && busi_type == RETURN_BUSI_TYPE {
        return Err(format!(
            "业务类型[{busi_type}]不可用于其他出库单，请使用红字单据"
        ));
    }
    if text(&dto["Warehouse"]["Code"]).is_empty() {
        return Err("仓库不能为空".into());
    }
    let lines = dto["RDRecordDetails"].as_array().filter(|l| !l.is_empty());
    let Some(lines) = lines else {
        return Err("单据明细(RDRecordDetails)不能为空".into());
    };
    for (i, line) in lines.iter().enumerate() {
        if text(&line["Inventory"]["Code"]).is_empty() {
            return Err(format!("第{}行存货编码不能为空", i + 1));
        }
        let qty = line["BaseQuantity"].as_f64().or(line["Quantity"].as_f64());
        let allowed = if negative_quantities {
            qty.is_some_and(|q| q != 0.0)
        } else {
            qty.is_some_and(|q| q > 0.0)
        };
        if !allowed {
            return Err(format!("第{}行数量必须大于0", i + 1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(dto: Value) -> Vec<u8> {
        json!({ "dto": dto }).to_string().into_bytes()
    }

    fn good() -> Value {
        json!({
            "ExternalCode": "E1", "VoucherType": {"Code": "ST1024"}, "VoucherDate": "2026-11-25",
            "BusiType": {"Code": "13"}, "Warehouse": {"Code": "1"},
            "RDRecordDetails": [
                {"Inventory": {"Code": "A"}, "BaseQuantity": 2},
                {"Inventory": {"Code": "B"}, "Quantity": 1.5},
            ],
        })
    }

    #[test]
    fn a_good_dto_parses_and_exposes_its_codes() {
        let dto = parse(&body(good())).expect("valid");
        assert_eq!(external_code(&dto), "E1");
        assert_eq!(warehouse_code(&dto), "1");
        assert_eq!(inventory_codes(&dto).collect::<Vec<_>>(), ["A", "B"]);
    }

    #[test]
    fn one_convention_for_taking_back_is_enabled_at_a_time() {
        let mut red = good();
        red["RDRecordDetails"][0]["BaseQuantity"] = json!(-2);
        let mut ret = good();
        ret["BusiType"]["Code"] = json!("14");
        assert!(parse_with(&body(red.clone()), false).is_err());
        assert!(parse_with(&body(ret.clone()), false).is_ok());
        assert!(parse_with(&body(red), true).is_ok());
        assert!(
            parse_with(&body(ret), true)
                .expect_err("refused")
                .contains("14")
        );
    }

    #[test]
    fn each_problem_has_its_message() {
        let with = |f: fn(&mut Value)| {
            let mut dto = good();
            f(&mut dto);
            parse(&body(dto)).expect_err("invalid")
        };
        assert_eq!(
            parse(b"[]").expect_err("not an object"),
            "请求体不是 JSON 对象"
        );
        assert_eq!(parse(b"{}").expect_err("no dto"), "请求缺少 dto");
        assert!(with(|d| d["ExternalCode"] = json!(" ")).contains("ExternalCode"));
        assert_eq!(
            with(|d| d["VoucherDate"] = json!("2026/11/25")),
            "单据日期[2026/11/25]格式错误"
        );
        assert!(with(|d| d["VoucherType"]["Code"] = json!("ST1021")).contains("ST1024"));
        assert_eq!(with(|d| d["Warehouse"] = json!({})), "仓库不能为空");
        assert!(with(|d| d["RDRecordDetails"] = json!([])).contains("RDRecordDetails"));
        assert_eq!(
            with(|d| d["RDRecordDetails"][1]["Quantity"] = json!(0)),
            "第2行数量必须大于0"
        );
        assert_eq!(
            with(|d| d["RDRecordDetails"][0]["Inventory"] = json!(null)),
            "第1行存货编码不能为空"
        );
    }
}
