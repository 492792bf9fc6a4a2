//! T+ as the source of the master-data copy: `warehouse/Query` and `inventory/Query`, every
//! page, through the client every service builds alike (tokens in NATS KV, shared limiter).

use futures::future::BoxFuture;
use j2t_tplus::TplusClient;

use crate::master_data::{Codes, ReadFailed, Source};

pub struct TplusSource(pub TplusClient);

impl Source for TplusSource {
    fn read(&self) -> BoxFuture<'_, Result<Codes, ReadFailed>> {
        Box::pin(async move {
            let warehouses = self
                .0
                .warehouses()
                .await
                .map_err(|e| ReadFailed(format!("warehouse/Query: {e}")))?;
            let inventories = self
                .0
                .inventories()
                .await
                .map_err(|e| ReadFailed(format!("inventory/Query: {e}")))?;
            Ok(Codes {
                warehouses: warehouses.into_iter().map(|r| r.code).collect(),
                inventories: inventories.into_iter().map(|r| r.code).collect(),
            })
        })
    }
}
