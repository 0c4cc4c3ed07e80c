//! [`RedisRateLimits`]: GCRA in one round trip, a Lua script keeping one theoretical arrival
//! time per partition, on Redis's clock so replicas need not agree on theirs. Checks made
//! while a script call is in flight are sent together in the next one.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::Redis;
use crate::middleware::policy::RateLimit;
use crate::middleware::{FailMode, RateDecision, RateLimitStore, StoreError, StoreFuture};

/// GCRA, as the in-process limiter (governor) computes it, for each key in turn: `interval`
/// is the time one call costs, `tolerance` the burst beyond the first (`interval × (burst −
/// 1)`), both in µs (`ARGV[2i-1]`, `ARGV[2i]` for `KEYS[i]`). A call is allowed if now ≥
/// TAT − tolerance, and moves TAT to max(TAT, now) + interval; otherwise it waits TAT −
/// tolerance − now. Keys are taken in order, so a key named twice is checked twice, as two
/// calls one after the other. A key expires when its TAT has passed (a full budget needs no
/// state). Numbers stay below 2^53 (µs since 1970), exact in Lua's doubles, and are written
/// with `%.0f` so they never turn into exponent notation. Returns, per key, 1 and 0 (allowed)
/// or 0 and the wait in µs.
const GCRA: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local out = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if now < tat - tolerance then
    out[2 * i - 1] = 0
    out[2 * i] = tat - tolerance - now
  else
    local next = math.max(tat, now) + interval
    redis.call('SET', KEYS[i], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1)
    out[2 * i - 1] = 1
    out[2 * i] = 0
  end
end
return out
";

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(GCRA));

/// The most checks one script call carries.
const MAX_BATCH: usize = 256;

/// Script calls in flight at once, pipelined on the one connection.
const MAX_IN_FLIGHT: usize = 4;

/// Checks waiting for a script call, at most; beyond, a check waits for room.
const QUEUE: usize = 4096;

/// One check waiting for its answer.
struct Check {
    key: String,
    interval: u64,
    tolerance: u64,
    answer: oneshot::Sender<Result<(i64, i64), StoreError>>,
}

/// Rate limits shared by every replica through Redis: the same limits, partitions and
/// `retryAfterMs` as [`crate::middleware::InProcessRateLimits`]. Keys:
/// `{namespace}:rl:{scope}:{interval µs}:{tolerance µs}:{partition}`, the partition at most
/// 64 bytes (a SHA-256 beyond), each expiring when its budget is full again.
///
/// One script call is in flight at a time per store; the checks that arrive meanwhile (up
/// to 256) go together in the next call, in arrival order — the same decisions as one call
/// each, in fewer round trips and script runs under load, and no added wait without it.
///
/// A partition Redis refused is refused here, without asking, until the wait Redis gave
/// has passed: its theoretical arrival time only ever moves forward, so Redis would refuse
/// it too (a flood over a limit costs Redis nothing after the first refusal). At most
/// 10 000 refused partitions are remembered per store.
#[derive(Clone)]
pub struct RedisRateLimits {
    redis: Redis,
    fail: FailMode,
    queue: Arc<Mutex<Option<mpsc::Sender<Check>>>>,
    refused: Arc<Mutex<HashMap<String, tokio::time::Instant>>>,
}

/// The most refused partitions remembered; past it, the memory starts afresh.
const MAX_REFUSED: usize = 10_000;

impl std::fmt::Debug for RedisRateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimits")
            .field("redis", &self.redis)
            .field("fail", &self.fail)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimits {
    pub(super) fn new(redis: Redis, fail: FailMode) -> Self {
        Self {
            redis,
            fail,
            queue: Arc::default(),
            refused: Arc::default(),
        }
    }

    /// The queue to the task sending checks, started with the first check (inside the
    /// runtime; again if the runtime that ran it has ended); the task ends when the store
    /// is dropped.
    fn queue(&self) -> mpsc::Sender<Check> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        match &*queue {
            Some(sender) if !sender.is_closed() => sender.clone(),
            _ => {
                let (sender, receiver) = mpsc::channel(QUEUE);
                tokio::spawn(send_checks(self.redis.clone(), receiver));
                *queue = Some(sender.clone());
                sender
            }
        }
    }

    /// How long `key` is still refused, if Redis refused it earlier and the wait it gave
    /// has not passed.
    fn still_refused(&self, key: &str) -> Option<Duration> {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        let until = *refused.get(key)?;
        let now = tokio::time::Instant::now();
        if now < until {
            return Some(until - now);
        }
        refused.remove(key);
        None
    }

    fn remember_refusal(&self, key: String, wait: Duration) {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        if refused.len() >= MAX_REFUSED {
            refused.clear();
        }
        refused.insert(key, tokio::time::Instant::now() + wait);
    }
}

/// Send the queued checks, as many as are waiting (up to [`MAX_BATCH`]) in each script call,
/// with up to [`MAX_IN_FLIGHT`] calls pipelined on the connection.
async fn send_checks(redis: Redis, mut queue: mpsc::Receiver<Check>) {
    use futures::StreamExt as _;
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        tokio::select! {
            waiting = async {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                let received = queue.recv_many(&mut batch, MAX_BATCH).await;
                (received, batch)
            }, if open && in_flight.len() < MAX_IN_FLIGHT => match waiting {
                (0, _) => open = false,
                (_, batch) => in_flight.push(answer(redis.clone(), batch)),
            },
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
        }
    }
}

/// One script call for `batch`, and each check's answer.
async fn answer(redis: Redis, batch: Vec<Check>) {
    let mut invocation = SCRIPT.prepare_invoke();
    for check in &batch {
        invocation.key(&check.key);
        invocation.arg(check.interval).arg(check.tolerance);
    }
    let outcome: Result<Vec<i64>, StoreError> = redis
        .run(|mut connection| async move { invocation.invoke_async(&mut connection).await })
        .await;
    for (i, check) in batch.into_iter().enumerate() {
        let answer = match &outcome {
            Ok(out) => match (out.get(2 * i), out.get(2 * i + 1)) {
                (Some(allowed), Some(wait)) => Ok((*allowed, *wait)),
                _ => Err(StoreError("the rate-limit script answered short".into())),
            },
            Err(error) => Err(error.clone()),
        };
        let _ = check.answer.send(answer);
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
            let key = self
                .redis
                .key("rl", &format!("{scope}:{interval}:{tolerance}:{key}"));
            if let Some(retry_after) = self.still_refused(&key) {
                return Ok(RateDecision::Limited { retry_after });
            }
            let (answer, answered) = oneshot::channel();
            let check = Check {
                key: key.clone(),
                interval,
                tolerance,
                answer,
            };
            self.queue()
                .send(check)
                .await
                .map_err(|_| StoreError("the rate-limit queue is closed".into()))?;
            let (allowed, wait) = answered
                .await
                .map_err(|_| StoreError("the rate-limit check was dropped".into()))??;
            if allowed == 1 {
                return Ok(RateDecision::Allowed);
            }
            let retry_after = Duration::from_micros(u64::try_from(wait).unwrap_or(0));
            self.remember_refusal(key, retry_after);
            Ok(RateDecision::Limited { retry_after })
        })
    }

    fn on_failure(&self) -> FailMode {
        self.fail
    }
}
