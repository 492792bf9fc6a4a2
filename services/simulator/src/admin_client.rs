//! Client of the admin API, for the demo and the tests.

use serde_json::Value;

use crate::{
    ClosedPeriod, DemoSpec, EXPIRE_TOKEN_PATH, FAULTS_PATH, JstFaults, LATE_ORDERS_PATH,
    LateOrders, MasterData, ORDERS_PATH, OrderChange, Reply, Stats, TPLUS_CLOSED_PERIOD_PATH,
    TPLUS_DUPLICATE_REPLY_PATH, TPLUS_EXPIRE_TOKEN_PATH, TPLUS_FAULTS_PATH, TPLUS_INVENTORIES_PATH,
    TPLUS_MASTER_DATA_PATH, TPLUS_VOUCHER_LIST_PATH, TPLUS_VOUCHERS_PATH, TPLUS_WAREHOUSES_PATH,
    TplusFaults, VoucherListKnobs,
};

#[derive(Clone)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// `base`: either simulator port, e.g. `http://127.0.0.1:8081`.
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> reqwest::Result<T> {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }

    async fn post(&self, path: &str, body: &impl serde::Serialize) -> reqwest::Result<Value> {
        self.http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
    }

    async fn put(&self, path: &str, body: &impl serde::Serialize) -> reqwest::Result<()> {
        self.http
            .put(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// POSTs without a body, expecting a success status.
    async fn trigger(&self, path: &str) -> reqwest::Result<()> {
        self.http
            .post(format!("{}{path}", self.base))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Generates demo orders in the simulated JST; returns how many were stored.
    pub async fn seed(&self, spec: &DemoSpec) -> reqwest::Result<u64> {
        Ok(self.post("/admin/jst/seed", spec).await?["stored"]
            .as_u64()
            .unwrap_or(0))
    }

    pub async fn add_orders(&self, orders: &[Value]) -> reqwest::Result<Value> {
        self.post("/admin/jst/orders", &orders).await
    }

    /// The orders JST shows now (late ones only once visible), ascending by io_id.
    pub async fn orders(&self) -> reqwest::Result<Vec<Value>> {
        Ok(array(self.get("/admin/jst/orders").await?))
    }

    /// Adds orders JST shows only `delay` from now (a late commit): then each is written with
    /// `modified` = that instant and a fresh `ts`, its `io_date` unchanged. Returns how many
    /// were held.
    pub async fn add_late_orders(
        &self,
        orders: &[Value],
        delay: std::time::Duration,
    ) -> reqwest::Result<u64> {
        let late = LateOrders {
            orders: orders.to_vec(),
            visible_at: None,
            delay_ms: Some(delay.as_millis() as u64),
        };
        Ok(self.post(LATE_ORDERS_PATH, &late).await?["held"]
            .as_u64()
            .unwrap_or(0))
    }

    /// Adds orders JST shows only from `at` on (see [`Self::add_late_orders`]).
    pub async fn add_orders_visible_at(
        &self,
        orders: &[Value],
        at: chrono::DateTime<chrono::Utc>,
    ) -> reqwest::Result<u64> {
        let late = LateOrders {
            orders: orders.to_vec(),
            visible_at: Some(at),
            delay_ms: None,
        };
        Ok(self.post(LATE_ORDERS_PATH, &late).await?["held"]
            .as_u64()
            .unwrap_or(0))
    }

    /// Changes a visible order as JST would after shipping (new status, lines, quantities),
    /// with `modified` = now unless the change gives one, and a fresh `ts`. Returns the order
    /// as it is now, `None` if JST shows no such order; a change that does not fit the
    /// order (a SKU it lacks) is an HTTP 400 error.
    pub async fn change_order(
        &self,
        io_id: i64,
        change: &OrderChange,
    ) -> reqwest::Result<Option<Value>> {
        let response = self
            .http
            .post(format!("{}{ORDERS_PATH}/{io_id}/change", self.base))
            .json(change)
            .send()
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(response.error_for_status()?.json().await?))
    }

    /// Moves an order to `status` (e.g. `Archive`, or `Cancelled`: shipment revoked).
    pub async fn set_order_status(
        &self,
        io_id: i64,
        status: &str,
    ) -> reqwest::Result<Option<Value>> {
        self.change_order(io_id, &OrderChange::status(status)).await
    }

    /// Revokes an order's shipment (`Cancelled`, 取消).
    pub async fn cancel_order(&self, io_id: i64) -> reqwest::Result<Option<Value>> {
        self.set_order_status(io_id, "Cancelled").await
    }

    /// Sets the quantity of an order's lines of `sku_id` (0 drops them).
    pub async fn set_order_qty(
        &self,
        io_id: i64,
        sku_id: &str,
        qty: i64,
    ) -> reqwest::Result<Option<Value>> {
        self.change_order(io_id, &OrderChange::qty(sku_id, qty))
            .await
    }

    /// The `dto` of every voucher T+ accepted, in arrival order.
    pub async fn voucher_dtos(&self) -> reqwest::Result<Vec<Value>> {
        Ok(array(self.get("/admin/tplus/vouchers").await?)
            .into_iter()
            .map(|mut v| v["dto"].take())
            .collect())
    }

    pub async fn stats(&self) -> reqwest::Result<Stats> {
        self.get("/admin/stats").await
    }

    /// Replaces all JST fault knobs (and reseeds the fault RNG).
    pub async fn set_jst_faults(&self, faults: &JstFaults) -> reqwest::Result<()> {
        self.put(FAULTS_PATH, faults).await
    }

    pub async fn jst_faults(&self) -> reqwest::Result<JstFaults> {
        self.get(FAULTS_PATH).await
    }

    /// The current JST access token is refused (code 100) until a client refreshes it.
    pub async fn expire_jst_token(&self) -> reqwest::Result<()> {
        self.trigger(EXPIRE_TOKEN_PATH).await
    }

    /// Replaces the JST app's token pair (as re-authorising the app does).
    pub async fn set_jst_tokens(&self, access: &str, refresh: &str) -> reqwest::Result<()> {
        self.put(crate::TOKENS_PATH, &pair(access, refresh)).await
    }

    /// Replaces the T+ app's token pair (as re-authorising the app does).
    pub async fn set_tplus_tokens(&self, open: &str, refresh: &str) -> reqwest::Result<()> {
        self.put(crate::TPLUS_TOKENS_PATH, &pair(open, refresh))
            .await
    }

    /// Replaces all T+ fault knobs (and reseeds the fault RNG).
    pub async fn set_tplus_faults(&self, faults: &TplusFaults) -> reqwest::Result<()> {
        self.put(TPLUS_FAULTS_PATH, faults).await
    }

    pub async fn tplus_faults(&self) -> reqwest::Result<TplusFaults> {
        self.get(TPLUS_FAULTS_PATH).await
    }

    /// The current T+ openToken is refused (HTTP 401, code 50000) until a client refreshes it.
    pub async fn expire_tplus_token(&self) -> reqwest::Result<()> {
        self.trigger(TPLUS_EXPIRE_TOKEN_PATH).await
    }

    /// The warehouse and inventory codes the simulated T+ knows, sorted.
    pub async fn tplus_master_data(&self) -> reqwest::Result<MasterData> {
        self.get(TPLUS_MASTER_DATA_PATH).await
    }

    /// Adds T+ inventory codes; returns how many were new.
    pub async fn add_inventories(&self, codes: &[&str]) -> reqwest::Result<u64> {
        Ok(self.post(TPLUS_INVENTORIES_PATH, &codes).await?["added"]
            .as_u64()
            .unwrap_or(0))
    }

    /// Adds T+ warehouse codes; returns how many were new.
    pub async fn add_warehouses(&self, codes: &[&str]) -> reqwest::Result<u64> {
        Ok(self.post(TPLUS_WAREHOUSES_PATH, &codes).await?["added"]
            .as_u64()
            .unwrap_or(0))
    }

    /// Removes a T+ inventory code; `false` if it was not there.
    pub async fn remove_inventory(&self, code: &str) -> reqwest::Result<bool> {
        self.delete(TPLUS_INVENTORIES_PATH, code).await
    }

    /// Removes a T+ warehouse code; `false` if it was not there.
    pub async fn remove_warehouse(&self, code: &str) -> reqwest::Result<bool> {
        self.delete(TPLUS_WAREHOUSES_PATH, code).await
    }

    /// Every voucher the simulated T+ holds, as the admin API lists it (`id`, `code`, `ts`,
    /// `audited`, `received_at`, `dto`), in arrival order.
    pub async fn tplus_vouchers(&self) -> reqwest::Result<Vec<Value>> {
        Ok(array(self.get(TPLUS_VOUCHERS_PATH).await?))
    }

    /// Deletes the voucher with this ExternalCode from the simulated T+ (as a user deleting
    /// it in T+ would); the ExternalCode can be written again. `false` if there was none.
    pub async fn delete_tplus_voucher(&self, external_code: &str) -> reqwest::Result<bool> {
        self.delete(TPLUS_VOUCHERS_PATH, external_code).await
    }

    /// Answers every duplicate ExternalCode with HTTP `status` and `body` instead of the
    /// default (HTTP 400 `{"code":"999","message":"外部单据号[…]已存在"}`).
    pub async fn set_duplicate_reply(&self, status: u16, body: Value) -> reqwest::Result<()> {
        self.put(TPLUS_DUPLICATE_REPLY_PATH, &Reply { status, body })
            .await
    }

    /// Back to the default duplicate reply.
    pub async fn reset_duplicate_reply(&self) -> reqwest::Result<()> {
        self.delete_all(TPLUS_DUPLICATE_REPLY_PATH).await
    }

    /// Refuses vouchers dated on or before `through`: with `reply`, or by default HTTP 400
    /// `{"code":"999","message":"单据日期[<date>]所在会计期间已结账"}`.
    pub async fn close_period(
        &self,
        through: chrono::NaiveDate,
        reply: Option<Reply>,
    ) -> reqwest::Result<()> {
        self.put(TPLUS_CLOSED_PERIOD_PATH, &ClosedPeriod { through, reply })
            .await
    }

    /// Every accounting period open again.
    pub async fn open_periods(&self) -> reqwest::Result<()> {
        self.delete_all(TPLUS_CLOSED_PERIOD_PATH).await
    }

    /// How FindVoucherList answers (shape, order, filter key).
    pub async fn set_voucher_list(&self, knobs: &VoucherListKnobs) -> reqwest::Result<()> {
        self.put(TPLUS_VOUCHER_LIST_PATH, knobs).await
    }

    /// DELETE `path` itself, expecting a success status.
    async fn delete_all(&self, path: &str) -> reqwest::Result<()> {
        self.http
            .delete(format!("{}{path}", self.base))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// DELETE `{path}/{code}`: `true` on success, `false` on 404.
    async fn delete(&self, path: &str, code: &str) -> reqwest::Result<bool> {
        let response = self
            .http
            .delete(format!("{}{path}/{}", self.base, encode_segment(code)))
            .send()
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(false);
        }
        response.error_for_status()?;
        Ok(true)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so any code (with `/`,
/// spaces or Chinese) stays one path segment.
fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

fn pair(access: &str, refresh: &str) -> crate::NewPair {
    crate::NewPair {
        access_token: access.to_string(),
        refresh_token: refresh.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_unreserved_characters_and_encode_the_rest() {
        assert_eq!(encode_segment("SKU-TEA_001.a~"), "SKU-TEA_001.a~");
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_segment("茶"), "%E8%8C%B6");
    }
}
