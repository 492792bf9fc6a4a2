//! `/readyz`: whether a service's dependencies answer (NATS and its streams, the upstream
//! API), re-checked periodically, with the reason when they do not.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Not ready until a check passes; then as the latest check says.
#[derive(Clone)]
pub struct Readiness(Arc<Mutex<Result<(), String>>>);

impl Default for Readiness {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Err("starting".into()))))
    }
}

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.set_result(if ready {
            Ok(())
        } else {
            Err("not ready".into())
        });
    }

    pub fn set_result(&self, result: Result<(), String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = result;
    }

    pub fn is_ready(&self) -> bool {
        self.state().is_ok()
    }

    /// `Err(reason)` while not ready.
    pub fn state(&self) -> Result<(), String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Runs `check` every `every` until `shutdown`, recording the result; logs each change.
pub async fn keep_ready<F, Fut>(
    readiness: Readiness,
    shutdown: CancellationToken,
    every: Duration,
    check: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    while !shutdown.is_cancelled() {
        let result = check().await;
        let before = readiness.state();
        if result != before {
            match &result {
                Ok(()) => tracing::info!("ready"),
                Err(reason) => tracing::warn!(%reason, "not ready"),
            }
        }
        readiness.set_result(result);
        shutdown
            .run_until_cancelled(tokio::time::sleep(every))
            .await;
    }
}

/// Whether `url` answers HTTP at all (any status counts: the service is up). A redirect
/// counts as an answer and is not followed: the API clients never follow one either.
pub async fn http_reachable(url: &url::Url) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    client
        .get(url.clone())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{} unreachable: {}",
                url.host_str().unwrap_or("upstream"),
                e.without_url()
            )
        })
}
