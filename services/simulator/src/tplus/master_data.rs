//! The warehouses and inventories (存货) T+ knows. A voucher naming an unknown one is refused
//! (HTTP 400, code 999) until the code is added: a permanent error for that voucher, which the
//! writer must dead-letter and replay after the master data is fixed. The simulator starts
//! with the demo catalog, so demo orders go through.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::dto;
use crate::demo_data;

/// `GET /admin/tplus/master-data`; the sets serialize as sorted arrays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterData {
    pub warehouses: BTreeSet<String>,
    pub inventories: BTreeSet<String>,
}

/// Which list an admin call changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Warehouse,
    Inventory,
}

impl MasterData {
    /// The demo catalog: its warehouses and SKUs.
    pub fn demo() -> Self {
        Self {
            warehouses: demo_data::warehouse_codes().collect(),
            inventories: demo_data::inventory_codes().map(String::from).collect(),
        }
    }

    fn codes_mut(&mut self, kind: Kind) -> &mut BTreeSet<String> {
        match kind {
            Kind::Warehouse => &mut self.warehouses,
            Kind::Inventory => &mut self.inventories,
        }
    }

    /// Adds codes; returns how many were new.
    pub fn add(&mut self, kind: Kind, codes: Vec<String>) -> usize {
        let set = self.codes_mut(kind);
        codes.into_iter().filter(|c| set.insert(c.clone())).count()
    }

    /// `false` if the code was not there.
    pub fn remove(&mut self, kind: Kind, code: &str) -> bool {
        self.codes_mut(kind).remove(code)
    }

    /// The warehouse first, then the lines in order: the first unknown code is the error.
    pub fn check(&self, dto: &Value) -> Result<(), String> {
        let warehouse = dto::warehouse_code(dto);
        if !self.warehouses.contains(warehouse) {
            return Err(format!("仓库[{warehouse}]不存在"));
        }
        for (i, code) in dto::inventory_codes(dto).enumerate() {
            if !self.inventories.contains(code) {
                return Err(format!("第{}行存货[{code}]不存在", i + 1));
            }
        }
        Ok(())
    }
}

/// Codes an admin call may add: non-empty, without surrounding spaces (T+ codes are exact).
pub fn validate_codes(codes: &[String]) -> Result<(), String> {
    match codes
        .iter()
        .find(|c| c.is_empty() || c.trim() != c.as_str())
    {
        Some(bad) => Err(format!(
            "codes must be non-empty without surrounding spaces, got {bad:?}"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dto(warehouse: &str, skus: &[&str]) -> Value {
        let lines: Vec<Value> = skus
            .iter()
            .map(|s| json!({"Inventory": {"Code": s}, "BaseQuantity": 1}))
            .collect();
        json!({"Warehouse": {"Code": warehouse}, "RDRecordDetails": lines})
    }

    #[test]
    fn the_demo_catalog_is_known() {
        let master = MasterData::demo();
        assert_eq!(master.warehouses, BTreeSet::from(["1".into(), "2".into()]));
        assert_eq!(master.inventories.len(), 12);
        assert!(
            master
                .check(&dto("2", &["SKU-TEA-001", "SKU-MAT-002"]))
                .is_ok()
        );
    }

    #[test]
    fn the_first_unknown_code_is_named() {
        let mut master = MasterData::demo();
        assert_eq!(
            master.check(&dto("9", &["NEW-1"])),
            Err("仓库[9]不存在".into())
        );
        assert_eq!(
            master.check(&dto("1", &["SKU-TEA-001", "NEW-1", "NEW-2"])),
            Err("第2行存货[NEW-1]不存在".into())
        );
        assert_eq!(
            master.add(Kind::Inventory, vec!["NEW-1".into(), "SKU-TEA-001".into()]),
            1
        );
        assert_eq!(
            master.check(&dto("1", &["SKU-TEA-001", "NEW-1", "NEW-2"])),
            Err("第3行存货[NEW-2]不存在".into())
        );
        assert!(master.remove(Kind::Inventory, "NEW-1"));
        assert!(!master.remove(Kind::Inventory, "NEW-1"));
        assert_eq!(master.add(Kind::Warehouse, vec!["9".into()]), 1);
        assert!(master.check(&dto("9", &["SKU-TEA-001"])).is_ok());
    }

    #[test]
    fn blank_or_padded_codes_are_refused() {
        assert!(validate_codes(&["A".into(), "B-1".into()]).is_ok());
        assert!(validate_codes(&["".into()]).is_err());
        assert!(validate_codes(&[" A".into()]).is_err());
    }
}
