//! The daily reconcile's keys in the `j2t_reconcile` bucket: each day's run (claimed with
//! `create`, taken over with compare-and-set), the latest results, and the digests sent.

use async_nats::jetstream::kv;
use chrono::NaiveDate;
use futures::TryStreamExt;
use j2t_topology::names;
use serde::{Serialize, de::DeserializeOwned};

use super::record::RunRecord;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("bucket {bucket}, key {key}: {message}")]
    Nats {
        bucket: &'static str,
        key: String,
        message: String,
    },
    #[error("bucket {bucket}, key {key}: unreadable value: {message}")]
    Unreadable {
        bucket: &'static str,
        key: String,
        message: String,
    },
}

fn nats(key: &str) -> impl FnOnce(Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    let key = key.to_string();
    move |e| StoreError::Nats {
        bucket: names::RECONCILE_BUCKET,
        key,
        message: e.to_string(),
    }
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Unreadable {
        bucket: names::RECONCILE_BUCKET,
        key: key.to_string(),
        message: e.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> bytes::Bytes {
    // Plain structs of strings, numbers and dates: serializing cannot fail.
    serde_json::to_vec(value).unwrap_or_default().into()
}

#[derive(Clone)]
pub struct Books {
    kv: kv::Store,
}

impl Books {
    pub fn new(topology: &j2t_topology::Topology) -> Self {
        Self {
            kv: topology.reconcile.clone(),
        }
    }

    async fn read<T: DeserializeOwned>(&self, key: &str) -> Result<Option<(T, u64)>, StoreError> {
        let entry = self.kv.entry(key).await.map_err(|e| nats(key)(e.into()))?;
        match entry.filter(|e| e.operation == kv::Operation::Put) {
            Some(e) => Ok(Some((decode(key, &e.value)?, e.revision))),
            None => Ok(None),
        }
    }

    /// `day`'s run and its revision (for a takeover).
    pub async fn run(&self, day: NaiveDate) -> Result<Option<(RunRecord, u64)>, StoreError> {
        self.read(&names::reconcile_run_key(&day.to_string())).await
    }

    /// Claims `record.day`'s run: `revision` = the abandoned claim replaced, else the key is
    /// created. `false`: another monitor was first.
    pub async fn claim(
        &self,
        record: &RunRecord,
        revision: Option<u64>,
    ) -> Result<bool, StoreError> {
        let key = names::reconcile_run_key(&record.day.to_string());
        let value = encode(record);
        match revision {
            Some(revision) => match self.kv.update(&key, value, revision).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
                Err(e) => Err(nats(&key)(e.into())),
            },
            None => match self.kv.create(&key, value).await {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(nats(&key)(e.into())),
            },
        }
    }

    /// Stores a finished run under its day and as the latest (and latest checked) result.
    pub async fn finish(&self, record: &RunRecord) -> Result<(), StoreError> {
        let value = encode(record);
        let mut keys = vec![
            names::reconcile_run_key(&record.day.to_string()),
            names::RECONCILE_LATEST_KEY.to_string(),
        ];
        if record.state.checked() {
            keys.push(names::RECONCILE_CHECKED_KEY.to_string());
        }
        for key in keys {
            self.kv
                .put(&key, value.clone())
                .await
                .map_err(|e| nats(&key)(e.into()))?;
        }
        Ok(())
    }

    /// The latest finished run, and the latest that compared the books.
    pub async fn latest(&self) -> Result<(Option<RunRecord>, Option<RunRecord>), StoreError> {
        let latest = self
            .read(names::RECONCILE_LATEST_KEY)
            .await?
            .map(|(r, _)| r);
        let checked = self
            .read(names::RECONCILE_CHECKED_KEY)
            .await?
            .map(|(r, _)| r);
        Ok((latest, checked))
    }

    /// The newest `limit` days' runs the bucket holds (it keeps 92 days).
    pub async fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        let keys: Vec<String> = match self.kv.keys().await {
            Ok(keys) => keys
                .try_collect()
                .await
                .map_err(|e| nats("run.*")(e.into()))?,
            Err(e) => return Err(nats("run.*")(e.into())),
        };
        // `run.yyyy-MM-dd`: sorted by name, newest first.
        let mut keys: Vec<&String> = keys.iter().filter(|k| k.starts_with("run.")).collect();
        keys.sort_unstable_by(|a, b| b.cmp(a));
        let mut runs = Vec::new();
        for key in keys.into_iter().take(limit) {
            if let Some((record, _)) = self.read::<RunRecord>(key).await? {
                runs.push(record);
            }
        }
        Ok(runs)
    }

    /// Claims `day`'s digest (`false`: already sent, by this monitor or another).
    pub async fn claim_digest<T: Serialize>(
        &self,
        day: NaiveDate,
        record: &T,
    ) -> Result<bool, StoreError> {
        let key = names::digest_key(&day.to_string());
        match self.kv.create(&key, encode(record)).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(nats(&key)(e.into())),
        }
    }

    /// `day`'s digest, if one was sent.
    pub async fn digest<T: DeserializeOwned>(
        &self,
        day: NaiveDate,
    ) -> Result<Option<T>, StoreError> {
        let key = names::digest_key(&day.to_string());
        Ok(self.read(&key).await?.map(|(d, _)| d))
    }
}
