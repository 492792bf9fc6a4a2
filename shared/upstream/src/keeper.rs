//! The current token pair of one app, shared by all its requests: read it, and replace it
//! once it is refused — with a pair another task or replica already obtained (the store),
//! or else by calling the API's refresh endpoint (one refresh at a time per process).

use std::future::Future;
use std::sync::{Arc, RwLock};

use futures::lock::Mutex;
use secrecy::{ExposeSecret, SecretString};

use crate::{BoxError, TokenStore, Tokens};

/// Why tokens could not be renewed: the store failed, or the refresh call did.
#[derive(Debug)]
pub enum RenewError<E> {
    Store(BoxError),
    Refresh(E),
}

pub struct TokenKeeper {
    tokens: RwLock<Tokens>,
    refreshing: Mutex<()>,
    store: Option<Arc<dyn TokenStore>>,
}

impl TokenKeeper {
    pub fn new(initial: Tokens, store: Option<Arc<dyn TokenStore>>) -> Self {
        Self {
            tokens: RwLock::new(initial),
            refreshing: Mutex::new(()),
            store,
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

    /// Adopts the stored pair, if there is one (newer than the configured pair once anyone
    /// refreshed). Returns whether it did.
    pub async fn load_stored(&self) -> Result<bool, BoxError> {
        let Some(store) = &self.store else {
            return Ok(false);
        };
        Ok(store.load().await?.map(|t| self.set(t)).is_some())
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
            && !stored.same_access(stale)
        {
            self.set(stored);
            return Ok(false);
        }
        let refresh_token = SecretString::from(stale.refresh_token.expose_secret());
        let fresh = refresh(refresh_token).await.map_err(RenewError::Refresh)?;
        self.set(fresh.clone());
        if let Some(store) = &self.store {
            store.save(&fresh).await.map_err(RenewError::Store)?;
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
    struct MemoryStore(StdMutex<Option<Tokens>>);

    impl TokenStore for MemoryStore {
        fn load(&self) -> BoxFuture<'_, Result<Option<Tokens>, BoxError>> {
            let stored = self.0.lock().map(|t| t.clone()).unwrap_or_default();
            Box::pin(async move { Ok(stored) })
        }
        fn save<'a>(&'a self, tokens: &'a Tokens) -> BoxFuture<'a, Result<(), BoxError>> {
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
            .map(|t| access(&t));
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
}
