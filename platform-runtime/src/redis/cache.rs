//! [`RedisCache`]: cached tool results shared by every replica.

use std::time::Duration;

use super::Redis;
use crate::middleware::{CacheStore, CachedResponse, FailMode, StoreFuture};

/// The response cache in Redis: the same keys as the in-process cache (the tool's name and a
/// SHA-256 of the scope's identity and the canonical arguments, never the arguments), under
/// `{namespace}:cache:`, each set with its time to live. A response larger than
/// `max_entry_bytes` serialized is not stored. The total is Redis's to bound: give it a
/// `maxmemory` and an eviction policy (`allkeys-lru`), as `docs/deploy.md` says.
#[derive(Clone)]
pub struct RedisCache {
    redis: Redis,
    fail: FailMode,
    max_entry_bytes: u64,
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
    pub(super) fn new(redis: Redis, fail: FailMode, max_entry_bytes: u64) -> Self {
        Self {
            redis,
            fail,
            max_entry_bytes,
        }
    }
}

impl CacheStore for RedisCache {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<CachedResponse>> {
        Box::pin(async move {
            let key = self.redis.key("cache", key);
            let bytes: Option<Vec<u8>> = self
                .redis
                .run(|mut connection| async move {
                    redis::cmd("GET")
                        .arg(key)
                        .query_async(&mut connection)
                        .await
                })
                .await?;
            bytes.map(|b| CachedResponse::from_bytes(&b)).transpose()
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
            let key = self.redis.key("cache", &key);
            let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            self.redis
                .run(|mut connection| async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(bytes)
                        .arg("PX")
                        .arg(ttl)
                        .query_async::<()>(&mut connection)
                        .await
                })
                .await
        })
    }

    fn on_failure(&self) -> FailMode {
        self.fail
    }
}
