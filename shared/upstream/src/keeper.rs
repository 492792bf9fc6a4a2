//! The current token pair of one app, shared by all its requests: read it, and replace it
//! once it is refused — with a pair another task or replica already obtained (the store),
//! or else by calling the API's refresh endpoint (one refresh at a time per process).
//! A stored pair descending from another configured pair than this process's is replaced
//! by the configured one: the operator rotated the credentials.

use std::future::Future;
use std::sync::{Arc, RwLock};

use futures::lock::Mutex;
use secrecy::{ExposeSecret, SecretString};

use crate::{BoxError, StoredTokens, TokenStore, Tokens};

/// Why tokens could not be renewed: the store failed, or the refresh call did.
#[derive(Debug)]
pub enum RenewError<E> {
    Store(BoxError),
    Refresh(E),
}

/// What [`TokenKeeper::load_stored`] found in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// No store, or nothing stored yet: the configured pair is used.
    Nothing,
    /// The stored pair descends from the configured pair (or predates fingerprints): used.
    Adopted,
    /// The stored pair descends from another configured pair: the operator configured a
    /// new one, which replaced it in the store.
    Replaced,
}

pub struct TokenKeeper {
    tokens: RwLock<Tokens>,
    refreshing: Mutex<()>,
    store: Option<Arc<dyn TokenStore>>,
    /// Fingerprint of the configured pair, stored beside every pair this process saves.
    configured: String,
}

impl TokenKeeper {
    pub fn new(initial: Tokens, store: Option<Arc<dyn TokenStore>>) -> Self {
        Self {
            configured: initial.fingerprint(),
            tokens: RwLock::new(initial),
            refreshing: Mutex::new(()),
            store,
        }
    }

    fn stored(&self, tokens: Tokens) -> StoredTokens {
        StoredTokens {
            tokens,
            configured: Some(self.configured.clone()),
        }
    }

    pub fn current(&self) -> Tokens {
        self.tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, tokens: Tokens) {
        *self.tokens.write().unwrap_or_else(|e| e.into_inner()) = tokens;
    }

    /// Adopts the stored pair (newer than the configured pair once anyone refreshed) —
    /// unless it descends from another configured pair: then the configured pair replaces
    /// it in the store. A record without fingerprint (older versions) is adopted and keeps
    /// its place until the next refresh stamps it.
    pub async fn load_stored(&self) -> Result<Loaded, BoxError> {
        let Some(store) = &self.store else {
            return Ok(Loaded::Nothing);
        };
        let _one_at_a_time = self.refreshing.lock().await;
        match store.load().await? {
            None => Ok(Loaded::Nothing),
            Some(stored)
                if stored
                    .configured
                    .as_deref()
                    .is_none_or(|f| f == self.configured) =>
            {
                self.set(stored.tokens);
                Ok(Loaded::Adopted)
            }
            Some(_) => {
                store.save(&self.stored(self.current())).await?;
                Ok(Loaded::Replaced)
            }
        }
    }

    /// Replaces `stale` (the pair a refused request used) with a newer pair. `refresh` is
    /// called with the refresh token only when neither this process nor the store has a
    /// newer pair already; its pair is saved to the store. Returns whether it was called.
    pub async fn renew<F, Fut, E>(&self, stale: &Tokens, refresh: F) -> Result<bool, RenewError<E>>
    where
        F: FnOnce(SecretString) -> Fut,
        Fut: Future<Output = Result<Tokens, E>>,
    {
        let _one_at_a_time = self.refreshing.lock().await;
        if !self.current().same_access(stale) {
            return Ok(false);
        }
        if let Some(store) = &self.store
            && let Some(stored) = store.load().await.map_err(RenewError::Store)?
            && !stored.tokens.same_access(stale)
        {
            self.set(stored.tokens);
            return Ok(false);
        }
        let refresh_token = SecretString::from(stale.refresh_token.expose_secret());
        let fresh = refresh(refresh_token).await.map_err(RenewError::Refresh)?;
        self.set(fresh.clone());
        if let Some(store) = &self.store {
            store
                .save(&self.stored(fresh))
                .await
                .map_err(RenewError::Store)?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::future::BoxFuture;

    use super::*;

    #[derive(Default)]
    struct MemoryStore(StdMutex<Option<StoredTokens>>);

    impl TokenStore for MemoryStore {
        fn load(&self) -> BoxFuture<'_, Result<Option<StoredTokens>, BoxError>> {
            let stored = self.0.lock().map(|t| t.clone()).unwrap_or_default();
            Box::pin(async move { Ok(stored) })
        }
        fn save<'a>(&'a self, tokens: &'a StoredTokens) -> BoxFuture<'a, Result<(), BoxError>> {
            if let Ok(mut slot) = self.0.lock() {
                *slot = Some(tokens.clone());
            }
            Box::pin(async { Ok(()) })
        }
    }

    fn access(t: &Tokens) -> String {
        t.access_token.expose_secret().to_string()
    }

    #[tokio::test]
    async fn a_refused_pair_is_refreshed_once_saved_and_others_reuse_it() {
        let store = Arc::new(MemoryStore::default());
        let keeper = TokenKeeper::new(Tokens::new("a1", "r1"), Some(store.clone()));
        let calls = AtomicUsize::new(0);
        let refresh = |rt: SecretString| {
            calls.fetch_add(1, Ordering::Relaxed);
            let used = rt.expose_secret().to_string();
            async move { Ok::<_, ()>(Tokens::new("a2", &format!("{used}-next"))) }
        };
        let stale = keeper.current();
        assert_eq!(keeper.renew(&stale, refresh).await.ok(), Some(true));
        assert_eq!(access(&keeper.current()), "a2");
        let saved = store
            .0
            .lock()
            .ok()
            .and_then(|t| t.clone())
            .map(|t| access(&t.tokens));
        assert_eq!(saved.as_deref(), Some("a2"));
        // A second request that also failed with the old pair does not refresh again.
        assert_eq!(keeper.renew(&stale, refresh).await.ok(), Some(false));
        assert_eq!(calls.load(Ordering::Relaxed), 1);

        // Another replica's keeper, still on the old pair, adopts the stored one.
        let other = TokenKeeper::new(Tokens::new("a1", "r1"), Some(store));
        let never = |_: SecretString| async { Err::<Tokens, _>("must not be called") };
        assert_eq!(other.renew(&stale, never).await.ok(), Some(false));
        assert_eq!(access(&other.current()), "a2");
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_old_pair() {
        let keeper = TokenKeeper::new(Tokens::new("a1", "r1"), None);
        let stale = keeper.current();
        let failing = |_: SecretString| async { Err::<Tokens, _>("refused") };
        assert!(matches!(
            keeper.renew(&stale, failing).await,
            Err(RenewError::Refresh("refused"))
        ));
        assert_eq!(access(&keeper.current()), "a1");
    }

    fn stored_access(store: &MemoryStore) -> Option<String> {
        store
            .0
            .lock()
            .ok()
            .and_then(|t| t.clone())
            .map(|t| access(&t.tokens))
    }

    #[tokio::test]
    async fn a_newly_configured_pair_replaces_the_stored_one_and_an_unchanged_one_does_not() {
        let store = Arc::new(MemoryStore::default());
        let old = TokenKeeper::new(Tokens::new("a1", "r1"), Some(store.clone()));
        assert_eq!(old.load_stored().await.ok(), Some(Loaded::Nothing));
        // The old pair is refreshed: the store holds its descendant.
        let stale = old.current();
        let refresh = |_: SecretString| async { Ok::<_, ()>(Tokens::new("a1-next", "r1-next")) };
        assert_eq!(old.renew(&stale, refresh).await.ok(), Some(true));

        // A restart with the same configuration adopts the refreshed pair.
        let same = TokenKeeper::new(Tokens::new("a1", "r1"), Some(store.clone()));
        assert_eq!(same.load_stored().await.ok(), Some(Loaded::Adopted));
        assert_eq!(access(&same.current()), "a1-next");

        // A restart with a rotated pair uses it, and stores it for everyone else.
        let rotated = TokenKeeper::new(Tokens::new("b1", "s1"), Some(store.clone()));
        assert_eq!(rotated.load_stored().await.ok(), Some(Loaded::Replaced));
        assert_eq!(access(&rotated.current()), "b1");
        assert_eq!(stored_access(&store).as_deref(), Some("b1"));
        // ... and the next start with that configuration adopts what is stored.
        let again = TokenKeeper::new(Tokens::new("b1", "s1"), Some(store.clone()));
        assert_eq!(again.load_stored().await.ok(), Some(Loaded::Adopted));

        // A replica still on the old configuration, refused, adopts the rotated pair.
        let never = |_: SecretString| async { Err::<Tokens, _>("must not be called") };
        assert_eq!(same.renew(&same.current(), never).await.ok(), Some(false));
        assert_eq!(access(&same.current()), "b1");
    }

    #[tokio::test]
    async fn a_record_from_before_fingerprints_is_adopted() {
        let store = Arc::new(MemoryStore(StdMutex::new(Some(StoredTokens {
            tokens: Tokens::new("a-refreshed", "r-refreshed"),
            configured: None,
        }))));
        let keeper = TokenKeeper::new(Tokens::new("a1", "r1"), Some(store));
        assert_eq!(keeper.load_stored().await.ok(), Some(Loaded::Adopted));
        assert_eq!(access(&keeper.current()), "a-refreshed");
    }
}
