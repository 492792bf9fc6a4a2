//! The failed attempts of each voucher, across deliveries and replicas (NATS KV).

use async_nats::jetstream::kv;
use chrono::Utc;
use j2t_domain::Attempt;

use j2t_topology::names;

#[derive(Debug, thiserror::Error)]
#[error("attempt history of {code}: {source}")]
pub struct AttemptsError {
    code: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

#[derive(Clone)]
pub struct AttemptLog {
    kv: kv::Store,
}

impl AttemptLog {
    pub fn new(kv: kv::Store) -> Self {
        Self { kv }
    }

    fn error(code: &str) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> AttemptsError {
        let code = code.to_string();
        move |source| AttemptsError { code, source }
    }

    /// Appends a failure; returns the whole history, oldest first. One replica holds a
    /// message at a time, so a plain read-modify-write suffices.
    pub async fn record(
        &self,
        code: &str,
        delivery: u64,
        error: &str,
    ) -> Result<Vec<Attempt>, AttemptsError> {
        let key = names::attempts_key(code);
        let mut history = self.history(code).await?;
        history.push(Attempt {
            at: Utc::now(),
            delivery,
            error: error.to_string(),
        });
        let value = serde_json::to_vec(&history).map_err(|e| Self::error(code)(e.into()))?;
        self.kv
            .put(key, value.into())
            .await
            .map_err(|e| Self::error(code)(e.into()))?;
        Ok(history)
    }

    pub async fn history(&self, code: &str) -> Result<Vec<Attempt>, AttemptsError> {
        let stored = self
            .kv
            .get(names::attempts_key(code))
            .await
            .map_err(|e| Self::error(code)(e.into()))?;
        Ok(stored
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default())
    }

    /// Forgets the history once the voucher is written or dead-lettered.
    pub async fn clear(&self, code: &str) -> Result<(), AttemptsError> {
        self.kv
            .purge(names::attempts_key(code))
            .await
            .map_err(|e| Self::error(code)(e.into()))
    }
}
