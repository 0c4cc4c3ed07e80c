//! [`RedisRateLimits`]: GCRA in one round trip, a Lua script keeping one theoretical arrival
//! time per partition, on Redis's clock so replicas need not agree on theirs.

use std::sync::LazyLock;

use super::Redis;
use crate::middleware::policy::RateLimit;
use crate::middleware::{FailMode, RateDecision, RateLimitStore, StoreFuture};

/// GCRA, as the in-process limiter (governor) computes it: `interval` is the time one call
/// costs, `tolerance` the burst beyond the first (`interval × (burst − 1)`), both in µs. A
/// call is allowed if now ≥ TAT − tolerance, and moves TAT to max(TAT, now) + interval;
/// otherwise it waits TAT − tolerance − now. The key expires when its TAT has passed (a full
/// budget needs no state). Numbers stay below 2^53 (µs since 1970), exact in Lua's doubles,
/// and are written with `%.0f` so they never turn into exponent notation.
const GCRA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if now < tat - tolerance then
  return {0, tat - tolerance - now}
end
local next = math.max(tat, now) + interval
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1)
return {1, 0}
";

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(GCRA));

/// Rate limits shared by every replica through Redis: the same limits, partitions and
/// `retryAfterMs` as [`crate::middleware::InProcessRateLimits`], one script call per check.
/// Keys: `{namespace}:rl:{scope}:{interval µs}:{tolerance µs}:{partition}`, the partition at
/// most 64 bytes (a SHA-256 beyond), each expiring when its budget is full again.
#[derive(Clone)]
pub struct RedisRateLimits {
    redis: Redis,
    fail: FailMode,
}

impl std::fmt::Debug for RedisRateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimits")
            .field("redis", &self.redis)
            .field("fail", &self.fail)
            .finish()
    }
}

impl RedisRateLimits {
    pub(super) fn new(redis: Redis, fail: FailMode) -> Self {
        Self { redis, fail }
    }
}

impl RateLimitStore for RedisRateLimits {
    fn check<'a>(
        &'a self,
        scope: &'a str,
        limit: &'a RateLimit,
        key: &'a str,
    ) -> StoreFuture<'a, RateDecision> {
        Box::pin(async move {
            let interval = u64::try_from(limit.emission_interval().as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            let tolerance = interval.saturating_mul(u64::from(limit.burst_size().max(1) - 1));
            let redis_key = self
                .redis
                .key("rl", &format!("{scope}:{interval}:{tolerance}:{key}"));
            let (allowed, wait): (i64, i64) = self
                .redis
                .run(|mut connection| async move {
                    SCRIPT
                        .key(redis_key)
                        .arg(interval)
                        .arg(tolerance)
                        .invoke_async(&mut connection)
                        .await
                })
                .await?;
            Ok(if allowed == 1 {
                RateDecision::Allowed
            } else {
                RateDecision::Limited {
                    retry_after: std::time::Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
                }
            })
        })
    }

    fn on_failure(&self) -> FailMode {
        self.fail
    }
}
