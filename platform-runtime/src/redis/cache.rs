//! [`RedisCache`]: cached tool results shared by every replica.

use std::time::Duration;

use super::Redis;
use crate::middleware::{CacheStore, CachedResponse, FailMode, InProcessCache, StoreFuture};

/// The response cache in Redis: the same keys as the in-process cache (the tool's name and a
/// SHA-256 of the scope's identity and the canonical arguments, never the arguments), under
/// `{namespace}:cache:`, each set with its time to live. A response larger than
/// `max_entry_bytes` serialized is not stored. The total is Redis's to bound: give it a
/// `maxmemory` and an eviction policy (`allkeys-lru`), as `docs/deploy.md` says.
///
/// Each replica also keeps the entries it has written or read in process (bounded in bytes,
/// like the in-process cache) until the moment they expire in Redis: an entry never changes
/// before it expires, so a replica's copy answers exactly as Redis would, without the round
/// trip. A hit on another replica's result costs one `GET` the first time.
#[derive(Clone)]
pub struct RedisCache {
    redis: Redis,
    fail: FailMode,
    max_entry_bytes: u64,
    near: std::sync::Arc<InProcessCache>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("redis", &self.redis)
            .field("fail", &self.fail)
            .field("max_entry_bytes", &self.max_entry_bytes)
            .finish()
    }
}

impl RedisCache {
    /// `near_bytes`: the bound of the replica's own copies.
    pub(super) fn new(redis: Redis, fail: FailMode, max_entry_bytes: u64, near_bytes: u64) -> Self {
        Self {
            redis,
            fail,
            max_entry_bytes,
            near: std::sync::Arc::new(InProcessCache::with_max_bytes(near_bytes)),
        }
    }
}

impl CacheStore for RedisCache {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<CachedResponse>> {
        Box::pin(async move {
            if let Some(hit) = self.near.get(key).await? {
                return Ok(Some(hit));
            }
            let redis_key = self.redis.key("cache", key);
            // The value and how long it has left, in one round trip.
            let (bytes, left): (Option<Vec<u8>>, i64) = self
                .redis
                .run(|mut connection| async move {
                    redis::pipe()
                        .cmd("GET")
                        .arg(&redis_key)
                        .cmd("PTTL")
                        .arg(&redis_key)
                        .query_async(&mut connection)
                        .await
                })
                .await?;
            let Some(bytes) = bytes else {
                return Ok(None);
            };
            let response = CachedResponse::from_bytes(&bytes)?;
            if let Ok(left) = u64::try_from(left)
                && left > 0
            {
                self.near
                    .put(
                        key.to_owned(),
                        response.clone(),
                        Duration::from_millis(left),
                    )
                    .await?;
            }
            Ok(Some(response))
        })
    }

    fn put<'a>(&'a self, key: String, value: CachedResponse, ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let bytes = value.to_bytes();
            if bytes.len() as u64 > self.max_entry_bytes {
                tracing::debug!(
                    bytes = bytes.len(),
                    max = self.max_entry_bytes,
                    "response too large to cache"
                );
                return Ok(());
            }
            self.near.put(key.clone(), value, ttl).await?;
            self.redis
                .set_expiring(self.redis.key("cache", &key), bytes, ttl)
                .await
        })
    }

    fn on_failure(&self) -> FailMode {
        self.fail
    }
}
