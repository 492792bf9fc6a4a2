//! Knobs that change what the simulated T+ answers (not faults: they stay until changed, and
//! setting the faults leaves them alone): the duplicate-ExternalCode reply, a closed
//! accounting period, and the shape of `FindVoucherList`'s answer. Each is a documented
//! choice where the public material is silent (`docs/tplus-api.md`).

use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::admission::Refusal;

/// An arbitrary answer: HTTP `status` with `body` as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// Rejects statuses HTTP does not have.
    pub fn validate(&self) -> Result<(), String> {
        StatusCode::from_u16(self.status)
            .map(|_| ())
            .map_err(|_| format!("status {} is not an HTTP status", self.status))
    }

    pub fn refusal(&self) -> Refusal {
        Refusal::Reply {
            status: StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            body: self.body.clone(),
        }
    }
}

/// Vouchers dated on or before `through` are refused: with `reply`, or by default HTTP 400
/// `{"code":"999","message":"单据日期[<date>]所在会计期间已结账"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedPeriod {
    pub through: NaiveDate,
    #[serde(default)]
    pub reply: Option<Reply>,
}

impl ClosedPeriod {
    pub fn validate(&self) -> Result<(), String> {
        self.reply.as_ref().map_or(Ok(()), Reply::validate)
    }

    /// The refusal for a voucher dated `date` (`yyyy-MM-dd`, already validated), if closed.
    pub fn refusal(&self, date: &str) -> Option<Refusal> {
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
        if date > self.through {
            return None;
        }
        Some(match &self.reply {
            Some(reply) => reply.refusal(),
            None => Refusal::rejected(format!("单据日期[{date}]所在会计期间已结账")),
        })
    }
}

/// How `FindVoucherList` answers (`GET/PUT /admin/tplus/voucher-list`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoucherListKnobs {
    /// `array`: `data` is the rows (the default); `object`: `data` is
    /// `{<rows_key>: rows, "total": n}`.
    pub shape: ListShape,
    pub rows_key: String,
    /// Newest voucher first instead of arrival order.
    pub newest_first: bool,
    /// The `paramDic` key filtering by ExternalCode (exact match). None (the default): the
    /// simulator, like the public material, knows no filter key and ignores `paramDic`.
    pub external_code_filter_key: Option<String>,
}

impl Default for VoucherListKnobs {
    fn default() -> Self {
        Self {
            shape: ListShape::Array,
            rows_key: "rows".into(),
            newest_first: false,
            external_code_filter_key: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListShape {
    Array,
    Object,
}

impl VoucherListKnobs {
    /// The success answer holding `rows`.
    pub fn answer(&self, rows: Vec<Value>) -> Value {
        let data = match self.shape {
            ListShape::Array => Value::Array(rows),
            ListShape::Object => {
                let total = rows.len();
                json!({ self.rows_key.as_str(): rows, "total": total })
            }
        };
        json!({"code": "0", "message": "", "data": data})
    }
}

/// Every answer knob, under the store's lock next to the faults.
#[derive(Debug, Clone, Default)]
pub struct Replies {
    /// Replaces the default duplicate-ExternalCode answer (HTTP 400, code 999, "已存在").
    pub duplicate: Option<Reply>,
    pub closed: Option<ClosedPeriod>,
    pub voucher_list: VoucherListKnobs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_period_refuses_on_or_before_its_date() {
        let closed = ClosedPeriod {
            through: NaiveDate::from_ymd_opt(2026, 11, 20).expect("date"),
            reply: None,
        };
        let cases = [
            ("2026-11-19", Some("单据日期[2026-11-19]所在会计期间已结账")),
            ("2026-11-20", Some("单据日期[2026-11-20]所在会计期间已结账")),
            ("2026-11-21", None),
        ];
        for (date, expected) in cases {
            let got = closed.refusal(date).map(|r| match r {
                Refusal::Api { message, .. } => message,
                other => panic!("{other:?}"),
            });
            assert_eq!(got.as_deref(), expected, "{date}");
        }
        let custom = ClosedPeriod {
            reply: Some(Reply {
                status: 500,
                body: json!({"code": "X"}),
            }),
            ..closed
        };
        assert!(matches!(
            custom.refusal("2026-01-01"),
            Some(Refusal::Reply { status, .. }) if status == StatusCode::INTERNAL_SERVER_ERROR
        ));
    }

    #[test]
    fn voucher_list_shapes() {
        let rows = vec![json!({"id": 1})];
        let array = VoucherListKnobs::default().answer(rows.clone());
        assert_eq!(array, json!({"code":"0","message":"","data":[{"id":1}]}));
        let object = VoucherListKnobs {
            shape: ListShape::Object,
            rows_key: "list".into(),
            ..Default::default()
        }
        .answer(rows);
        assert_eq!(object["data"], json!({"list":[{"id":1}],"total":1}));
        assert!(
            Reply {
                status: 99,
                body: Value::Null
            }
            .validate()
            .is_err()
        );
    }
}
