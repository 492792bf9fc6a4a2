use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use j2t_config::{Config, ExposeSecret};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jst::{DriftEvent, JstState};
use crate::orders::OrderBook;
use crate::tplus::TplusState;

/// Fixed credentials the simulated apps accept (taken from the same config the services
/// use). The tokens change at run time and live in [`JstState`] and [`TplusState`]. No
/// `Debug`: secrets.
#[derive(Clone)]
pub struct Credentials {
    pub jst_app_key: String,
    pub jst_app_secret: String,
    pub tplus_app_key: String,
    pub tplus_app_secret: String,
}

#[derive(Debug, Clone, Copy)]
pub enum Api {
    Jst,
    Tplus,
}

/// A voucher T+ accepted.
#[derive(Debug, Clone, Serialize)]
pub struct StoredVoucher {
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// T+'s voucher id (`voucherID`), never reused.
    pub id: u64,
    /// T+'s voucher number, `QC-<yyyy>-<MM>-<nnnn>` by voucher month.
    pub code: String,
    /// Row version: changes whenever T+ changes the voucher (created, audited).
    pub ts: u64,
    pub audited: bool,
    pub dto: Value,
}

/// Everything the simulator holds, under one lock.
pub(crate) struct Data {
    /// JST outbound orders by io_id.
    pub book: OrderBook,
    pub jst: JstState,
    pub tplus: TplusState,
    vouchers: Vec<StoredVoucher>,
    codes: HashSet<String>,
    /// The last voucher id and row version handed out.
    last_voucher_id: u64,
    last_ts: u64,
    /// Vouchers numbered so far per voucher month (`yyyy-MM`).
    numbered: BTreeMap<String, u64>,
    jst_requests: u64,
    tplus_requests: u64,
}

impl Data {
    /// Stores a voucher unless its ExternalCode exists; `false` means duplicate.
    pub fn insert_voucher(&mut self, code: &str, dto: Value) -> bool {
        if !self.codes.insert(code.to_string()) {
            return false;
        }
        self.last_voucher_id += 1;
        let month: String = dto["VoucherDate"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(7)
            .collect();
        let number = self.numbered.entry(month.clone()).or_default();
        *number += 1;
        let code = format!("QC-{month}-{number:04}");
        let ts = self.next_ts();
        self.vouchers.push(StoredVoucher {
            received_at: chrono::Utc::now(),
            id: self.last_voucher_id,
            code,
            ts,
            audited: false,
            dto,
        });
        true
    }

    /// The next row version.
    pub fn next_ts(&mut self) -> u64 {
        self.last_ts += 1;
        self.last_ts
    }

    /// Every stored voucher, in arrival order.
    pub fn stored_vouchers(&self) -> &[StoredVoucher] {
        &self.vouchers
    }

    pub fn voucher_mut(
        &mut self,
        pick: impl Fn(&StoredVoucher) -> bool,
    ) -> Option<&mut StoredVoucher> {
        self.vouchers.iter_mut().find(|v| pick(v))
    }

    /// Removes the voucher with this ExternalCode (as if deleted in T+): the code is free
    /// again. `false` if there was none.
    pub fn delete_voucher(&mut self, external_code: &str) -> bool {
        if !self.codes.remove(external_code) {
            return false;
        }
        self.vouchers
            .retain(|v| v.dto["ExternalCode"].as_str() != Some(external_code));
        true
    }
}

/// Shared simulator state. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub credentials: Arc<Credentials>,
    /// Offset of JST local time from UTC (for "yesterday" in generated data).
    pub utc_offset_minutes: i32,
    data: Arc<Mutex<Data>>,
}

/// `GET /admin/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// Orders JST shows.
    pub orders: usize,
    /// Orders held back (late commits) that JST does not show yet.
    pub jst_pending_orders: usize,
    pub vouchers: usize,
    pub jst_requests: u64,
    pub tplus_requests: u64,
    /// Requests refused (199/200) for breaking the real rate limits, per app_key.
    pub jst_rate_violations: BTreeMap<String, u64>,
    /// JST answers by code: "0", "10", "100", "140", "199", "200", … or "http502".
    pub jst_requests_by_code: BTreeMap<String, u64>,
    /// Token pairs issued (getInitToken or refreshToken).
    pub jst_token_refreshes: u64,
    pub drift_events: Vec<DriftEvent>,
    /// T+ answers (Create, the reads and refreshToken) by key: an HTTP 200 answer by its T+ code, a
    /// success without code as "200" (Create's `null`, refreshToken's code "200"), a failed
    /// refresh as "40001"; any other status as `http<status>_<code>` ("http400_999",
    /// "http401_50000", "http401_50112"), or `http<status>` when the body has no code
    /// ("http409", "http503"). A timeout-after-commit Create counts as "200" when stored.
    pub tplus_requests_by_code: BTreeMap<String, u64>,
    /// openToken pairs issued by refreshToken.
    pub tplus_token_refreshes: u64,
    /// Vouchers stored under the timeout-after-commit fault (the client most likely saw a
    /// timeout for them).
    pub tplus_committed_late: u64,
}

impl Store {
    pub fn new(cfg: &Config) -> Self {
        let jst = JstState::new(
            cfg.jst.access_token.expose_secret().to_string(),
            cfg.jst.refresh_token.expose_secret().to_string(),
        );
        let tplus = TplusState::new(
            cfg.tplus.open_token.expose_secret().to_string(),
            cfg.tplus.refresh_token.expose_secret().to_string(),
        );
        Self {
            credentials: Arc::new(Credentials {
                jst_app_key: cfg.jst.app_key.clone(),
                jst_app_secret: cfg.jst.app_secret.expose_secret().to_string(),
                tplus_app_key: cfg.tplus.app_key.clone(),
                tplus_app_secret: cfg.tplus.app_secret.expose_secret().to_string(),
            }),
            utc_offset_minutes: cfg.jst.utc_offset_minutes,
            data: Arc::new(Mutex::new(Data {
                book: OrderBook::default(),
                jst,
                tplus,
                vouchers: Vec::new(),
                codes: HashSet::new(),
                last_voucher_id: 0,
                last_ts: 0,
                numbered: BTreeMap::new(),
                jst_requests: 0,
                tplus_requests: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` under the lock. Keep it short and never await inside.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.lock())
    }

    /// Inserts or replaces orders by io_id, each stamped with a new `ts`; orders without an
    /// io_id are skipped (and counted out).
    pub fn upsert_orders(&self, orders: Vec<Value>) -> usize {
        let mut data = self.lock();
        orders
            .into_iter()
            .filter_map(|order| data.book.upsert(order))
            .count()
    }

    /// All orders JST shows now, ascending by io_id (late ones once their instant came).
    pub fn orders(&self) -> Vec<Value> {
        let mut data = self.lock();
        data.book
            .release_due(chrono::Utc::now(), self.utc_offset_minutes);
        data.book.iter().cloned().collect()
    }

    /// Stores a voucher unless its ExternalCode exists; `false` means duplicate.
    pub fn insert_voucher(&self, code: &str, dto: Value) -> bool {
        self.lock().insert_voucher(code, dto)
    }

    /// Counts every request an API receives, whatever its answer.
    pub fn count_request(&self, api: Api) {
        let mut data = self.lock();
        match api {
            Api::Jst => data.jst_requests += 1,
            Api::Tplus => data.tplus_requests += 1,
        }
    }

    pub fn vouchers(&self) -> Vec<StoredVoucher> {
        self.lock().vouchers.clone()
    }

    pub fn stats(&self) -> Stats {
        let mut data = self.lock();
        data.book
            .release_due(chrono::Utc::now(), self.utc_offset_minutes);
        Stats {
            orders: data.book.len(),
            jst_pending_orders: data.book.pending_len(),
            vouchers: data.vouchers.len(),
            jst_requests: data.jst_requests,
            tplus_requests: data.tplus_requests,
            jst_rate_violations: data.jst.violations.clone(),
            jst_requests_by_code: data.jst.requests_by_code.clone(),
            jst_token_refreshes: data.jst.token_refreshes,
            drift_events: data.jst.drift_events.clone(),
            tplus_requests_by_code: data.tplus.requests_by_code.clone(),
            tplus_token_refreshes: data.tplus.token_refreshes,
            tplus_committed_late: data.tplus.committed_late,
        }
    }
}
