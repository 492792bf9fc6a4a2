use std::time::Duration;

use j2t_config::{ExposeSecret, TplusConfig};
use serde_json::Value;

use crate::Answer;

pub const OTHER_DISPATCH_CREATE_PATH: &str = "/tplus/api/v2/otherDispatch/Create";

/// One T+ app. Cheap to clone. Returns raw [`Answer`]s; `classify` interprets them.
#[derive(Clone)]
pub struct TplusClient {
    http: reqwest::Client,
    cfg: TplusConfig,
}

impl TplusClient {
    pub fn new(cfg: &TplusConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.timeout_secs))
            .build()?;
        Ok(Self {
            http,
            cfg: cfg.clone(),
        })
    }

    /// `POST otherDispatch/Create` with a `{"dto": …}` body.
    pub async fn create_other_dispatch(&self, payload: &Value) -> Answer {
        self.post(OTHER_DISPATCH_CREATE_PATH, payload).await
    }

    async fn post(&self, endpoint: &'static str, body: &Value) -> Answer {
        let url = match self.cfg.base_url.join(endpoint) {
            Ok(url) => url,
            Err(e) => return Answer::Transport(format!("building URL: {e}")),
        };
        let started = std::time::Instant::now();
        let sent = self
            .http
            .post(url)
            .header("appKey", &self.cfg.app_key)
            .header("appSecret", self.cfg.app_secret.expose_secret())
            .header("openToken", self.cfg.open_token.expose_secret())
            .json(body)
            .send()
            .await;
        let answer = match sent {
            Err(e) if e.is_timeout() => Answer::Timeout,
            Err(e) => Answer::Transport(e.without_url().to_string()),
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok())
                    .map(Duration::from_secs);
                match response.text().await {
                    Ok(body) => Answer::Http {
                        status,
                        body,
                        retry_after,
                    },
                    Err(e) if e.is_timeout() => Answer::Timeout,
                    Err(e) => Answer::Transport(e.without_url().to_string()),
                }
            }
        };
        let status = match &answer {
            Answer::Http { status, .. } => *status,
            _ => 0,
        };
        tracing::info!(
            endpoint,
            status,
            latency_ms = started.elapsed().as_millis() as u64,
            "T+ call"
        );
        answer
    }
}
