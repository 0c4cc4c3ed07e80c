//! Shared stores in Redis (feature `redis`), for servers running as several replicas: rate
//! limits ([`RedisRateLimits`]), the response cache ([`RedisCache`]), legacy sessions'
//! records (which the HTTP transport keeps there) and tasks' records. `[redis] url` in the configuration
//! switches `serve()` to them; see `docs/deploy.md`.
//!
//! One [`Redis`] handle holds one multiplexed connection, shared by every store and request
//! and re-made in the background when it breaks. Every command is bounded by
//! [`RedisOptions::command_timeout`]. When Redis stops answering, the handle logs it once
//! (with what each store does meanwhile: its [`FailMode`]), counts it in
//! `platform_store_failures_total` and `platform_redis_up`, and for a second at a time
//! fails commands at once instead of waiting on a dead connection; one request a second
//! tries again, and the first that succeeds logs the recovery.

mod cache;
mod rate_limit;
mod sessions;
mod tasks;

use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use cache::RedisCache;
pub use rate_limit::RedisRateLimits;
pub(crate) use sessions::RedisSessions;
pub(crate) use tasks::RedisTasks;

use crate::middleware::{FailMode, StoreError};

/// How to reach Redis and name keys there.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// The prefix of every key (`{namespace}:rl:…`, `{namespace}:cache:…`): replicas of one
    /// server share it; servers sharing one Redis each need their own. Default: the
    /// server's name.
    pub namespace: String,
    /// How long connecting may take (default 2 s).
    pub connect_timeout: Duration,
    /// How long one command may take before it counts as a failure (default 500 ms).
    pub command_timeout: Duration,
}

impl RedisOptions {
    /// The defaults, with keys under `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_millis(500),
        }
    }
}

/// Why a Redis handle could not be made. The URL itself is never part of the message (it
/// may hold a password).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RedisError(String);

/// How long commands fail at once after Redis stopped answering, before one is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The longest namespace accepted, in bytes.
const MAX_NAMESPACE_BYTES: usize = 128;

/// A connection to the shared Redis, cheap to clone; see the [module docs](self).
#[derive(Clone)]
pub struct Redis(Arc<Inner>);

struct Inner {
    client: redis::Client,
    /// Made on first use, inside the runtime (making it spawns the reconnecting task).
    manager: tokio::sync::OnceCell<ConnectionManager>,
    options: RedisOptions,
    /// `host:port` (or the socket path), without credentials, for log lines.
    address: String,
    health: Health,
    /// What each store does while Redis fails, for the log line that says it failed.
    modes: Mutex<Vec<(&'static str, FailMode)>>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("address", &self.0.address)
            .field("options", &self.0.options)
            .finish_non_exhaustive()
    }
}

/// Whether Redis answered last time, and when to try again after it did not.
struct Health {
    state: AtomicU8,
    /// Milliseconds after `epoch` before which commands fail at once (while `DOWN`).
    retry_at: AtomicU64,
    epoch: Instant,
}

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

impl Health {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Redis {
    /// A handle for `url` (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS,
    /// `unix:///path`). Nothing is connected until the first command, so this never waits;
    /// a malformed URL is an error.
    pub fn open(url: &str, options: RedisOptions) -> Result<Self, RedisError> {
        if options.namespace.is_empty()
            || options.namespace.len() > MAX_NAMESPACE_BYTES
            || options
                .namespace
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(RedisError(format!(
                "the Redis namespace must be 1 to {MAX_NAMESPACE_BYTES} bytes without spaces or control characters"
            )));
        }
        let address = address(url).ok_or_else(|| {
            RedisError(
                "the Redis URL is not one (expected redis://host:port, rediss://host:port or unix:///path; the value is not shown: it may hold a password)"
                    .into(),
            )
        })?;
        let client = redis::Client::open(url).map_err(|e| {
            RedisError(format!(
                "the Redis URL is not usable ({:?}; the value is not shown: it may hold a password)",
                e.kind()
            ))
        })?;
        Ok(Self(Arc::new(Inner {
            client,
            manager: tokio::sync::OnceCell::new(),
            options,
            address,
            health: Health {
                state: AtomicU8::new(UNKNOWN),
                retry_at: AtomicU64::new(0),
                epoch: Instant::now(),
            },
            modes: Mutex::new(Vec::new()),
        })))
    }

    /// The options the handle was made with.
    pub fn options(&self) -> &RedisOptions {
        &self.0.options
    }

    /// Where Redis is (`host:port`), without credentials.
    pub fn address(&self) -> &str {
        &self.0.address
    }

    /// Rate limits kept in this Redis, doing `fail` while it does not answer.
    pub fn rate_limits(&self, fail: FailMode) -> RedisRateLimits {
        self.note_mode("rate limits", fail);
        RedisRateLimits::new(self.clone(), fail)
    }

    /// A response cache kept in this Redis, doing `fail` while it does not answer, with
    /// this replica's copies of entries bounded at `near_bytes`; a response larger than an
    /// eighth of that serialized is not cached.
    pub fn cache(&self, fail: FailMode, near_bytes: u64) -> RedisCache {
        self.note_mode("the cache", fail);
        RedisCache::new(self.clone(), fail, near_bytes / 8, near_bytes)
    }

    /// Whether Redis answers a `PING` now (within the command timeout).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(drop)
    }

    pub(crate) fn note_mode(&self, store: &'static str, fail: FailMode) {
        let mut modes = self.0.modes.lock().unwrap_or_else(|e| e.into_inner());
        modes.retain(|(s, _)| *s != store);
        modes.push((store, fail));
    }

    /// `{namespace}:{kind}:{rest}`.
    pub(crate) fn key(&self, kind: &str, rest: &str) -> String {
        let namespace = &self.0.options.namespace;
        let mut key = String::with_capacity(namespace.len() + kind.len() + rest.len() + 2);
        key.push_str(namespace);
        key.push(':');
        key.push_str(kind);
        key.push(':');
        key.push_str(rest);
        key
    }

    /// `SET key value PX ttl`.
    pub(crate) async fn set_expiring(
        &self,
        key: String,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let ttl = ttl_millis(ttl);
        self.run(|mut connection| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl)
                .query_async::<()>(&mut connection)
                .await
        })
        .await
    }

    /// Run one command (or script) on the shared connection, bounded in time, keeping the
    /// health state and its log lines.
    pub(crate) async fn run<T, F, Fut>(&self, command: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let inner = &*self.0;
        let health = &inner.health;
        if health.state.load(Ordering::Acquire) == DOWN {
            // While down, one caller a second tries again; the rest fail at once.
            let now = health.now();
            let retry_at = health.retry_at.load(Ordering::Acquire);
            if now < retry_at
                || health
                    .retry_at
                    .compare_exchange(
                        retry_at,
                        now + millis(RETRY_AFTER_FAILURE),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_err()
            {
                return Err(StoreError(format!(
                    "Redis at {} is not answering",
                    inner.address
                )));
            }
        }
        let timeout = inner.options.command_timeout;
        let outcome = tokio::time::timeout(timeout, async {
            let manager = inner
                .manager
                .get_or_try_init(|| async {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(inner.options.connect_timeout))
                        .set_response_timeout(Some(inner.options.command_timeout))
                        .set_number_of_retries(1)
                        .set_max_delay(RETRY_AFTER_FAILURE);
                    ConnectionManager::new_lazy_with_config(inner.client.clone(), config)
                })
                .await?
                .clone();
            command(manager).await
        })
        .await;
        match outcome {
            Ok(Ok(value)) => {
                self.answered();
                Ok(value)
            }
            Ok(Err(error)) => {
                // A script error or a wrong type is Redis answering: not an outage.
                if error.is_io_error()
                    || error.is_timeout()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                {
                    self.failed(&error.to_string());
                } else {
                    self.answered();
                }
                Err(StoreError(format!("Redis at {}: {error}", inner.address)))
            }
            Err(_) => {
                let why = format!("no answer within {}", platform_duration::format(timeout));
                self.failed(&why);
                Err(StoreError(format!("Redis at {}: {why}", inner.address)))
            }
        }
    }

    fn answered(&self) {
        let inner = &*self.0;
        let previous = inner.health.state.swap(UP, Ordering::AcqRel);
        match previous {
            UP => {}
            DOWN => {
                crate::metrics::redis_up(true);
                tracing::info!(
                    redis = %inner.address,
                    "Redis answers again; the shared stores are back in use"
                );
            }
            _ => {
                crate::metrics::redis_up(true);
                tracing::info!(redis = %inner.address, namespace = %inner.options.namespace, "connected to Redis");
            }
        }
    }

    fn failed(&self, why: &str) {
        let inner = &*self.0;
        let health = &inner.health;
        health.retry_at.store(
            health.now() + millis(RETRY_AFTER_FAILURE),
            Ordering::Release,
        );
        let previous = health.state.swap(DOWN, Ordering::AcqRel);
        if previous == DOWN {
            tracing::debug!(redis = %inner.address, why, "Redis still not answering");
            return;
        }
        if previous == UP {
            crate::metrics::redis_up(false);
        }
        let modes = inner.modes.lock().unwrap_or_else(|e| e.into_inner());
        let meanwhile = modes
            .iter()
            .map(|(store, mode)| {
                format!(
                    "{store}: fail {} ({})",
                    mode.as_str(),
                    match mode {
                        FailMode::Open => "requests served without it",
                        FailMode::Closed => "requests refused",
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        tracing::error!(
            redis = %inner.address,
            why,
            "Redis is not answering (tried again every second); meanwhile {meanwhile}"
        );
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A time to live in whole milliseconds, at least 1 (Redis refuses `PX 0`).
fn ttl_millis(ttl: Duration) -> u64 {
    millis(ttl).max(1)
}

/// `host:port` or the socket path of a Redis URL, without credentials; `None` if it is not
/// one.
fn address(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.scheme() {
        "redis" | "rediss" | "valkey" | "valkeys" => {
            let host = parsed.host_str().filter(|h| !h.is_empty())?;
            Some(format!("{host}:{}", parsed.port().unwrap_or(6379)))
        }
        "unix" | "redis+unix" => Some(parsed.path().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_never_carry_credentials() {
        assert_eq!(
            address("redis://user:hunter2@cache.internal:6380/2").as_deref(),
            Some("cache.internal:6380")
        );
        assert_eq!(
            address("rediss://cache.internal").as_deref(),
            Some("cache.internal:6379")
        );
        assert_eq!(
            address("unix:///run/redis.sock").as_deref(),
            Some("/run/redis.sock")
        );
        assert_eq!(address("http://cache.internal"), None);
        assert_eq!(address("cache.internal:6379"), None);
        let error = Redis::open("redis://:hunter2@", RedisOptions::new("x")).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn namespaces_are_bounded() {
        for bad in ["", "a b", &"n".repeat(129)] {
            assert!(Redis::open("redis://127.0.0.1", RedisOptions::new(bad)).is_err());
        }
        let redis = Redis::open("redis://127.0.0.1", RedisOptions::new("weather")).unwrap();
        assert_eq!(redis.key("rl", "x"), "weather:rl:x");
    }

    #[tokio::test]
    async fn a_dead_redis_fails_fast_and_says_so() {
        // Port 1 on loopback: nothing listens, the connection is refused.
        let redis = Redis::open("redis://127.0.0.1:1", RedisOptions::new("t")).unwrap();
        let first = redis.ping().await.unwrap_err();
        assert!(first.0.contains("127.0.0.1:1"), "{first}");
        // Within the retry window, commands fail without trying.
        let second = redis.ping().await.unwrap_err();
        assert!(second.0.contains("not answering"), "{second}");
    }
}
