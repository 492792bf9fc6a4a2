use async_nats::jetstream::kv;
use chrono::NaiveDateTime;
use j2t_domain::Window;
use serde::{Deserialize, Serialize};

/// The sync position of one task, stored as JSON under the task's key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorState {
    /// Everything before this instant has been fetched, published and closed.
    #[serde(with = "j2t_domain::jst_time")]
    pub next_start: NaiveDateTime,
    /// The window being fetched; a restart resumes exactly this one.
    pub pending: Option<Window>,
    /// Failed attempts at `pending` so far (dead-lettered at `max_window_attempts`).
    #[serde(default)]
    pub attempts: u32,
    /// How far a catch-up has come and how long it still needs, for the console (see
    /// `crate::progress`); saved with the cursor, so it costs no write of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<j2t_stores::Backfill>,
}

#[derive(Debug, thiserror::Error)]
pub enum CursorError {
    #[error("reading cursor {key}: {source}")]
    Read { key: String, source: kv::EntryError },
    #[error("cursor {key} holds unreadable JSON: {source}")]
    Decode {
        key: String,
        source: serde_json::Error,
    },
    #[error("writing cursor {key} (another fetcher may run this task): {source}")]
    Write {
        key: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The cursor of one task in the KV bucket, updated with optimistic concurrency so two
/// fetchers on one task cannot both advance it.
pub struct CursorStore {
    kv: kv::Store,
    key: String,
    revision: Option<u64>,
}

impl CursorStore {
    pub fn new(kv: kv::Store, task: &str) -> Self {
        Self {
            kv,
            key: task.to_string(),
            revision: None,
        }
    }

    /// The bucket the cursor lives in (replay requests are kept beside it).
    pub fn kv(&self) -> &kv::Store {
        &self.kv
    }

    pub async fn load(&mut self) -> Result<Option<CursorState>, CursorError> {
        let entry = self
            .kv
            .entry(&self.key)
            .await
            .map_err(|source| CursorError::Read {
                key: self.key.clone(),
                source,
            })?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
            self.revision = None;
            return Ok(None);
        };
        self.revision = Some(entry.revision);
        serde_json::from_slice(&entry.value)
            .map(Some)
            .map_err(|source| CursorError::Decode {
                key: self.key.clone(),
                source,
            })
    }

    pub async fn save(&mut self, state: &CursorState) -> Result<(), CursorError> {
        let value = serde_json::to_vec(state).map_err(|source| CursorError::Decode {
            key: self.key.clone(),
            source,
        })?;
        let write_error = |source: Box<dyn std::error::Error + Send + Sync>| CursorError::Write {
            key: self.key.clone(),
            source,
        };
        let revision = match self.revision {
            Some(rev) => self
                .kv
                .update(&self.key, value.into(), rev)
                .await
                .map_err(|e| write_error(e.into()))?,
            None => self
                .kv
                .create(&self.key, value.into())
                .await
                .map_err(|e| write_error(e.into()))?,
        };
        self.revision = Some(revision);
        Ok(())
    }
}
