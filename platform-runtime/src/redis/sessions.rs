//! [`RedisSessions`]: legacy-session records every replica can find.

use std::time::Duration;

use super::Redis;
use crate::middleware::FailMode;
use crate::state::{SharedFuture, SharedSessions};

/// Legacy sessions' records in Redis, under `{namespace}:session:{id}`, each expiring after
/// the idle timeout unless a replica serving the session refreshes it. What a record holds,
/// and when it is written, is the HTTP transport's (`transport/http/sessions.rs`).
#[derive(Clone)]
pub(crate) struct RedisSessions {
    redis: Redis,
    fail: FailMode,
}

impl RedisSessions {
    pub(crate) fn new(redis: Redis, fail: FailMode) -> Self {
        redis.note_mode("sessions", fail);
        Self { redis, fail }
    }
}

impl SharedSessions for RedisSessions {
    fn load<'a>(&'a self, id: &'a str) -> SharedFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let key = self.redis.key("session", id);
            self.redis
                .run(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
                .await
                .map_err(|e| e.0)
        })
    }

    fn save<'a>(&'a self, id: &'a str, record: Vec<u8>, ttl: Duration) -> SharedFuture<'a, ()> {
        Box::pin(async move {
            self.redis
                .set_expiring(self.redis.key("session", id), record, ttl)
                .await
                .map_err(|e| e.0)
        })
    }

    fn refresh<'a>(&'a self, id: &'a str, ttl: Duration) -> SharedFuture<'a, bool> {
        Box::pin(async move {
            let key = self.redis.key("session", id);
            self.redis
                .run(|mut c| async move {
                    redis::cmd("PEXPIRE")
                        .arg(key)
                        .arg(super::ttl_millis(ttl))
                        .query_async::<i64>(&mut c)
                        .await
                })
                .await
                .map(|kept| kept == 1)
                .map_err(|e| e.0)
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> SharedFuture<'a, ()> {
        Box::pin(async move {
            let key = self.redis.key("session", id);
            self.redis
                .run(|mut c| async move { redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await })
                .await
                .map_err(|e| e.0)
        })
    }

    fn fail_closed(&self) -> bool {
        self.fail == FailMode::Closed
    }
}
