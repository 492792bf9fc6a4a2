//! API tokens in NATS KV: a refresh by any replica is seen by all, and survives restarts.

use async_nats::jetstream::kv;
use futures::future::BoxFuture;
use j2t_upstream::{BoxError, StoredTokens, TokenStore};

pub struct KvTokenStore {
    kv: kv::Store,
    key: String,
}

impl KvTokenStore {
    pub fn new(kv: kv::Store, key: String) -> Self {
        Self { kv, key }
    }
}

impl TokenStore for KvTokenStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<StoredTokens>, BoxError>> {
        Box::pin(async move {
            let Some(bytes) = self.kv.get(&self.key).await? else {
                return Ok(None);
            };
            StoredTokens::from_json(&bytes)
                .map(Some)
                .ok_or_else(|| format!("KV key {} does not hold a token pair", self.key).into())
        })
    }

    fn save<'a>(&'a self, tokens: &'a StoredTokens) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            self.kv.put(&self.key, tokens.to_json().into()).await?;
            Ok(())
        })
    }
}
