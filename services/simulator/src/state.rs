use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use j2t_config::{Config, ExposeSecret};
use serde::Serialize;
use serde_json::Value;

/// Credentials the simulated apps accept (taken from the same config the services use).
#[derive(Clone)]
pub struct Credentials {
    pub jst_app_key: String,
    pub jst_app_secret: String,
    pub jst_access_token: String,
    pub tplus_app_key: String,
    pub tplus_app_secret: String,
    pub tplus_open_token: String,
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
    pub dto: Value,
}

#[derive(Default)]
struct Data {
    /// JST outbound orders by io_id.
    orders: BTreeMap<i64, Value>,
    vouchers: Vec<StoredVoucher>,
    codes: HashSet<String>,
    jst_requests: u64,
    tplus_requests: u64,
}

/// Shared simulator state. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub credentials: Arc<Credentials>,
    /// Offset of JST local time from UTC (for "yesterday" in generated data).
    pub utc_offset_minutes: i32,
    data: Arc<Mutex<Data>>,
}

#[derive(Debug, Serialize)]
pub struct Stats {
    pub orders: usize,
    pub vouchers: usize,
    pub jst_requests: u64,
    pub tplus_requests: u64,
}

impl Store {
    pub fn new(cfg: &Config) -> Self {
        Self {
            credentials: Arc::new(Credentials {
                jst_app_key: cfg.jst.app_key.clone(),
                jst_app_secret: cfg.jst.app_secret.expose_secret().to_string(),
                jst_access_token: cfg.jst.access_token.expose_secret().to_string(),
                tplus_app_key: cfg.tplus.app_key.clone(),
                tplus_app_secret: cfg.tplus.app_secret.expose_secret().to_string(),
                tplus_open_token: cfg.tplus.open_token.expose_secret().to_string(),
            }),
            utc_offset_minutes: cfg.jst.utc_offset_minutes,
            data: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts or replaces orders by io_id; orders without one are skipped (and counted out).
    pub fn upsert_orders(&self, orders: Vec<Value>) -> usize {
        let mut data = self.lock();
        let mut stored = 0;
        for order in orders {
            if let Some(io_id) = j2t_domain::io_id_of(&order) {
                data.orders.insert(io_id, order);
                stored += 1;
            }
        }
        stored
    }

    pub fn orders(&self) -> Vec<Value> {
        self.lock().orders.values().cloned().collect()
    }

    /// Orders matching `keep`, ascending by io_id.
    pub fn select_orders(&self, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.lock()
            .orders
            .values()
            .filter(|o| keep(o))
            .cloned()
            .collect()
    }

    /// Stores a voucher unless its ExternalCode exists; `false` means duplicate.
    pub fn insert_voucher(&self, code: &str, dto: Value) -> bool {
        let mut data = self.lock();
        if !data.codes.insert(code.to_string()) {
            return false;
        }
        data.vouchers.push(StoredVoucher {
            received_at: chrono::Utc::now(),
            dto,
        });
        true
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
        let data = self.lock();
        Stats {
            orders: data.orders.len(),
            vouchers: data.vouchers.len(),
            jst_requests: data.jst_requests,
            tplus_requests: data.tplus_requests,
        }
    }
}
