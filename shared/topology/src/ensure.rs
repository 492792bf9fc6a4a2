use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};
use j2t_config::Config;

use crate::names::*;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `what` names the stream, consumer or bucket that could not be set up or found.
#[derive(Debug, thiserror::Error)]
#[error("NATS topology, {what}: {source}")]
pub struct TopologyError {
    pub what: String,
    #[source]
    pub source: BoxError,
}

fn error(what: impl Into<String>) -> impl FnOnce(BoxError) -> TopologyError {
    let what = what.into();
    move |source| TopologyError { what, source }
}

/// Handles on the parts of the topology services use. Cheap to clone.
#[derive(Clone)]
pub struct Topology {
    pub js: jetstream::Context,
    pub cursors: kv::Store,
    pub seen: kv::Store,
    pub tokens: kv::Store,
    pub leases: kv::Store,
    pub rate: kv::Store,
    pub attempts: kv::Store,
    pub dlq_replayed: kv::Store,
    pub lineage: kv::Store,
    pub voucher_state: kv::Store,
    pub signals: kv::Store,
    pub reconcile: kv::Store,
    pub written: kv::Store,
}

type PullConsumer = consumer::Consumer<consumer::pull::Config>;

impl Topology {
    /// Whether NATS answers and every stream is there (for `/readyz`).
    pub async fn check(&self) -> Result<(), String> {
        for config in STREAM_NAMES {
            let mut stream = self
                .js
                .get_stream(config)
                .await
                .map_err(|e| format!("NATS stream {config}: {e}"))?;
            stream
                .info()
                .await
                .map_err(|e| format!("NATS stream {config}: {e}"))?;
        }
        Ok(())
    }

    pub async fn transformer_consumer(&self) -> Result<PullConsumer, TopologyError> {
        durable(&self.js, WINDOWS_STREAM, TRANSFORMER_CONSUMER).await
    }

    pub async fn corrections_consumer(&self) -> Result<PullConsumer, TopologyError> {
        durable(&self.js, CHANGES_STREAM, CORRECTIONS_CONSUMER).await
    }

    pub async fn writer_consumer(&self) -> Result<PullConsumer, TopologyError> {
        durable(&self.js, VOUCHERS_STREAM, WRITER_CONSUMER).await
    }
}

async fn durable(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
) -> Result<PullConsumer, TopologyError> {
    let what = format!("consumer {name} on {stream}");
    let stream = js
        .get_stream(stream)
        .await
        .map_err(|e| error(what.clone())(e.into()))?;
    stream.get_consumer(name).await.map_err(error(what))
}

const DAY: Duration = Duration::from_secs(86_400);

/// A stream that refuses new messages when full (`discard new`): a publisher sees the error and
/// retries, nothing stored is dropped. `max_age` zero means kept until consumed or purged.
fn limited(name: &str, subject: &str, max_age: Duration, max_bytes: i64) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age,
        max_bytes,
        discard: stream::DiscardPolicy::New,
        // Re-publishing the same Nats-Msg-Id within this window is a no-op.
        duplicate_window: Duration::from_secs(600),
        ..Default::default()
    }
}

/// Every stream, with `nats.replicas` copies.
pub(crate) fn replicated_streams(cfg: &Config) -> [stream::Config; 6] {
    streams(cfg).map(|config| stream::Config {
        num_replicas: cfg.nats.replicas,
        ..config
    })
}

/// Every stream. Work not done yet (window events, vouchers) has no age limit, so it never
/// expires unseen: a full stream refuses new messages and stops its publisher instead
/// (which retries; nothing is lost), and the monitor's storage alert fires well before.
pub(crate) fn streams(cfg: &Config) -> [stream::Config; 6] {
    let nats = &cfg.nats;
    [
        // Raw orders are an audit trail kept 30 days; their window is merged long before
        // (a transformer down that long has set off the no-writes alert for weeks).
        limited(
            ORDERS_STREAM,
            ORDERS_SUBJECTS,
            30 * DAY,
            nats.orders_max_bytes,
        ),
        stream::Config {
            retention: stream::RetentionPolicy::WorkQueue,
            ..limited(
                WINDOWS_STREAM,
                WINDOWS_SUBJECTS,
                Duration::ZERO,
                nats.windows_max_bytes,
            )
        },
        limited(
            VOUCHERS_STREAM,
            VOUCHERS_SUBJECTS,
            Duration::ZERO,
            nats.vouchers_max_bytes,
        ),
        limited(DLQ_STREAM, DLQ_SUBJECTS, 90 * DAY, nats.dlq_max_bytes),
        stream::Config {
            // An audit trail: when full, the oldest results make room (T+ and
            // j2t_voucher_state hold what was written).
            discard: stream::DiscardPolicy::Old,
            ..limited(
                RESULTS_STREAM,
                RESULTS_SUBJECTS,
                90 * DAY,
                nats.results_max_bytes,
            )
        },
        stream::Config {
            retention: stream::RetentionPolicy::WorkQueue,
            ..limited(
                CHANGES_STREAM,
                CHANGES_SUBJECTS,
                Duration::ZERO,
                nats.changes_max_bytes,
            )
        },
    ]
}

fn consumers(cfg: &Config) -> [(&'static str, consumer::pull::Config); 3] {
    let durable = |name: &str, ack_wait_secs| consumer::pull::Config {
        durable_name: Some(name.to_string()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: Duration::from_secs(ack_wait_secs),
        ..Default::default()
    };
    [
        (
            WINDOWS_STREAM,
            consumer::pull::Config {
                // The transformer dead-letters at max_deliver itself; one spare delivery lets it.
                max_deliver: cfg.transformer.max_deliver + 1,
                max_ack_pending: 64,
                ..durable(TRANSFORMER_CONSUMER, cfg.transformer.ack_wait_secs)
            },
        ),
        (
            VOUCHERS_STREAM,
            consumer::pull::Config {
                // The writer dead-letters at max_deliver itself; one spare delivery lets it.
                max_deliver: cfg.writer.max_deliver + 1,
                max_ack_pending: 1_000,
                ..durable(WRITER_CONSUMER, cfg.writer.ack_wait_secs)
            },
        ),
        (
            CHANGES_STREAM,
            consumer::pull::Config {
                // No delivery limit: a change fails only while NATS does (an unreadable event
                // is acked and logged), and a change dropped would leave T+ wrong unseen.
                max_ack_pending: 64,
                ..durable(CORRECTIONS_CONSUMER, cfg.transformer.ack_wait_secs)
            },
        ),
    ]
}

/// Connects to `nats.url` (waiting for the server if needed) and ensures the topology, or,
/// with `nats.create_topology = false`, waits until the operator has created it
/// (`jst2tplus nats-setup`) and looks it up.
pub async fn open(cfg: &Config) -> Result<Topology, TopologyError> {
    let js = jetstream::new(connect_as_process(cfg).await?);
    if cfg.nats.create_topology {
        return ensure(js, cfg).await;
    }
    let mut waited = 0u32;
    loop {
        match look_up(js.clone()).await {
            Ok(topology) => return Ok(topology),
            Err(e) => {
                if waited.is_multiple_of(15) {
                    tracing::warn!(
                        error = %e,
                        "NATS topology not set up yet (nats.create_topology = false); waiting \
                         for `jst2tplus nats-setup`"
                    );
                }
                waited += 1;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Connects as this process (its binary's name names the client on the server).
async fn connect_as_process(cfg: &Config) -> Result<async_nats::Client, TopologyError> {
    let name = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "jst2tplus".to_string());
    crate::connect(&cfg.nats, &name)
        .await
        .map_err(|e| error(format!("connecting to {}", cfg.nats.url))(e.into()))
}

/// Creates or updates every stream, consumer and bucket. Safe to run concurrently from every
/// service at start-up.
pub async fn ensure(js: jetstream::Context, cfg: &Config) -> Result<Topology, TopologyError> {
    for config in replicated_streams(cfg) {
        let what = format!("stream {}", config.name);
        js.create_or_update_stream(config)
            .await
            .map_err(|e| error(what)(e.into()))?;
    }
    for (stream, config) in consumers(cfg) {
        let what = format!("consumer {:?} on {stream}", config.durable_name);
        let stream = js
            .get_stream(stream)
            .await
            .map_err(|e| error(what.clone())(e.into()))?;
        stream
            .create_consumer(config)
            .await
            .map_err(|e| error(what)(e.into()))?;
    }
    let mut stores = HashMap::new();
    for (bucket, description, history, keep) in BUCKETS {
        let max_age = keep.max_age(cfg);
        if let Keep::DedupRetention = keep {
            refuse_shrinking(&js, bucket, max_age).await?;
        }
        let config = kv::Config {
            bucket: bucket.to_string(),
            description: description.to_string(),
            history,
            max_age,
            max_bytes: if bucket == WRITTEN_BUCKET {
                cfg.nats.written_max_bytes
            } else {
                cfg.nats.bucket_max_bytes
            },
            storage: stream::StorageType::File,
            num_replicas: cfg.nats.replicas,
            ..Default::default()
        };
        let store = js
            .create_or_update_key_value(config)
            .await
            .map_err(|e| error(format!("bucket {bucket}"))(e.into()))?;
        stores.insert(bucket, store);
    }
    assemble(js, stores)
}

/// Refuses to shorten how long `bucket` keeps its keys: dedup keys or lineage forgotten
/// early let an order be published, merged and posted twice. Services never shorten it; an
/// operator who means it deletes the bucket's limit by hand.
async fn refuse_shrinking(
    js: &jetstream::Context,
    bucket: &str,
    wanted: Duration,
) -> Result<(), TopologyError> {
    let what = format!("bucket {bucket}");
    let mut stream = match js.get_stream(format!("KV_{bucket}")).await {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                jetstream::context::GetStreamErrorKind::JetStream(ref j)
                    if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
            ) =>
        {
            return Ok(());
        }
        Err(e) => return Err(error(what)(e.into())),
    };
    let existing = stream
        .info()
        .await
        .map_err(|e| error(what.clone())(e.into()))?
        .config
        .max_age;
    // Zero: kept forever, which any limit would shrink.
    if existing.is_zero() || wanted < existing {
        return Err(error(what)(Box::new(RetentionShrink {
            configured_days: wanted.as_secs() / DAY.as_secs(),
            existing_days: (!existing.is_zero()).then(|| existing.as_secs() / DAY.as_secs()),
        })));
    }
    Ok(())
}

/// A configuration that would make a dedup or lineage bucket forget keys earlier than it does.
#[derive(Debug, thiserror::Error)]
#[error(
    "`fetcher.dedup_retention_days` = {configured_days} would shrink the retention of this \
     bucket (now {}); keys forgotten early let orders be posted twice. Set it to at least \
     the current retention",
    existing_days.map_or("unlimited".to_string(), |d| format!("{d} days"))
)]
pub struct RetentionShrink {
    pub configured_days: u64,
    pub existing_days: Option<u64>,
}

/// Handles on an existing topology, for operator commands: looks every stream and bucket
/// up and changes nothing. Fails, naming what is missing, where the services have not
/// created the topology yet. Only services create or update it (`open`).
pub async fn attach(cfg: &Config) -> Result<Topology, TopologyError> {
    look_up(jetstream::new(connect_as_process(cfg).await?)).await
}

async fn look_up(js: jetstream::Context) -> Result<Topology, TopologyError> {
    for name in STREAM_NAMES {
        js.get_stream(name)
            .await
            .map_err(|e| error(format!("stream {name}"))(missing(e.into())))?;
    }
    let mut stores = HashMap::new();
    for (bucket, ..) in BUCKETS {
        let store = js
            .get_key_value(bucket)
            .await
            .map_err(|e| error(format!("bucket {bucket}"))(missing(e.into())))?;
        stores.insert(bucket, store);
    }
    assemble(js, stores)
}

fn missing(source: BoxError) -> BoxError {
    format!(
        "{source} (not set up yet? the services create the topology when they start, or \
         `jst2tplus nats-setup` where nats.create_topology = false)"
    )
    .into()
}

fn assemble(
    js: jetstream::Context,
    mut stores: HashMap<&str, kv::Store>,
) -> Result<Topology, TopologyError> {
    let mut take = |bucket: &str| {
        stores
            .remove(bucket)
            .ok_or_else(|| error(format!("bucket {bucket}"))("not in BUCKETS".into()))
    };
    Ok(Topology {
        cursors: take(CURSORS_BUCKET)?,
        seen: take(SEEN_BUCKET)?,
        tokens: take(TOKENS_BUCKET)?,
        leases: take(LEASES_BUCKET)?,
        rate: take(RATE_BUCKET)?,
        attempts: take(ATTEMPTS_BUCKET)?,
        dlq_replayed: take(DLQ_REPLAYED_BUCKET)?,
        lineage: take(LINEAGE_BUCKET)?,
        voucher_state: take(VOUCHER_STATE_BUCKET)?,
        signals: take(SIGNALS_BUCKET)?,
        reconcile: take(RECONCILE_BUCKET)?,
        written: take(WRITTEN_BUCKET)?,
        js,
    })
}

/// How long a bucket keeps a key.
#[derive(Clone, Copy)]
pub(crate) enum Keep {
    Forever,
    Days(u32),
    /// As long as the fetcher remembers an io_id as published (`dedup_retention_days`):
    /// lineage and voucher states must not be forgotten before it.
    DedupRetention,
    /// The fetcher lease's time to live.
    LeaseTtl,
    /// As long as changes after the write are watched (`corrections.watch_days`).
    WatchDays,
}

impl Keep {
    fn max_age(self, cfg: &Config) -> Duration {
        match self {
            Keep::Forever => Duration::ZERO,
            Keep::Days(days) => DAY * days,
            Keep::DedupRetention => {
                DAY * cfg
                    .fetcher
                    .dedup_retention_days
                    .try_into()
                    .unwrap_or(u32::MAX)
            }
            Keep::LeaseTtl => Duration::from_secs(cfg.fetcher.lease_ttl_secs),
            Keep::WatchDays => DAY * cfg.corrections.watch_days,
        }
    }
}

/// Every stream's name.
pub(crate) const STREAM_NAMES: [&str; 6] = [
    ORDERS_STREAM,
    WINDOWS_STREAM,
    VOUCHERS_STREAM,
    DLQ_STREAM,
    RESULTS_STREAM,
    CHANGES_STREAM,
];

/// Every KV bucket: name, description, history, retention.
pub(crate) const BUCKETS: [(&str, &str, i64, Keep); 12] = [
    (
        CURSORS_BUCKET,
        "sync cursor of each fetcher task",
        10,
        Keep::Forever,
    ),
    (
        SEEN_BUCKET,
        "io_ids published by the fetcher",
        1,
        Keep::DedupRetention,
    ),
    // One version: a replaced pair (refreshed or rotated) leaves no copy behind in NATS.
    (TOKENS_BUCKET, "newest API tokens", 1, Keep::Forever),
    (
        LEASES_BUCKET,
        "active fetcher of each JST app",
        1,
        Keep::LeaseTtl,
    ),
    (
        RATE_BUCKET,
        "next free request slot per API app",
        1,
        Keep::Forever,
    ),
    (
        ATTEMPTS_BUCKET,
        "failed write attempts per voucher",
        1,
        Keep::Days(30),
    ),
    (
        DLQ_REPLAYED_BUCKET,
        "dead letters already replayed",
        1,
        Keep::Days(90),
    ),
    (
        LINEAGE_BUCKET,
        "voucher holding each io_id",
        1,
        Keep::DedupRetention,
    ),
    (
        VOUCHER_STATE_BUCKET,
        "final state of each voucher",
        1,
        Keep::DedupRetention,
    ),
    (
        SIGNALS_BUCKET,
        "what services observe, for monitors",
        1,
        Keep::Forever,
    ),
    (
        RECONCILE_BUCKET,
        "daily reconcile runs and digests",
        1,
        Keep::Days(92),
    ),
    (
        WRITTEN_BUCKET,
        "lines written per io_id, changes and corrections",
        1,
        Keep::WatchDays,
    ),
];

/// Keeps `/readyz` true while NATS and the streams answer and, when given, the upstream API
/// (JST for the fetcher, T+ for the writer) answers HTTP. Checked every 10 s in the background.
pub fn watch_readiness(
    readiness: &j2t_runtime::Readiness,
    shutdown: &tokio_util::sync::CancellationToken,
    topology: &Topology,
    upstream: Option<url::Url>,
) {
    let topology = topology.clone();
    tokio::spawn(j2t_runtime::keep_ready(
        readiness.clone(),
        shutdown.clone(),
        Duration::from_secs(10),
        move || {
            let topology = topology.clone();
            let upstream = upstream.clone();
            async move {
                topology.check().await?;
                match upstream {
                    Some(url) => j2t_runtime::http_reachable(&url).await,
                    None => Ok(()),
                }
            }
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_limits_come_from_config_and_work_never_expires() {
        let env = [
            ("J2T__NATS__ORDERS_MAX_BYTES", "1000000"),
            ("J2T__NATS__WINDOWS_MAX_BYTES", "2000000"),
            ("J2T__NATS__VOUCHERS_MAX_BYTES", "3000000"),
            ("J2T__NATS__DLQ_MAX_BYTES", "4000000"),
            ("J2T__NATS__RESULTS_MAX_BYTES", "5000000"),
            ("J2T__NATS__CHANGES_MAX_BYTES", "6000000"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = Config::load_with_env(None, Some(env)).expect("config");
        let limits: Vec<_> = streams(&cfg)
            .iter()
            .map(|s| (s.name.clone(), s.max_bytes, s.max_age, s.discard))
            .collect();
        use stream::DiscardPolicy::{New, Old};
        assert_eq!(
            limits,
            [
                (ORDERS_STREAM.into(), 1_000_000, 30 * DAY, New),
                (WINDOWS_STREAM.into(), 2_000_000, Duration::ZERO, New),
                (VOUCHERS_STREAM.into(), 3_000_000, Duration::ZERO, New),
                (DLQ_STREAM.into(), 4_000_000, 90 * DAY, New),
                (RESULTS_STREAM.into(), 5_000_000, 90 * DAY, Old),
                (CHANGES_STREAM.into(), 6_000_000, Duration::ZERO, New),
            ]
        );
        let names: Vec<_> = streams(&cfg).iter().map(|s| s.name.clone()).collect();
        assert_eq!(names, STREAM_NAMES);
    }

    #[test]
    fn streams_keep_the_configured_replicas() {
        let env = [("J2T__NATS__REPLICAS".to_string(), "3".to_string())].into();
        let cfg = Config::load_with_env(None, Some(env)).expect("config");
        assert!(replicated_streams(&cfg).iter().all(|s| s.num_replicas == 3));
        let single = Config::load_with_env(None, Some(Default::default())).expect("config");
        assert!(
            replicated_streams(&single)
                .iter()
                .all(|s| s.num_replicas == 1)
        );
    }

    #[test]
    fn a_too_small_byte_limit_names_its_key() {
        let env = [("J2T__NATS__BUCKET_MAX_BYTES".to_string(), "10".to_string())].into();
        let err = Config::load_with_env(None, Some(env)).expect_err("too small");
        assert!(err.to_string().contains("nats.bucket_max_bytes"), "{err}");
    }
}
