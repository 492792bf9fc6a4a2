//! Reading T+ back: voucher list, one voucher, master data, and audit. Every call goes
//! through the same transport as Create (auth headers, refresh once, rate limiter, timeouts,
//! body cap, logging, redaction); [`read_answer`] turns an answer into a body or a
//! [`ReadError`].

use serde_json::{Value, json};

use crate::classify::{SUCCESS_CODES, code_of, message_of};
use crate::client::{
    AUDIT_PATH, FIND_VOUCHER_LIST_PATH, GET_VOUCHER_DTO_PATH, INVENTORY_QUERY_PATH,
    WAREHOUSE_QUERY_PATH,
};
use crate::records::{self, MasterRecord, VoucherDto, VoucherRow};
use crate::{Answer, TplusClient, is_auth_failure};

/// T+ caps `PageSize` of the `Query` services at 1000.
pub const MAX_MASTER_PAGE_SIZE: u32 = 1000;

/// Stops a paged read whose server ignores the page number (it would never end).
const MAX_MASTER_PAGES: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Try again later: timeout, connection trouble, 5xx, 409 throttling.
    #[error("T+ unavailable, try again later: {0}")]
    Transient(String),
    /// Credentials refused even after one token refresh.
    #[error("T+ refused the credentials: {0}")]
    AuthRefused(String),
    /// Monthly quota used up (50112).
    #[error("T+ monthly API quota used up: {0}")]
    QuotaExhausted(String),
    /// T+ answered with a business error.
    #[error("T+ refused the request: HTTP {status}, code {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// A success answer whose shape is not the documented one.
    #[error("T+ answer not understood: {0}")]
    Unreadable(String),
}

impl ReadError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ReadError::Transient(_))
    }
}

/// A successful answer's JSON body, or what went wrong. `endpoint` names the call in errors.
pub(crate) fn read_answer(answer: Answer, endpoint: &str) -> Result<Value, ReadError> {
    let auth_failure = is_auth_failure(&answer);
    let (status, body) = match answer {
        Answer::Timeout => return Err(ReadError::Transient(format!("{endpoint}: timeout"))),
        Answer::Transport(e) => return Err(ReadError::Transient(format!("{endpoint}: {e}"))),
        Answer::Redirected(r) => {
            return Err(ReadError::Transient(format!(
                "{endpoint}: {r} (tplus.base_url)"
            )));
        }
        Answer::Http { status, body, .. } => (status, body),
    };
    let json: Option<Value> = if body.trim().is_empty() {
        Some(Value::Null)
    } else {
        serde_json::from_str(&body).ok()
    };
    let code = json.as_ref().and_then(code_of).unwrap_or_default();
    let message = json.as_ref().map(message_of).unwrap_or_default();
    let described = || {
        if code.is_empty() {
            format!("{endpoint}: HTTP {status}: {}", truncate(&body))
        } else {
            format!("{endpoint}: HTTP {status}, code {code}: {message}")
        }
    };
    match status {
        // A proxy's or maintenance page's 200 is not T+ answering.
        200..=299 if json.is_none() => Err(ReadError::Transient(described())),
        200..=299 if code.is_empty() || SUCCESS_CODES.contains(&code.as_str()) => {
            Ok(json.unwrap_or_default())
        }
        200..=299 if code.starts_with('5') => Err(ReadError::Transient(described())),
        409 | 429 | 500..=599 => Err(ReadError::Transient(described())),
        _ if code == "14002" => Err(ReadError::Transient(described())),
        401 if code == "50112" => Err(ReadError::QuotaExhausted(described())),
        _ if auth_failure => Err(ReadError::AuthRefused(described())),
        _ => Err(ReadError::Refused {
            status,
            code,
            message: if message.is_empty() {
                format!("{endpoint}: {}", truncate(&body))
            } else {
                message
            },
        }),
    }
}

fn truncate(body: &str) -> String {
    body.chars().take(200).collect()
}

/// How GetVoucherDTO says "no such voucher" (not public, so configured).
pub(crate) fn is_not_found(error: &ReadError, code: &str, message_contains: &str) -> bool {
    match error {
        ReadError::Refused {
            code: got, message, ..
        } => got == code && message.contains(message_contains),
        _ => false,
    }
}

impl TplusClient {
    /// One page of `OtherDispatchOpenApi/FindVoucherList` (`page_index` 0-based), unfiltered.
    pub async fn find_voucher_list(
        &self,
        page_index: u32,
        page_size: u32,
    ) -> Result<Vec<VoucherRow>, ReadError> {
        self.find_voucher_list_with(page_index, page_size, json!({}))
            .await
    }

    /// One page of FindVoucherList with `param_dic` as its `paramDic`.
    pub(crate) async fn find_voucher_list_with(
        &self,
        page_index: u32,
        page_size: u32,
        param_dic: Value,
    ) -> Result<Vec<VoucherRow>, ReadError> {
        let body = json!({"pageIndex": page_index, "pageSize": page_size, "paramDic": param_dic});
        let answer = self
            .call(FIND_VOUCHER_LIST_PATH, &body, &format!("page {page_index}"))
            .await;
        let json = read_answer(answer, "FindVoucherList")?;
        records::decode_voucher_list(json, &self.cfg().voucher_list_rows_key)
            .map_err(ReadError::Unreadable)
    }

    /// `OtherDispatchOpenApi/GetVoucherDTO` by T+'s voucher id; `None` when T+ has no such
    /// voucher (a null `data`, or the configured not-found error).
    pub async fn voucher_by_id(&self, id: &str) -> Result<Option<VoucherDto>, ReadError> {
        self.get_voucher(json!({"param": {"voucherID": id}}), id)
            .await
    }

    /// `OtherDispatchOpenApi/GetVoucherDTO` by T+'s voucher code (not the ExternalCode).
    pub async fn voucher_by_code(&self, code: &str) -> Result<Option<VoucherDto>, ReadError> {
        self.get_voucher(json!({"param": {"voucherCode": code}}), code)
            .await
    }

    async fn get_voucher(
        &self,
        body: Value,
        subject: &str,
    ) -> Result<Option<VoucherDto>, ReadError> {
        let answer = self.call(GET_VOUCHER_DTO_PATH, &body, subject).await;
        let cfg = self.cfg();
        match read_answer(answer, "GetVoucherDTO") {
            Ok(json) => records::decode_voucher_dto(json).map_err(ReadError::Unreadable),
            Err(e)
                if is_not_found(
                    &e,
                    &cfg.voucher_not_found_code,
                    &cfg.voucher_not_found_message_contains,
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Every inventory (`inventory/Query`), page by page.
    pub async fn inventories(&self) -> Result<Vec<MasterRecord>, ReadError> {
        self.master_query(INVENTORY_QUERY_PATH, "inventory/Query")
            .await
    }

    /// Every warehouse (`warehouse/Query`), page by page.
    pub async fn warehouses(&self) -> Result<Vec<MasterRecord>, ReadError> {
        self.master_query(WAREHOUSE_QUERY_PATH, "warehouse/Query")
            .await
    }

    /// Pages from `tplus.master_first_page` until one holds fewer rows than asked for. A page
    /// repeating the previous one means the server ignores paging: what it sent is all.
    async fn master_query(
        &self,
        endpoint: &'static str,
        what: &str,
    ) -> Result<Vec<MasterRecord>, ReadError> {
        let size = self.cfg().master_page_size.clamp(1, MAX_MASTER_PAGE_SIZE);
        let first = self.cfg().master_first_page;
        let mut all = Vec::new();
        let mut previous: Option<Vec<MasterRecord>> = None;
        for page in first..first.saturating_add(MAX_MASTER_PAGES) {
            let body = json!({"param": {"SelectFields": "Code,Name", "PageIndex": page, "PageSize": size}});
            let answer = self.call(endpoint, &body, &format!("page {page}")).await;
            let rows = records::decode_master(read_answer(answer, what)?, what)
                .map_err(ReadError::Unreadable)?;
            if rows.is_empty() || previous.as_ref() == Some(&rows) {
                break;
            }
            let last = rows.len() < size as usize;
            all.extend(rows.iter().cloned());
            if last {
                break;
            }
            previous = Some(rows);
        }
        Ok(all)
    }

    /// `OtherDispatchOpenApi/Audit` (审核) of the voucher with T+ id `id`.
    pub async fn audit_voucher(&self, id: &str) -> Result<(), ReadError> {
        let body = json!({"param": {"voucherID": id}});
        let answer = self.call(AUDIT_PATH, &body, id).await;
        read_answer(answer, "Audit").map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> Answer {
        Answer::Http {
            status,
            body: body.into(),
            retry_after: None,
        }
    }

    fn kind(result: &Result<Value, ReadError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(ReadError::Transient(_)) => "transient",
            Err(ReadError::AuthRefused(_)) => "auth",
            Err(ReadError::QuotaExhausted(_)) => "quota",
            Err(ReadError::Refused { .. }) => "refused",
            Err(ReadError::Unreadable(_)) => "unreadable",
        }
    }

    #[test]
    fn every_answer_lands_in_its_bucket() {
        let cases = [
            (http(200, "[]"), "ok"),
            (http(200, "null"), "ok"),
            (http(200, ""), "ok"),
            (http(200, r#"{"code":"0","data":[]}"#), "ok"),
            (http(200, r#"{"code":"200","data":{}}"#), "ok"),
            (http(200, r#"{"status":"openapi.e0000","data":{}}"#), "ok"),
            (http(200, r#"{"ID":1,"Code":"QT-1"}"#), "ok"),
            (http(200, "<html>维护中</html>"), "transient"),
            (
                http(200, r#"{"code":"500","message":"内部错误"}"#),
                "transient",
            ),
            (
                http(200, r#"{"code":"999","message":"单据不存在"}"#),
                "refused",
            ),
            (
                http(400, r#"{"code":"999","message":"单据不存在"}"#),
                "refused",
            ),
            (http(404, r#"{"code":"50000","message":"path"}"#), "refused"),
            (http(409, r#"{"error":"too many"}"#), "transient"),
            (http(503, ""), "transient"),
            (
                http(400, r#"{"code":"14002","message":"busy"}"#),
                "transient",
            ),
            (http(401, r#"{"code":"50000","message":"token"}"#), "auth"),
            (http(403, r#"{"code":"50000","message":"secret"}"#), "auth"),
            (http(401, r#"{"code":"50112","message":"quota"}"#), "quota"),
            (
                http(403, r#"{"code":"50112","message":"other app"}"#),
                "refused",
            ),
            (Answer::Timeout, "transient"),
            (Answer::Transport("reset".into()), "transient"),
        ];
        for (answer, expected) in cases {
            let got = read_answer(answer.clone(), "test");
            assert_eq!(kind(&got), expected, "{answer:?}: {got:?}");
        }
    }

    #[test]
    fn not_found_follows_the_configured_rule() {
        let refused = |code: &str, message: &str| ReadError::Refused {
            status: 400,
            code: code.into(),
            message: message.into(),
        };
        let cases = [
            (refused("999", "单据[QT-9]不存在"), "999", "不存在", true),
            (refused("999", "单据[QT-9]不存在"), "999", "", true),
            (refused("999", "存货编码不存在"), "999", "单据", false),
            (refused("1000", "单据不存在"), "999", "不存在", false),
            (ReadError::Transient("x".into()), "999", "", false),
        ];
        for (error, code, contains, expected) in cases {
            assert_eq!(is_not_found(&error, code, contains), expected, "{error:?}");
        }
    }
}
