use std::time::{Duration, SystemTime, UNIX_EPOCH};

use j2t_config::{ExposeSecret, JstConfig};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{JstError, OutboundPage, OutboundQuery, sign};

pub const OUTBOUND_QUERY_PATH: &str = "/open/orders/out/simple/query";

/// One JST app. Cheap to clone.
#[derive(Clone)]
pub struct JstClient {
    http: reqwest::Client,
    cfg: JstConfig,
}

#[derive(Deserialize)]
struct Envelope<T> {
    code: i64,
    #[serde(default)]
    msg: String,
    // Errors may come with `data` null or absent.
    data: Option<T>,
}

impl JstClient {
    pub fn new(cfg: &JstConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_secs))
            .build()?;
        Ok(Self {
            http,
            cfg: cfg.clone(),
        })
    }

    /// One page of `/open/orders/out/simple/query`.
    pub async fn query_outbound(&self, query: &OutboundQuery) -> Result<OutboundPage, JstError> {
        let biz = serde_json::to_string(query).map_err(|e| JstError::Decode {
            endpoint: OUTBOUND_QUERY_PATH,
            reason: format!("encoding biz: {e}"),
        })?;
        self.call(OUTBOUND_QUERY_PATH, &biz).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        biz: &str,
    ) -> Result<T, JstError> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            .to_string();
        let mut form = vec![
            ("app_key", self.cfg.app_key.as_str()),
            ("access_token", self.cfg.access_token.expose_secret()),
            ("timestamp", timestamp.as_str()),
            ("charset", "utf-8"),
            ("version", "2"),
            ("biz", biz),
        ];
        let signature = sign(self.cfg.app_secret.expose_secret(), form.iter().copied());
        form.push(("sign", signature.as_str()));

        let url = self
            .cfg
            .base_url
            .join(endpoint)
            .map_err(|e| JstError::Decode {
                endpoint,
                reason: format!("building URL: {e}"),
            })?;
        let started = std::time::Instant::now();
        let response = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|source| JstError::Transport {
                endpoint,
                source: source.without_url(),
            })?;
        let status = response.status();
        if !status.is_success() {
            tracing::info!(
                endpoint,
                status = status.as_u16(),
                latency_ms = started.elapsed().as_millis() as u64,
                "JST call"
            );
            return Err(JstError::HttpStatus {
                endpoint,
                status: status.as_u16(),
            });
        }
        let body = response
            .bytes()
            .await
            .map_err(|source| JstError::Transport { endpoint, source })?;
        let envelope: Envelope<T> =
            serde_json::from_slice(&body).map_err(|e| JstError::Decode {
                endpoint,
                reason: e.to_string(),
            })?;
        tracing::info!(
            endpoint,
            status = status.as_u16(),
            code = envelope.code,
            latency_ms = started.elapsed().as_millis() as u64,
            "JST call"
        );
        if envelope.code != 0 {
            return Err(JstError::Api {
                endpoint,
                code: envelope.code,
                msg: envelope.msg,
            });
        }
        envelope.data.ok_or(JstError::Decode {
            endpoint,
            reason: "code 0 without data".to_string(),
        })
    }
}
