use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use j2t_config::{ExposeSecret, JstConfig, SecretString};
use j2t_upstream::{AppAccess, Loaded, RenewError};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::page::{Answer, decode_page};
use crate::{
    ApiCode, JstError, OutboundPage, OutboundQuery, RateLimiter, TokenStore, Tokens, sign,
};

pub const OUTBOUND_QUERY_PATH: &str = "/open/orders/out/simple/query";
pub const REFRESH_TOKEN_PATH: &str = "/openWeb/auth/refreshToken";

/// One JST app. Cheap to clone; clones share tokens, token store and rate limiter.
#[derive(Clone)]
pub struct JstClient {
    inner: Arc<Inner>,
}

struct Inner {
    access: AppAccess,
    base_url: Url,
    app_key: String,
    app_secret: SecretString,
}

#[derive(Deserialize)]
struct Envelope<T> {
    code: i64,
    #[serde(default)]
    msg: String,
    // Errors may come with `data` null or absent.
    data: Option<T>,
}

#[derive(Deserialize)]
struct RefreshedTokens {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    /// Not in JST's public material; kept when an answer carries it (as T+'s does).
    #[serde(default)]
    refresh_expires_in: Option<i64>,
}

impl JstClient {
    /// A client with the configured tokens, no shared token store and no rate limiting.
    pub fn new(cfg: &JstConfig) -> Result<Self, reqwest::Error> {
        Self::with_parts(cfg, None, None)
    }

    /// `store` keeps refreshed tokens for other replicas and restarts; every request (token
    /// refreshes included) waits for `limiter` first.
    pub fn with_parts(
        cfg: &JstConfig,
        store: Option<Arc<dyn TokenStore>>,
        limiter: Option<Arc<dyn RateLimiter>>,
    ) -> Result<Self, reqwest::Error> {
        let tokens = Tokens::new(
            cfg.access_token.expose_secret(),
            cfg.refresh_token.expose_secret(),
        );
        let access = AppAccess::new(
            Duration::from_secs(cfg.timeout_secs),
            tokens,
            store,
            limiter,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                access,
                base_url: cfg.base_url.clone(),
                app_key: cfg.app_key.clone(),
                app_secret: cfg.app_secret.clone(),
            }),
        })
    }

    fn tokens(&self) -> Tokens {
        self.inner.access.tokens.current()
    }

    /// Adopts the tokens in the store, if it holds any (they are newer than the config's
    /// once anyone refreshed), unless the configured pair changed since (see
    /// [`TokenKeeper::load_stored`]).
    pub async fn load_stored_tokens(&self) -> Result<Loaded, JstError> {
        let loaded = self
            .inner
            .access
            .tokens
            .load_stored()
            .await
            .map_err(JstError::store)?;
        if loaded == Loaded::Replaced {
            tracing::info!("JST: the configured token pair is new; it replaces the stored pair");
        }
        Ok(loaded)
    }

    /// One page of `/open/orders/out/simple/query`. On code 100 the token is refreshed once
    /// and the request repeated.
    pub async fn query_outbound(&self, query: &OutboundQuery) -> Result<OutboundPage, JstError> {
        let biz = serde_json::to_string(query).map_err(|e| JstError::Decode {
            endpoint: OUTBOUND_QUERY_PATH,
            reason: format!("encoding biz: {e}"),
        })?;
        let used = self.tokens();
        let decode = |body: &[u8]| decode_page(body, query);
        match self
            .call_api(OUTBOUND_QUERY_PATH, &biz, &used, decode)
            .await
        {
            Err(e) if e.api_code() == Some(ApiCode::TokenExpired) => {
                self.refresh_after(&used).await?;
                self.call_api(OUTBOUND_QUERY_PATH, &biz, &self.tokens(), decode)
                    .await
            }
            other => other,
        }
    }

    /// Replaces `stale` with newer tokens (see [`TokenKeeper::renew`]), refreshing through
    /// `/openWeb/auth/refreshToken` when nobody has yet.
    async fn refresh_after(&self, stale: &Tokens) -> Result<(), JstError> {
        let refreshed = self
            .inner
            .access
            .tokens
            .renew(stale, |refresh_token| self.call_refresh(refresh_token))
            .await
            .map_err(|e| match e {
                RenewError::Store(e) => JstError::store(e),
                // JST answered and said no: the refresh token is dead, only an operator
                // can help (a new pair in the configuration).
                RenewError::Refresh(JstError::Api { code, msg, .. })
                    if ApiCode::from_code(code) != ApiCode::Throttled =>
                {
                    JstError::RefreshRefused { code, msg }
                }
                RenewError::Refresh(e) => e,
            })?;
        if refreshed {
            metrics::counter!("j2t_jst_token_refreshes_total").increment(1);
            tracing::info!("JST access token refreshed");
        }
        Ok(())
    }

    async fn call_refresh(&self, refresh_token: SecretString) -> Result<Tokens, JstError> {
        let refresh_token = refresh_token.expose_secret();
        let timestamp = unix_seconds();
        let refreshed: RefreshedTokens = self
            .send(
                REFRESH_TOKEN_PATH,
                vec![
                    ("app_key", self.inner.app_key.as_str()),
                    ("timestamp", timestamp.as_str()),
                    ("grant_type", "refresh_token"),
                    ("charset", "utf-8"),
                    ("refresh_token", refresh_token),
                    ("scope", "all"),
                ],
                decode_envelope,
            )
            .await?;
        // Keep the new refresh token when one is returned, else the old one.
        Ok(Tokens::new(
            &refreshed.access_token,
            refreshed.refresh_token.as_deref().unwrap_or(refresh_token),
        )
        .refresh_expiring_in(refreshed.refresh_expires_in))
    }

    async fn call_api<T>(
        &self,
        endpoint: &'static str,
        biz: &str,
        tokens: &Tokens,
        decode: impl FnOnce(&[u8]) -> Result<Answer<T>, String>,
    ) -> Result<T, JstError> {
        let timestamp = unix_seconds();
        let fields = vec![
            ("app_key", self.inner.app_key.as_str()),
            ("access_token", tokens.access_token.expose_secret()),
            ("timestamp", timestamp.as_str()),
            ("charset", "utf-8"),
            ("version", "2"),
            ("biz", biz),
        ];
        self.send(endpoint, fields, decode).await
    }

    /// Signs `form`, waits for the rate limiter, posts, and decodes the envelope. One log line and
    /// one metric sample per call; credentials are never logged.
    async fn send<T>(
        &self,
        endpoint: &'static str,
        mut form: Vec<(&str, &str)>,
        decode: impl FnOnce(&[u8]) -> Result<Answer<T>, String>,
    ) -> Result<T, JstError> {
        let signature = sign(self.inner.app_secret.expose_secret(), form.iter().copied());
        form.push(("sign", signature.as_str()));
        let url = self
            .inner
            .base_url
            .join(endpoint)
            .map_err(|e| JstError::Decode {
                endpoint,
                reason: format!("building URL: {e}"),
            })?;
        if let Some(waited) = self.inner.access.admit().await.map_err(JstError::store)? {
            metrics::histogram!("j2t_jst_rate_limit_wait_seconds").record(waited.as_secs_f64());
        }
        tracing::debug!(endpoint, request = %j2t_upstream::redact::redacted_form(&form), "JST request");
        let started = Instant::now();
        let result = self
            .post(endpoint, url, &form)
            .await
            .and_then(|body| decode(&body).map_err(|reason| JstError::Decode { endpoint, reason }));
        let latency = started.elapsed();
        let code = match &result {
            Ok(envelope) => envelope.code.to_string(),
            Err(JstError::HttpStatus { status, .. }) => format!("http_{status}"),
            Err(JstError::Transport { .. }) => "transport".to_string(),
            Err(JstError::Redirect { .. }) => "redirect".to_string(),
            Err(_) => "unreadable".to_string(),
        };
        metrics::counter!("j2t_jst_requests_total", "endpoint" => endpoint, "code" => code.clone())
            .increment(1);
        metrics::histogram!("j2t_jst_request_duration_seconds", "endpoint" => endpoint, "code" => code.clone())
            .record(latency.as_secs_f64());
        // `biz` names what was asked for (window, page, cursor, filters); it holds no secret.
        let biz = form
            .iter()
            .find(|(k, _)| *k == "biz")
            .map_or("", |(_, v)| *v);
        tracing::info!(
            endpoint,
            code,
            latency_ms = latency.as_millis() as u64,
            biz,
            "JST call"
        );
        let envelope: Answer<T> = result?;
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

    async fn post(
        &self,
        endpoint: &'static str,
        url: Url,
        form: &[(&str, &str)],
    ) -> Result<bytes::Bytes, JstError> {
        let response = self
            .inner
            .access
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|source| JstError::Transport {
                endpoint,
                source: source.without_url(),
            })?;
        if let Some(redirect) = j2t_upstream::redirect_of(&response) {
            return Err(JstError::Redirect { endpoint, redirect });
        }
        let status = response.status();
        if !status.is_success() {
            return Err(JstError::HttpStatus {
                endpoint,
                status: status.as_u16(),
            });
        }
        let body = match j2t_upstream::read_capped(response, j2t_upstream::JST_BODY_LIMIT).await {
            Ok(body) => body,
            Err(j2t_upstream::BodyError::Read(source)) => {
                return Err(JstError::Transport { endpoint, source });
            }
            // Not a page JST sends: unreadable, named with its size.
            Err(oversized) => {
                return Err(JstError::Decode {
                    endpoint,
                    reason: oversized.to_string(),
                });
            }
        };
        tracing::debug!(
            endpoint,
            response = %j2t_upstream::redact::redacted_json(&String::from_utf8_lossy(&body)),
            "JST response"
        );
        Ok(body.into())
    }
}

/// Decodes a whole answer strictly (every endpoint but the outbound query).
fn decode_envelope<T: DeserializeOwned>(body: &[u8]) -> Result<Answer<T>, String> {
    let envelope: Envelope<T> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(Answer {
        code: envelope.code,
        msg: envelope.msg,
        data: envelope.data,
    })
}

fn unix_seconds() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
        .to_string()
}
