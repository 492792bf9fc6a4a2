//! Delivering one message to one receiver: POST JSON with a timeout, retried a couple of times
//! on failures that may pass (network, 5xx, 429). The URL may hold a robot's access token, so
//! it is exposed only to build the request and never appears in an error.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use j2t_config::{ExposeSecret, SecretString};
use serde_json::Value;

/// Per attempt; with two retries a dead receiver costs at most about 17 s.
pub const TIMEOUT: Duration = Duration::from_secs(5);
const RETRIES: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("could not build the HTTP client: {0}")]
    Client(String),
    #[error("request failed: {0}")]
    Transport(String),
    #[error("receiver answered HTTP {0}")]
    Status(u16),
    #[error("receiver refused the message (errcode {code}: {message})")]
    Refused { code: i64, message: String },
}

impl SendError {
    fn may_pass(&self) -> bool {
        match self {
            SendError::Transport(_) => true,
            SendError::Status(code) => *code == 429 || *code >= 500,
            // A robot's refusal (bad token, keyword, IP list) will not change in a second.
            SendError::Client(_) | SendError::Refused { .. } => false,
        }
    }
}

/// `reqwest::Error`'s text names the URL; this one, and its causes, do not.
fn transport(error: reqwest::Error) -> SendError {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    SendError::Transport(text)
}

#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    backoff: ExponentialBuilder,
}

impl Sender {
    pub fn new(timeout: Duration) -> Result<Self, SendError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| SendError::Client(e.without_url().to_string()))?;
        Ok(Self {
            client,
            backoff: ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(2))
                .with_max_times(RETRIES)
                .with_jitter(),
        })
    }

    /// Sends `body`; `errcode`: the receiver reports refusals as a non-zero `errcode` (or
    /// Feishu's `code`) in a 200 answer (the robots).
    pub async fn send(
        &self,
        url: &SecretString,
        body: &Value,
        errcode: bool,
    ) -> Result<(), SendError> {
        (|| self.post(url, body, errcode))
            .retry(self.backoff)
            .when(SendError::may_pass)
            .await
    }

    async fn post(&self, url: &SecretString, body: &Value, errcode: bool) -> Result<(), SendError> {
        let response = self
            .client
            .post(url.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(SendError::Status(status.as_u16()));
        }
        if !errcode {
            return Ok(());
        }
        // An answer that is not the robots' JSON still came with a 2xx: take it as accepted.
        // Robots answer a few dozen bytes; more than the cap is not read (nor their JSON).
        let answer: Value = match j2t_upstream::read_capped(response, WEBHOOK_BODY_LIMIT).await {
            Ok(body) => serde_json::from_slice(&body).unwrap_or(Value::Null),
            Err(error) => {
                tracing::warn!(%error, "webhook answer not read; taken as accepted");
                Value::Null
            }
        };
        // DingTalk and WeCom say `errcode`/`errmsg`, Feishu `code`/`msg`.
        match answer["errcode"]
            .as_i64()
            .or_else(|| answer["code"].as_i64())
        {
            Some(code) if code != 0 => Err(SendError::Refused {
                code,
                message: answer["errmsg"]
                    .as_str()
                    .or_else(|| answer["msg"].as_str())
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect(),
            }),
            _ => Ok(()),
        }
    }
}

/// Webhook answers read at most.
const WEBHOOK_BODY_LIMIT: usize = j2t_upstream::WEBHOOK_BODY_LIMIT;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::post;
    use serde_json::json;

    use super::*;

    /// A receiver that answers every POST with `status` and `body`, counting the calls.
    async fn receiver(status: StatusCode, body: Value) -> (String, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let app = Router::new().route(
            "/robot/send",
            post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move { (status, axum::Json(body)) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (
            format!("http://{addr}/robot/send?access_token=s3cret-robot-token"),
            calls,
        )
    }

    fn sender() -> Sender {
        Sender::new(TIMEOUT).expect("client")
    }

    #[tokio::test]
    async fn a_robot_refusal_is_an_error_and_not_retried() {
        let (url, calls) = receiver(
            StatusCode::OK,
            json!({"errcode": 310000, "errmsg": "keywords not in content"}),
        )
        .await;
        let error = sender()
            .send(&url.into(), &json!({}), true)
            .await
            .expect_err("refused");
        assert!(matches!(error, SendError::Refused { code: 310000, .. }));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn errcode_zero_or_a_generic_receiver_is_success() {
        let (url, _) = receiver(StatusCode::OK, json!({"errcode": 0, "errmsg": "ok"})).await;
        sender()
            .send(&url.into(), &json!({}), true)
            .await
            .expect("accepted");
        let (url, _) = receiver(StatusCode::ACCEPTED, json!({"errcode": 1})).await;
        sender()
            .send(&url.into(), &json!({}), false)
            .await
            .expect("a generic receiver's body is not read");
    }

    #[tokio::test]
    async fn a_5xx_is_retried_then_reported() {
        let (url, calls) = receiver(StatusCode::SERVICE_UNAVAILABLE, json!({})).await;
        let error = sender()
            .send(&url.into(), &json!({}), false)
            .await
            .expect_err("unavailable");
        assert!(matches!(error, SendError::Status(503)));
        assert_eq!(calls.load(Ordering::SeqCst), 1 + RETRIES);
    }

    #[tokio::test]
    async fn a_failure_never_shows_the_url() {
        // A port nobody listens on: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let url = format!("http://127.0.0.1:{port}/robot/send?access_token=s3cret-robot-token");
        let error = sender()
            .send(&url.into(), &json!({}), true)
            .await
            .expect_err("nobody listens");
        assert!(matches!(error, SendError::Transport(_)));
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("s3cret-robot-token"), "{text}");
            assert!(!text.contains("robot/send"), "{text}");
        }
    }
}
