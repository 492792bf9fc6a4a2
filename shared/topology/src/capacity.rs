//! How full each stream and bucket is against its byte limit (`nats.*_max_bytes`), for the
//! monitor's gauges and storage alert.

use async_nats::jetstream;

use crate::ensure::{BUCKETS, STREAM_NAMES, Topology, TopologyError};

/// Bytes stored in one stream or KV bucket, and its limit.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageUsage {
    /// The stream (`J2T_ORDERS`) or bucket (`j2t_seen`) name.
    pub store: String,
    pub bytes: u64,
    /// The configured limit; 0 or less: none.
    pub max_bytes: i64,
}

impl StorageUsage {
    /// `bytes / max_bytes`, or `None` without a limit.
    pub fn ratio(&self) -> Option<f64> {
        (self.max_bytes > 0).then(|| self.bytes as f64 / self.max_bytes as f64)
    }
}

/// Usage of every stream and bucket of the topology, as the server reports it now.
pub async fn storage_usage(topology: &Topology) -> Result<Vec<StorageUsage>, TopologyError> {
    let stores = STREAM_NAMES
        .iter()
        .map(|name| (name.to_string(), name.to_string()))
        .chain(
            BUCKETS
                .iter()
                .map(|(bucket, ..)| (bucket.to_string(), format!("KV_{bucket}"))),
        );
    let mut usage = Vec::new();
    for (store, stream) in stores {
        let info = info(&topology.js, &stream)
            .await
            .map_err(|source| TopologyError {
                what: format!("usage of {store}"),
                source,
            })?;
        usage.push(StorageUsage {
            store,
            bytes: info.state.bytes,
            max_bytes: info.config.max_bytes,
        });
    }
    Ok(usage)
}

async fn info(
    js: &jetstream::Context,
    stream: &str,
) -> Result<jetstream::stream::Info, Box<dyn std::error::Error + Send + Sync>> {
    let mut stream = js.get_stream(stream).await?;
    Ok(stream.info().await?.clone())
}
