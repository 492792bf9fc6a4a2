//! Starts an in-process simulator on free ports and speaks JST's protocol to it.

use j2t_config::{Config, ExposeSecret};
use j2t_simulator::{AdminClient, INIT_TOKEN_PATH, JstFaults, REFRESH_TOKEN_PATH, Stats};
use serde_json::{Value, json};

/// One day of orders, in the past so a drift's `modified = now` leaves it.
pub const DAY_BEGIN: &str = "2020-01-10 00:00:00";
pub const DAY_END: &str = "2020-01-10 23:59:59";

pub struct Sim {
    pub cfg: Config,
    pub base: String,
    pub admin: AdminClient,
    http: reqwest::Client,
    _running: crate::common::InProcess,
}

/// `faults` with rate limits high enough that a test's own burst of requests never hits
/// them (unless the test sets limits itself).
pub fn relaxed(faults: JstFaults) -> JstFaults {
    JstFaults {
        per_second: faults.per_second.or(Some(10_000)),
        per_minute: faults.per_minute.or(Some(100_000)),
        ..faults
    }
}

impl Sim {
    /// With the real rate limits (5/s, 100/min).
    pub async fn start_strict() -> Sim {
        let running = crate::common::start().await;
        let base = format!("http://{}", running.running.jst);
        Sim {
            cfg: running.cfg.clone(),
            admin: AdminClient::new(base.clone()),
            base,
            http: reqwest::Client::new(),
            _running: running,
        }
    }

    /// With relaxed rate limits, so tests can send bursts.
    pub async fn start() -> Sim {
        let sim = Sim::start_strict().await;
        sim.set_faults(JstFaults::default()).await;
        sim
    }

    pub async fn set_faults(&self, faults: JstFaults) {
        self.admin
            .set_jst_faults(&relaxed(faults))
            .await
            .expect("faults set");
    }

    pub async fn stats(&self) -> Stats {
        self.admin.stats().await.expect("stats")
    }

    pub fn access_token(&self) -> String {
        self.cfg.jst.access_token.expose_secret().to_string()
    }

    pub fn refresh_token(&self) -> String {
        self.cfg.jst.refresh_token.expose_secret().to_string()
    }

    /// Adds app_key, timestamp (now) and charset, then signs with the configured secret
    /// (`secret` overrides it, to forge a bad signature).
    fn signed(
        &self,
        mut fields: Vec<(String, String)>,
        secret: Option<&str>,
    ) -> Vec<(String, String)> {
        let now = chrono::Utc::now().timestamp().to_string();
        for (k, v) in [
            ("app_key", self.cfg.jst.app_key.as_str()),
            ("charset", "utf-8"),
            ("timestamp", now.as_str()),
        ] {
            if !fields.iter().any(|(key, _)| key == k) {
                fields.push((k.into(), v.into()));
            }
        }
        let configured = self.cfg.jst.app_secret.expose_secret().to_string();
        let sign = j2t_jst::sign(
            secret.unwrap_or(&configured),
            fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        fields.push(("sign".into(), sign));
        fields
    }

    /// POSTs a signed form; the raw response.
    pub async fn post(
        &self,
        path: &str,
        fields: Vec<(String, String)>,
        secret: Option<&str>,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(&self.signed(fields, secret))
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs a signed form and reads the JSON answer (HTTP 200 expected).
    pub async fn call(&self, path: &str, fields: Vec<(String, String)>) -> Value {
        let response = self.post(path, fields, None).await;
        assert_eq!(response.status(), 200, "HTTP status of {path}");
        response.json().await.expect("JSON answer")
    }

    pub fn query_fields(token: &str, biz: &Value) -> Vec<(String, String)> {
        fields(&[
            ("access_token", token),
            ("version", "2"),
            ("biz", &biz.to_string()),
        ])
    }

    pub async fn query_with(&self, token: &str, biz: Value) -> Value {
        self.call(j2t_jst::OUTBOUND_QUERY_PATH, Sim::query_fields(token, &biz))
            .await
    }

    pub async fn query(&self, biz: Value) -> Value {
        self.query_with(&self.access_token(), biz).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Value {
        self.call(
            REFRESH_TOKEN_PATH,
            fields(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("scope", "all"),
            ]),
        )
        .await
    }

    pub async fn init_token(&self, code: &str) -> Value {
        self.call(
            INIT_TOKEN_PATH,
            fields(&[("grant_type", "authorization_code"), ("code", code)]),
        )
        .await
    }
}

pub fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The window of [`DAY_BEGIN`]..[`DAY_END`] on `modified`, plus `extra`.
pub fn day_biz(extra: Value) -> Value {
    let mut biz = json!({
        "modified_begin": DAY_BEGIN,
        "modified_end": DAY_END,
        "date_type": 0,
        "page_size": 50,
    });
    if let (Some(biz), Some(extra)) = (biz.as_object_mut(), extra.as_object()) {
        biz.extend(extra.clone());
    }
    biz
}

/// A minimal outbound order modified at `time` ("HH:MM:SS") on the test day.
pub fn order(io_id: i64, time: &str) -> Value {
    json!({
        "io_id": io_id,
        "o_id": io_id + 1_000,
        "so_id": format!("SO{io_id}"),
        "status": "Confirmed",
        "created": format!("2020-01-09 {time}"),
        "modified": format!("2020-01-10 {time}"),
        "io_date": format!("2020-01-10 {time}"),
        "remark": format!("order {io_id}"),
        "items": [{"ioi_id": io_id * 10, "sku_id": "SKU", "qty": 1, "raw_so_id": format!("SO{io_id}")}],
    })
}

pub fn code(answer: &Value) -> i64 {
    answer["code"].as_i64().expect("numeric code")
}

/// io_ids of a query answer's rows, in order.
pub fn io_ids(answer: &Value) -> Vec<i64> {
    answer["data"]["datas"]
        .as_array()
        .expect("datas")
        .iter()
        .map(|o| o["io_id"].as_i64().expect("io_id"))
        .collect()
}

pub fn by_code(stats: &Stats, code: &str) -> u64 {
    stats.jst_requests_by_code.get(code).copied().unwrap_or(0)
}
