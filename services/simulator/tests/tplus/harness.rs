//! Starts an in-process simulator on free ports and speaks T+'s protocol to it.

use std::time::Duration;

use j2t_config::{Config, ExposeSecret};
use j2t_simulator::{AdminClient, Stats, TPLUS_REFRESH_TOKEN_PATH, TplusFaults};
use serde_json::{Value, json};

pub struct Sim {
    pub cfg: Config,
    /// The T+ port.
    pub base: String,
    pub admin: AdminClient,
    http: reqwest::Client,
    _running: crate::common::InProcess,
}

/// An answer's HTTP status and body (JSON, or the raw text as a JSON string when it is not).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, body }
    }

    /// T+'s string `code`, `""` when there is none.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }

    /// HTTP 200 with body `null`: a stored voucher.
    pub fn is_success(&self) -> bool {
        self.status == 200 && self.body.is_null()
    }
}

impl Sim {
    pub async fn start() -> Sim {
        let running = crate::common::start().await;
        let base = format!("http://{}", running.running.tplus);
        Sim {
            cfg: running.cfg.clone(),
            admin: AdminClient::new(base.clone()),
            base,
            http: reqwest::Client::new(),
            _running: running,
        }
    }

    pub async fn set_faults(&self, faults: TplusFaults) {
        self.admin
            .set_tplus_faults(&faults)
            .await
            .expect("faults set");
    }

    pub async fn stats(&self) -> Stats {
        self.admin.stats().await.expect("stats")
    }

    pub fn open_token(&self) -> String {
        self.cfg.tplus.open_token.expose_secret().to_string()
    }

    pub fn refresh_token(&self) -> String {
        self.cfg.tplus.refresh_token.expose_secret().to_string()
    }

    pub fn app_secret(&self) -> String {
        self.cfg.tplus.app_secret.expose_secret().to_string()
    }

    /// The Create request with the configured appKey/appSecret and `token`, not yet sent.
    pub fn create_request(
        &self,
        http: &reqwest::Client,
        token: &str,
        body: &Value,
    ) -> reqwest::RequestBuilder {
        http.post(format!(
            "{}{}",
            self.base,
            j2t_tplus::OTHER_DISPATCH_CREATE_PATH
        ))
        .header("appKey", &self.cfg.tplus.app_key)
        .header("appSecret", self.app_secret())
        .header("openToken", token)
        .json(body)
    }

    /// Create with `{"dto": dto}` and `token`.
    pub async fn create_with(&self, token: &str, dto: &Value) -> Answer {
        let request = self.create_request(&self.http, token, &json!({ "dto": dto }));
        Answer::read(request.send().await.expect("sent")).await
    }

    /// Create with the configured openToken.
    pub async fn create(&self, dto: &Value) -> Answer {
        self.create_with(&self.open_token(), dto).await
    }

    /// POST `path` (a read endpoint) with the configured credentials and `body`.
    pub async fn read(&self, path: &str, body: &Value) -> Answer {
        self.read_with(&self.open_token(), path, body).await
    }

    pub async fn read_with(&self, token: &str, path: &str, body: &Value) -> Answer {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("appKey", &self.cfg.tplus.app_key)
            .header("appSecret", self.app_secret())
            .header("openToken", token)
            .json(body)
            .send()
            .await
            .expect("sent");
        Answer::read(response).await
    }

    /// One FindVoucherList page.
    pub async fn list(&self, page_index: u64, page_size: u64) -> Answer {
        self.read(
            j2t_tplus::FIND_VOUCHER_LIST_PATH,
            &json!({"pageIndex": page_index, "pageSize": page_size, "paramDic": {}}),
        )
        .await
    }

    /// GET refreshToken with the configured appKey, `app_secret` and the given parameters.
    pub async fn refresh_raw(&self, app_secret: &str, grant_type: &str, token: &str) -> Answer {
        let response = self
            .http
            .get(format!("{}{TPLUS_REFRESH_TOKEN_PATH}", self.base))
            .query(&[("grantType", grant_type), ("refreshToken", token)])
            .header("appKey", &self.cfg.tplus.app_key)
            .header("appSecret", app_secret)
            .send()
            .await
            .expect("sent");
        Answer::read(response).await
    }

    pub async fn refresh(&self, token: &str) -> Answer {
        self.refresh_raw(&self.app_secret(), "refresh_token", token)
            .await
    }

    /// The ExternalCodes of the stored vouchers, in arrival order.
    pub async fn external_codes(&self) -> Vec<String> {
        self.admin
            .voucher_dtos()
            .await
            .expect("vouchers")
            .iter()
            .map(|dto| dto["ExternalCode"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// A valid other-dispatch dto with one line of quantity 1 per SKU.
pub fn dto(external_code: &str, warehouse: &str, skus: &[&str]) -> Value {
    let lines: Vec<Value> = skus
        .iter()
        .map(|sku| json!({"Inventory": {"Code": sku}, "BaseQuantity": 1}))
        .collect();
    json!({
        "ExternalCode": external_code,
        "VoucherType": {"Code": "ST1024"},
        "VoucherDate": "2026-11-25",
        "BusiType": {"Code": "13"},
        "Warehouse": {"Code": warehouse},
        "Memo": "test",
        "RDRecordDetails": lines,
    })
}

/// A dto the demo master data accepts.
pub fn demo_dto(external_code: &str) -> Value {
    dto(external_code, "1", &["SKU-TEA-001", "SKU-CUP-002"])
}

pub fn by_code(stats: &Stats, key: &str) -> u64 {
    stats.tplus_requests_by_code.get(key).copied().unwrap_or(0)
}

/// Polls `check` until it holds (a generous bound, not a timing assertion).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}
