//! A cached copy of T+'s master data (warehouse and inventory codes), shared by every window
//! this process merges: read at start, again every
//! `transformer.master_data_refresh_secs`, and again when a window names a code the copy lacks
//! (at most once per `transformer.master_data_miss_refresh_secs`, so a window full of unknown
//! codes costs one read, and a stream of such windows one read per interval).
//!
//! When T+ cannot be read the last good copy is used, however old. With no copy at all (T+
//! unreachable since this process started) a window is merged unchecked, as before the check
//! existed: the writer then refuses a voucher naming an unknown code (`rejected`,
//! replayable), so nothing stalls and nothing is dropped.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::Value;

/// The codes T+ knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Codes {
    pub warehouses: HashSet<String>,
    pub inventories: HashSet<String>,
}

/// Which master-data list a code belongs to. Warehouses sort first: an order naming an
/// unknown warehouse is held under it, whatever its SKUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CodeKind {
    Warehouse,
    Inventory,
}

impl CodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::Warehouse => "warehouse",
            CodeKind::Inventory => "inventory",
        }
    }
}

/// A code a voucher names that T+ does not have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnknownCode {
    pub kind: CodeKind,
    pub code: String,
}

impl std::fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`", self.kind.as_str(), self.code)
    }
}

/// Where the voucher DTO keeps the codes: T+'s own field names (`otherDispatch/Create`), under
/// the mapping's wrapper and body field.
#[derive(Debug, Clone)]
pub struct CodePaths {
    pub wrapper: String,
    pub body_field: String,
}

impl CodePaths {
    pub fn of(mapping: &j2t_mapping::Mapping) -> Self {
        Self {
            wrapper: mapping.target.wrapper.clone(),
            body_field: mapping.target.body_field.clone(),
        }
    }
}

impl Codes {
    /// The codes of a rendered voucher (`{wrapper: {Warehouse.Code, body_field: [{Inventory.Code}]}}`)
    /// that are not known, sorted, each once. A missing code is not checked here (the mapping
    /// requires it, T+ refuses it).
    pub fn unknown_in(&self, paths: &CodePaths, payload: &Value) -> BTreeSet<UnknownCode> {
        let dto = &payload[paths.wrapper.as_str()];
        let mut unknown = BTreeSet::new();
        if let Some(code) = code_text(&dto["Warehouse"]["Code"])
            && !self.warehouses.contains(&code)
        {
            unknown.insert(UnknownCode {
                kind: CodeKind::Warehouse,
                code,
            });
        }
        for line in dto[paths.body_field.as_str()]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(code) = code_text(&line["Inventory"]["Code"])
                && !self.inventories.contains(&code)
            {
                unknown.insert(UnknownCode {
                    kind: CodeKind::Inventory,
                    code,
                });
            }
        }
        unknown
    }
}

/// A code as T+ compares it: a string, or a number written as JSON writes it.
fn code_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("reading T+ master data: {0}")]
pub struct ReadFailed(pub String);

/// Reads the whole master data (every page of both lists).
pub trait Source: Send + Sync {
    fn read(&self) -> BoxFuture<'_, Result<Codes, ReadFailed>>;
}

/// The copy, shared by the windows of one process. Cheap to clone.
#[derive(Clone)]
pub struct MasterData {
    inner: Arc<Inner>,
}

struct Inner {
    source: Box<dyn Source>,
    miss_every: Duration,
    state: Mutex<State>,
    /// One read at a time; callers that waited for it use its result.
    reading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    codes: Option<Arc<Codes>>,
    /// The last read tried, whether it worked or not.
    tried: Option<Instant>,
}

impl MasterData {
    pub fn new(source: Box<dyn Source>, miss_every: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                miss_every,
                state: Mutex::new(State::default()),
                reading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind: keep using it.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The last good copy, if any.
    pub fn current(&self) -> Option<Arc<Codes>> {
        self.state().codes.clone()
    }

    /// Reads now (the schedule). Keeps the last good copy when the read fails.
    pub async fn refresh(&self) -> Result<Arc<Codes>, ReadFailed> {
        let _reading = self.inner.reading.lock().await;
        self.read_locked().await
    }

    /// The copy a window is checked against: the current one, or a first read when there is
    /// none yet (bounded like a miss, so an unreachable T+ does not slow every window).
    pub async fn for_window(&self) -> Option<Arc<Codes>> {
        match self.current() {
            Some(codes) => Some(codes),
            None => self.after_miss().await,
        }
    }

    /// A window named a code the copy lacks: read again unless a read was tried less than
    /// `miss_every` ago (then, or when the read fails, the current copy).
    pub async fn after_miss(&self) -> Option<Arc<Codes>> {
        let _reading = self.inner.reading.lock().await;
        // Checked under the lock: callers that queued behind a read use its result.
        let recent = self
            .state()
            .tried
            .is_some_and(|t| t.elapsed() < self.inner.miss_every);
        if recent {
            return self.current();
        }
        match self.read_locked().await {
            Ok(codes) => Some(codes),
            Err(error) => {
                tracing::warn!(%error, "T+ master data not read; using the last good copy, if any");
                self.current()
            }
        }
    }

    async fn read_locked(&self) -> Result<Arc<Codes>, ReadFailed> {
        let result = self.inner.source.read().await;
        let mut state = self.state();
        state.tried = Some(Instant::now());
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        metrics::counter!("j2t_transformer_master_data_reads_total", "outcome" => outcome)
            .increment(1);
        let codes = Arc::new(result?);
        metrics::gauge!("j2t_transformer_master_data_codes", "kind" => "warehouse")
            .set(codes.warehouses.len() as f64);
        metrics::gauge!("j2t_transformer_master_data_codes", "kind" => "inventory")
            .set(codes.inventories.len() as f64);
        state.codes = Some(codes.clone());
        Ok(codes)
    }

    /// Reads at once (so the first window usually finds a copy), then every `every`, until
    /// `shutdown`.
    pub async fn run_schedule(
        self,
        every: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let mut first = true;
        loop {
            if !first {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
            first = false;
            match self.refresh().await {
                Ok(codes) => tracing::debug!(
                    warehouses = codes.warehouses.len(),
                    inventories = codes.inventories.len(),
                    "T+ master data read"
                ),
                Err(error) => {
                    tracing::warn!(%error, "T+ master data not read; keeping the last good copy")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;

    pub fn codes(warehouses: &[&str], inventories: &[&str]) -> Codes {
        Codes {
            warehouses: warehouses.iter().map(|c| c.to_string()).collect(),
            inventories: inventories.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn unknown_codes_of_a_voucher_sorted_warehouse_first() {
        let paths = CodePaths::of(&j2t_mapping::Mapping::builtin());
        let known = codes(&["1"], &["A", "B"]);
        let voucher = |wh: Value, skus: &[&str]| {
            let lines: Vec<Value> = skus
                .iter()
                .map(|s| json!({"Inventory": {"Code": s}, "BaseQuantity": 1}))
                .collect();
            json!({"dto": {"Warehouse": {"Code": wh}, "RDRecordDetails": lines}})
        };
        assert!(
            known
                .unknown_in(&paths, &voucher(json!("1"), &["A", "B", "A"]))
                .is_empty()
        );
        // A number is compared as JSON writes it.
        assert!(
            known
                .unknown_in(&paths, &voucher(json!(1), &["A"]))
                .is_empty()
        );
        let found: Vec<String> = known
            .unknown_in(&paths, &voucher(json!("9"), &["Z", "A", "Y", "Z"]))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(found, ["warehouse `9`", "inventory `Y`", "inventory `Z`"]);
    }

    /// Counts reads; fails while `down`.
    struct Counting {
        reads: Arc<AtomicUsize>,
        down: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Source for Counting {
        fn read(&self) -> BoxFuture<'_, Result<Codes, ReadFailed>> {
            Box::pin(async move {
                self.reads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                if self.down.load(Ordering::SeqCst) {
                    Err(ReadFailed("T+ is down".into()))
                } else {
                    Ok(codes(&["1"], &["A"]))
                }
            })
        }
    }

    fn counting(
        miss_every: Duration,
    ) -> (
        MasterData,
        Arc<AtomicUsize>,
        Arc<std::sync::atomic::AtomicBool>,
    ) {
        let reads = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let source = Counting {
            reads: reads.clone(),
            down: down.clone(),
        };
        (MasterData::new(Box::new(source), miss_every), reads, down)
    }

    #[tokio::test]
    async fn misses_read_at_most_once_per_interval_even_concurrently() {
        let (master, reads, _) = counting(Duration::from_secs(3600));
        let windows: Vec<_> = (0..10)
            .map(|_| {
                let master = master.clone();
                tokio::spawn(async move { master.after_miss().await })
            })
            .collect();
        for window in windows {
            assert!(window.await.expect("joined").is_some());
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert!(master.for_window().await.is_some());
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // The schedule reads regardless of the miss interval.
        master.refresh().await.expect("read");
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_read_keeps_the_last_good_copy_and_none_means_unchecked() {
        let (master, reads, down) = counting(Duration::ZERO);
        down.store(true, Ordering::SeqCst);
        // No copy yet and T+ down: nothing to check against (the window goes on unchecked).
        assert!(master.for_window().await.is_none());
        down.store(false, Ordering::SeqCst);
        let good = master.for_window().await.expect("a copy");
        down.store(true, Ordering::SeqCst);
        assert!(master.refresh().await.is_err());
        assert_eq!(master.after_miss().await, Some(good));
        assert_eq!(reads.load(Ordering::SeqCst), 4);
    }
}
