//! [`RedisTasks`]: tasks' records every replica can read and change.

use std::sync::LazyLock;
use std::time::Duration;

use super::Redis;
use crate::middleware::FailMode;
use crate::state::{SharedFuture, TaskRecords};

/// Create a record unless the id is taken: `KEYS[1]`, `ARGV[1]` the record, `ARGV[2]` its
/// time to live in ms.
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', 1, 'r', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
";

/// Replace a record if its version is still `ARGV[1]`; the new record is `ARGV[2]`. The
/// expiry set at creation stays.
const REPLACE: &str = r"
local version = redis.call('HGET', KEYS[1], 'v')
if not version or tonumber(version) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', tonumber(ARGV[1]) + 1, 'r', ARGV[2])
return 1
";

static CREATE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(CREATE));
static REPLACE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(REPLACE));

/// Tasks' records in Redis, under `{namespace}:task:{id}` (a hash of the version and the
/// record), each expiring with its task's time to live. While Redis does not answer,
/// `tasks/*` requests are refused as unavailable (a task's state has no other home), and a
/// call that would become a task is answered in the request (`open`) or refused (`closed`).
#[derive(Clone)]
pub(crate) struct RedisTasks {
    redis: Redis,
    fail: FailMode,
}

impl RedisTasks {
    pub(crate) fn new(redis: Redis, fail: FailMode) -> Self {
        redis.note_mode("tasks", fail);
        Self { redis, fail }
    }
}

impl TaskRecords for RedisTasks {
    fn create<'a>(&'a self, id: &'a str, record: Vec<u8>, ttl: Duration) -> SharedFuture<'a, bool> {
        Box::pin(async move {
            let key = self.redis.key("task", id);
            let ttl = super::ttl_millis(ttl);
            self.redis
                .run(|mut c| async move {
                    CREATE_SCRIPT
                        .key(key)
                        .arg(record)
                        .arg(ttl)
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await
                .map(|created| created == 1)
                .map_err(|e| e.0)
        })
    }

    fn load<'a>(&'a self, id: &'a str) -> SharedFuture<'a, Option<(u64, Vec<u8>)>> {
        Box::pin(async move {
            let key = self.redis.key("task", id);
            let (version, record): (Option<u64>, Option<Vec<u8>>) = self
                .redis
                .run(|mut c| async move {
                    redis::cmd("HMGET")
                        .arg(key)
                        .arg("v")
                        .arg("r")
                        .query_async(&mut c)
                        .await
                })
                .await
                .map_err(|e| e.0)?;
            Ok(version.zip(record))
        })
    }

    fn replace<'a>(&'a self, id: &'a str, version: u64, record: Vec<u8>) -> SharedFuture<'a, bool> {
        Box::pin(async move {
            let key = self.redis.key("task", id);
            self.redis
                .run(|mut c| async move {
                    REPLACE_SCRIPT
                        .key(key)
                        .arg(version)
                        .arg(record)
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await
                .map(|replaced| replaced == 1)
                .map_err(|e| e.0)
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn fail_open(&self) -> bool {
        self.fail == FailMode::Open
    }
}
