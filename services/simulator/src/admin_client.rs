//! Client of the admin API, for the demo and the tests.

use serde_json::Value;

use crate::{DemoSpec, EXPIRE_TOKEN_PATH, FAULTS_PATH, JstFaults, Stats};

#[derive(Clone)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// `base`: either simulator port, e.g. `http://127.0.0.1:8081`.
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> reqwest::Result<T> {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }

    async fn post(&self, path: &str, body: &impl serde::Serialize) -> reqwest::Result<Value> {
        self.http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }

    /// Generates demo orders in the simulated JST; returns how many were stored.
    pub async fn seed(&self, spec: &DemoSpec) -> reqwest::Result<u64> {
        Ok(self.post("/admin/jst/seed", spec).await?["stored"]
            .as_u64()
            .unwrap_or(0))
    }

    pub async fn add_orders(&self, orders: &[Value]) -> reqwest::Result<Value> {
        self.post("/admin/jst/orders", &orders).await
    }

    pub async fn orders(&self) -> reqwest::Result<Vec<Value>> {
        Ok(array(self.get("/admin/jst/orders").await?))
    }

    /// The `dto` of every voucher T+ accepted, in arrival order.
    pub async fn voucher_dtos(&self) -> reqwest::Result<Vec<Value>> {
        Ok(array(self.get("/admin/tplus/vouchers").await?)
            .into_iter()
            .map(|mut v| v["dto"].take())
            .collect())
    }

    pub async fn stats(&self) -> reqwest::Result<Stats> {
        self.get("/admin/stats").await
    }

    /// Replaces all JST fault knobs (and reseeds the fault RNG).
    pub async fn set_jst_faults(&self, faults: &JstFaults) -> reqwest::Result<()> {
        self.http
            .put(format!("{}{FAULTS_PATH}", self.base))
            .json(faults)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    pub async fn jst_faults(&self) -> reqwest::Result<JstFaults> {
        self.get(FAULTS_PATH).await
    }

    /// The current JST access token is refused (code 100) until a client refreshes it.
    pub async fn expire_jst_token(&self) -> reqwest::Result<()> {
        self.http
            .post(format!("{}{EXPIRE_TOKEN_PATH}", self.base))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

fn array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}
