//! What was written for each io_id (`j2t_written`): its lines, the JST version they come from
//! and the changes handled since. Written by the transformer when it claims an order, read by
//! the fetcher's change scan, moved on by the corrections.

use std::collections::HashMap;

use async_nats::jetstream::kv;
use futures::StreamExt;
use j2t_domain::WrittenOrder;
use j2t_topology::names;

/// KV round trips in flight at once.
const CONCURRENCY: usize = 32;

#[derive(Debug, thiserror::Error)]
#[error("written lines (bucket j2t_written): {0}")]
pub struct WrittenError(Box<dyn std::error::Error + Send + Sync>);

fn error(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> WrittenError {
    WrittenError(e.into())
}

#[derive(Clone)]
pub struct WrittenOrders {
    kv: kv::Store,
}

impl WrittenOrders {
    pub fn new(topology: &j2t_topology::Topology) -> Self {
        Self {
            kv: topology.written.clone(),
        }
    }

    /// The record of `io_id` and its revision (for [`update`](Self::update)).
    pub async fn get(&self, io_id: i64) -> Result<Option<(WrittenOrder, u64)>, WrittenError> {
        get_in(&self.kv, io_id).await
    }

    /// The records of the io_ids that have one.
    pub async fn many(&self, io_ids: &[i64]) -> Result<HashMap<i64, WrittenOrder>, WrittenError> {
        let found: Vec<_> = futures::stream::iter(io_ids.to_vec())
            .map(|io_id| {
                let kv = self.kv.clone();
                async move { (io_id, get_in(&kv, io_id).await) }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut records = HashMap::new();
        for (io_id, record) in found {
            if let Some((record, _)) = record? {
                records.insert(io_id, record);
            }
        }
        Ok(records)
    }

    /// Stores first records; one already there is kept (a window merged again must not undo
    /// the corrections applied since).
    pub async fn create_all(&self, records: &[WrittenOrder]) -> Result<(), WrittenError> {
        let results: Vec<_> = futures::stream::iter(records.to_vec())
            .map(|record| {
                let kv = self.kv.clone();
                async move {
                    let value = serde_json::to_vec(&record).map_err(error)?;
                    match kv
                        .create(names::written_key(record.io_id), value.into())
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(()),
                        Err(e) => Err(error(e)),
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// Replaces the record if it is still at `revision`; `false` when someone else changed
    /// it meanwhile (read it again).
    pub async fn update(&self, record: &WrittenOrder, revision: u64) -> Result<bool, WrittenError> {
        let value = serde_json::to_vec(record).map_err(error)?;
        match self
            .kv
            .update(names::written_key(record.io_id), value.into(), revision)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
            Err(e) => Err(error(e)),
        }
    }

    /// Where a task's change scan stopped (JST local time, `yyyy-MM-dd HH:mm:ss`).
    pub async fn scan_cursor(&self, task: &str) -> Result<Option<String>, WrittenError> {
        let stored = self
            .kv
            .get(names::change_scan_key(task))
            .await
            .map_err(error)?;
        Ok(stored.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    pub async fn set_scan_cursor(&self, task: &str, at: &str) -> Result<(), WrittenError> {
        self.kv
            .put(
                names::change_scan_key(task),
                at.to_string().into_bytes().into(),
            )
            .await
            .map_err(error)?;
        Ok(())
    }
}

async fn get_in(kv: &kv::Store, io_id: i64) -> Result<Option<(WrittenOrder, u64)>, WrittenError> {
    let Some(entry) = kv.entry(names::written_key(io_id)).await.map_err(error)? else {
        return Ok(None);
    };
    if entry.operation != kv::Operation::Put {
        return Ok(None);
    }
    Ok(serde_json::from_slice(&entry.value)
        .ok()
        .map(|r| (r, entry.revision)))
}
