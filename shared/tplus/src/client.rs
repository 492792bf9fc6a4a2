use std::sync::Arc;
use std::time::{Duration, Instant};

use j2t_config::{ExposeSecret, TplusConfig};
use j2t_upstream::{AppAccess, Loaded, RateLimiter, RenewError, TokenStore, Tokens};
use serde::Deserialize;
use serde_json::Value;

use crate::{Answer, is_auth_failure};

pub const OTHER_DISPATCH_CREATE_PATH: &str = "/tplus/api/v2/otherDispatch/Create";
pub const REFRESH_TOKEN_PATH: &str = "/auth/v2/refreshToken";
pub const FIND_VOUCHER_LIST_PATH: &str = "/tplus/api/v2/OtherDispatchOpenApi/FindVoucherList";
pub const GET_VOUCHER_DTO_PATH: &str = "/tplus/api/v2/OtherDispatchOpenApi/GetVoucherDTO";
pub const AUDIT_PATH: &str = "/tplus/api/v2/OtherDispatchOpenApi/Audit";
pub const INVENTORY_QUERY_PATH: &str = "/tplus/api/v2/inventory/Query";
pub const WAREHOUSE_QUERY_PATH: &str = "/tplus/api/v2/warehouse/Query";

/// One T+ app. Cheap to clone; clones share tokens, token store and rate limiter. Returns
/// raw [`Answer`]s; `classify` interprets them.
#[derive(Clone)]
pub struct TplusClient {
    inner: Arc<Inner>,
}

struct Inner {
    access: AppAccess,
    cfg: TplusConfig,
    /// Why T+ last refused to refresh the token, until a call is accepted again.
    refresh_refused: std::sync::Mutex<Option<String>>,
}

/// `GET /auth/v2/refreshToken`: `code` "200" is success.
#[derive(Deserialize)]
struct RefreshEnvelope {
    code: Value,
    #[serde(default)]
    message: String,
    result: Option<RefreshedTokens>,
}

#[derive(Deserialize)]
struct RefreshedTokens {
    access_token: String,
    refresh_token: Option<String>,
    /// Seconds the refresh token lives (kept, for the monitor's warning before it ends).
    #[serde(default)]
    refresh_expires_in: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
enum RefreshError {
    /// No answer, or one that is no refresh answer: worth trying again later.
    #[error("T+ token refresh: {0}")]
    Failed(String),
    /// T+ answered the refresh with a refusal: the refresh token is expired or revoked.
    #[error(
        "T+ refused the token refresh ({0}): configure a new token pair (tplus.open_token, \
         tplus.refresh_token) and restart"
    )]
    Refused(String),
    #[error("T+ token store: {0}")]
    Store(j2t_upstream::BoxError),
}

impl TplusClient {
    /// A client with the configured tokens, no shared token store and no rate limit.
    pub fn new(cfg: &TplusConfig) -> Result<Self, reqwest::Error> {
        Self::with_parts(cfg, None, None)
    }

    /// `store` keeps refreshed tokens for other replicas and restarts; every request waits
    /// for `limiter` first.
    pub fn with_parts(
        cfg: &TplusConfig,
        store: Option<Arc<dyn TokenStore>>,
        limiter: Option<Arc<dyn RateLimiter>>,
    ) -> Result<Self, reqwest::Error> {
        let tokens = Tokens::new(
            cfg.open_token.expose_secret(),
            cfg.refresh_token.expose_secret(),
        );
        let timeout = Duration::from_secs(cfg.timeout_secs);
        let access = AppAccess::new(timeout, tokens, store, limiter)?;
        let cfg = cfg.clone();
        Ok(Self {
            inner: Arc::new(Inner {
                access,
                cfg,
                refresh_refused: Default::default(),
            }),
        })
    }

    fn tokens(&self) -> Tokens {
        self.inner.access.tokens.current()
    }

    /// Adopts the stored tokens, if any, unless the configured pair changed since (see
    /// [`j2t_upstream::TokenKeeper::load_stored`]).
    pub async fn load_stored_tokens(&self) -> Result<Loaded, j2t_upstream::BoxError> {
        let loaded = self.inner.access.tokens.load_stored().await?;
        if loaded == Loaded::Replaced {
            tracing::info!("T+: the configured token pair is new; it replaces the stored pair");
        }
        Ok(loaded)
    }

    /// Why T+ refused the last token refresh (the refresh token is dead: an operator must
    /// configure a new pair); `None` once a call is accepted again.
    pub fn refresh_refused(&self) -> Option<String> {
        self.inner
            .refresh_refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_refresh_refused(&self, reason: Option<String>) {
        *self
            .inner
            .refresh_refused
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = reason;
    }

    /// `POST otherDispatch/Create` with a `{"dto": …}` body. When the token is refused, it
    /// is refreshed once and the call repeated; if that fails the refusal is returned.
    pub async fn create_other_dispatch(&self, payload: &Value) -> Answer {
        let external_code = payload["dto"]["ExternalCode"].as_str().unwrap_or_default();
        self.call(OTHER_DISPATCH_CREATE_PATH, payload, external_code)
            .await
    }

    /// `POST endpoint` with `body`, through the rate limiter. When the token is refused, it
    /// is refreshed once and the call repeated; if that fails the refusal is returned.
    /// `subject` (an ExternalCode, a voucher id; never a credential) goes into the log line.
    pub(crate) async fn call(&self, endpoint: &'static str, body: &Value, subject: &str) -> Answer {
        let used = self.tokens();
        let answer = self.post(endpoint, body, &used, subject).await;
        if !is_auth_failure(&answer) {
            if matches!(answer, Answer::Http { .. }) {
                self.set_refresh_refused(None);
            }
            return answer;
        }
        match self.refresh_after(&used).await {
            Ok(()) => self.post(endpoint, body, &self.tokens(), subject).await,
            Err(error) => {
                if let RefreshError::Refused(reason) = &error {
                    tracing::error!(%error, "T+ token refresh refused");
                    self.set_refresh_refused(Some(reason.clone()));
                } else {
                    tracing::warn!(%error, "T+ token refresh failed");
                }
                answer
            }
        }
    }

    /// The configuration the client was built with.
    pub(crate) fn cfg(&self) -> &TplusConfig {
        &self.inner.cfg
    }

    /// Replaces `stale` with newer tokens (see [`TokenKeeper::renew`]), refreshing through
    /// the refresh endpoint when nobody has yet.
    async fn refresh_after(&self, stale: &Tokens) -> Result<(), RefreshError> {
        let refreshed = self
            .inner
            .access
            .tokens
            .renew(stale, |refresh_token| async move {
                self.call_refresh(refresh_token.expose_secret()).await
            })
            .await
            .map_err(|e| match e {
                RenewError::Store(e) => RefreshError::Store(e),
                RenewError::Refresh(e) => e,
            })?;
        if refreshed {
            metrics::counter!("j2t_tplus_token_refreshes_total").increment(1);
            tracing::info!("T+ open token refreshed");
        }
        Ok(())
    }

    async fn call_refresh(&self, refresh_token: &str) -> Result<Tokens, RefreshError> {
        let failed = |reason: String| RefreshError::Failed(reason);
        let mut url = self
            .inner
            .cfg
            .base_url
            .join(REFRESH_TOKEN_PATH)
            .map_err(|e| failed(format!("building URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("grantType", "refresh_token")
            .append_pair("refreshToken", refresh_token);
        self.inner
            .access
            .admit()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let started = Instant::now();
        let response = self
            .inner
            .access
            .http
            .get(url)
            .header("appKey", &self.inner.cfg.app_key)
            .header("appSecret", self.inner.cfg.app_secret.expose_secret())
            .send()
            .await
            .map_err(|e| failed(e.without_url().to_string()))?;
        if let Some(redirect) = j2t_upstream::redirect_of(&response) {
            return Err(failed(format!("{redirect} (tplus.base_url)")));
        }
        let status = response.status().as_u16();
        record(
            REFRESH_TOKEN_PATH,
            &status.to_string(),
            started.elapsed(),
            "",
        );
        let body = j2t_upstream::read_capped(response, j2t_upstream::TPLUS_BODY_LIMIT)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| failed(format!("HTTP {status}: {e}")))?;
        tracing::debug!(response = %j2t_upstream::redact::redacted_json(&body), "T+ token refresh");
        let envelope: RefreshEnvelope = serde_json::from_str(&body)
            .map_err(|e| failed(format!("HTTP {status}: unreadable answer: {e}")))?;
        let code = match &envelope.code {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match envelope.result {
            Some(tokens) if code == "200" => Ok(Tokens::new(
                &tokens.access_token,
                tokens.refresh_token.as_deref().unwrap_or(refresh_token),
            )
            .refresh_expiring_in(tokens.refresh_expires_in)),
            // Throttling and gateway trouble pass; any other answer is T+ saying no.
            _ if status == 409 || status == 429 || status >= 500 => Err(failed(format!(
                "HTTP {status}, code {code}: {}",
                envelope.message
            ))),
            _ => Err(RefreshError::Refused(format!(
                "HTTP {status}, code {code}: {}",
                envelope.message
            ))),
        }
    }

    async fn post(
        &self,
        endpoint: &'static str,
        body: &Value,
        tokens: &Tokens,
        subject: &str,
    ) -> Answer {
        let url = match self.inner.cfg.base_url.join(endpoint) {
            Ok(url) => url,
            Err(e) => return Answer::Transport(format!("building URL: {e}")),
        };
        if let Err(e) = self.inner.access.admit().await {
            return Answer::Transport(format!("rate limiter: {e}"));
        }
        tracing::debug!(endpoint, request = %j2t_upstream::redact::redacted_json(&body.to_string()), "T+ request");
        let started = Instant::now();
        let sent = self
            .inner
            .access
            .http
            .post(url)
            .header("appKey", &self.inner.cfg.app_key)
            .header("appSecret", self.inner.cfg.app_secret.expose_secret())
            .header("openToken", tokens.access_token.expose_secret())
            .json(body)
            .send()
            .await;
        let answer = match sent {
            Err(e) if e.is_timeout() => Answer::Timeout,
            Err(e) => Answer::Transport(e.without_url().to_string()),
            // Not followed: the secret headers would go with it.
            Ok(response) if let Some(redirect) = j2t_upstream::redirect_of(&response) => {
                Answer::Redirected(redirect)
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok())
                    .map(Duration::from_secs);
                match j2t_upstream::read_capped(response, j2t_upstream::TPLUS_BODY_LIMIT).await {
                    Ok(body) => Answer::Http {
                        status,
                        body: String::from_utf8_lossy(&body).into_owned(),
                        retry_after,
                    },
                    Err(e) if e.is_timeout() => Answer::Timeout,
                    // An oversized answer is no answer T+ gives: transient, with the reason.
                    Err(e) => Answer::Transport(e.to_string()),
                }
            }
        };
        if let Answer::Http { body, .. } = &answer {
            tracing::debug!(endpoint, response = %j2t_upstream::redact::redacted_json(body), "T+ response");
        }
        let status = match &answer {
            Answer::Http { status, .. } => status.to_string(),
            Answer::Timeout => "timeout".to_string(),
            Answer::Transport(_) => "transport".to_string(),
            Answer::Redirected(_) => "redirect".to_string(),
        };
        record(endpoint, &status, started.elapsed(), subject);
        answer
    }
}

/// One log line and one metric sample per call, whatever the endpoint; credentials are never
/// logged. `subject` names what the call was about (an ExternalCode, a voucher id, or "").
fn record(endpoint: &'static str, status: &str, latency: Duration, subject: &str) {
    metrics::counter!("j2t_tplus_requests_total", "endpoint" => endpoint, "status" => status.to_string())
        .increment(1);
    metrics::histogram!("j2t_tplus_request_duration_seconds", "endpoint" => endpoint, "status" => status.to_string())
        .record(latency.as_secs_f64());
    tracing::info!(
        endpoint,
        status,
        latency_ms = latency.as_millis() as u64,
        subject,
        "T+ call"
    );
}

impl std::fmt::Debug for TplusClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TplusClient")
            .field("base_url", &self.inner.cfg.base_url.as_str())
            .finish_non_exhaustive()
    }
}
