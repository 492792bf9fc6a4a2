use j2t_config::DateType;
use serde::{Deserialize, Serialize};

/// Business parameters (`biz`) of `/open/orders/out/simple/query`. Unset options are not sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboundQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shop_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_offline_shop: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_begin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Sent as JST's number (0 or 2).
    pub date_type: Option<DateType>,
    pub page_index: u32,
    pub page_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub so_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wms_co_id: Option<i64>,
    /// Rowversion cursor: rows with `ts >= start_ts`, in ts order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ts: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_get_total: Option<bool>,
}

/// One page of outbound orders. Orders stay raw JSON: the mapping decides what matters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundPage {
    pub page_index: u32,
    pub page_size: u32,
    #[serde(default)]
    pub data_count: u64,
    #[serde(default)]
    pub page_count: u64,
    pub has_next: bool,
    #[serde(default)]
    pub datas: Vec<serde_json::Value>,
    /// Orders of this page that are not valid JSON, kept apart so the rest can go on.
    #[serde(skip)]
    pub unreadable: Vec<crate::UnreadableOrder>,
}

impl OutboundPage {
    /// Rows of this answer, readable or not.
    pub fn rows(&self) -> u64 {
        (self.datas.len() + self.unreadable.len()) as u64
    }

    /// The largest rowversion `ts` among its readable rows.
    pub fn max_ts(&self) -> Option<i64> {
        self.datas
            .iter()
            .filter_map(|o| o.get("ts").and_then(serde_json::Value::as_i64))
            .max()
    }
}
