//! Scale-out: replicas of one server, each its own process, sharing state through Redis
//! (`[redis] url`) and a sealing key. Needs Redis on 127.0.0.1:6379 (`.ci/run` starts one);
//! the outage test starts a private `redis-server` of its own, so stopping it disturbs no
//! other test.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::http::{ACCEPT, JSON, request};

const SHARED_REDIS: &str = "127.0.0.1:6379";
const SEALING_KEY: &str = "replicas-share-this-key-of-32-bytes-or-more";

/// Fails, saying how to start one, when no Redis listens on 127.0.0.1:6379.
fn require_redis() {
    if std::net::TcpStream::connect_timeout(&SHARED_REDIS.parse().unwrap(), Duration::from_secs(2))
        .is_err()
    {
        panic!(
            "these tests need Redis on {SHARED_REDIS}: start one with `redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no` (.ci/run does)"
        );
    }
}

/// A key prefix of its own for each test run, so runs and tests never share state.
fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("it-{test}-{}-{nanos}", std::process::id())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `replica` process serving HTTP on loopback; killed when dropped.
struct Replica {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Replica {
    async fn start(env: &[(&str, &str)]) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_replica"))
            .args(["serve", "--transport", "http", "--bind", &addr.to_string()])
            .env_clear()
            .env("PLATFORM_TELEMETRY__LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let replica = Self { child, addr, log };
        // Wait for the listener (the process is starting, not a race in the server).
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return replica;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the replica did not listen on {addr}: {}", replica.log());
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// A 2026-07-28 `tools/call`; the JSON-RPC reply.
    async fn call(&self, tool: &str, arguments: Value) -> Value {
        self.call_with(tool, json!({ "name": tool, "arguments": arguments }))
            .await
    }

    async fn call_with(&self, tool: &str, mut params: Value) -> Value {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": { "elicitation": {} }
        });
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params });
        let reply = request(
            self.addr,
            "POST",
            "/mcp",
            &[
                JSON,
                ACCEPT,
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", tool),
            ],
            body.to_string().as_bytes(),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
    }

    /// The first text block of a successful call's result.
    async fn text(&self, tool: &str, arguments: Value) -> String {
        let reply = self.call(tool, arguments).await;
        assert_ne!(reply["result"]["isError"], true, "{reply}");
        reply["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{reply}"))
            .to_owned()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two replicas sharing the Redis on 127.0.0.1:6379 under one namespace, and a sealing key.
async fn pair(test: &str) -> (Replica, Replica) {
    require_redis();
    let namespace = namespace(test);
    let env = [
        ("PLATFORM_REDIS__URL", "redis://127.0.0.1:6379"),
        ("PLATFORM_REDIS__NAMESPACE", namespace.as_str()),
        ("PLATFORM_SEALING__KEY", SEALING_KEY),
    ];
    (Replica::start(&env).await, Replica::start(&env).await)
}

fn pid(replica: &Replica) -> String {
    replica.child.id().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_holds_across_replicas() {
    let (a, b) = pair("limit").await;
    // Three a minute between them, in any order.
    assert_eq!(a.text("limited", json!({})).await, pid(&a));
    assert_eq!(b.text("limited", json!({})).await, pid(&b));
    assert_eq!(a.text("limited", json!({})).await, pid(&a));
    for replica in [&b, &a] {
        let refused = replica.call("limited", json!({})).await;
        let result = &refused["result"];
        assert_eq!(result["isError"], true, "{refused}");
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(
            text.starts_with("rate limit exceeded for `limited`"),
            "{text}"
        );
        // The in-process limiter's answer: the next call is 20 s after the first.
        let wait = result["structuredContent"]["retryAfterMs"]
            .as_u64()
            .unwrap();
        assert!((15_000..=20_000).contains(&wait), "{wait} ms");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_cached_by_one_replica_is_served_by_the_other() {
    let (a, b) = pair("cache").await;
    let first: Value =
        serde_json::from_str(&a.text("slow_square", json!({ "n": 7 })).await).unwrap();
    assert_eq!(first["square"], 49);
    assert_eq!(first["pid"].to_string(), pid(&a));
    let again: Value =
        serde_json::from_str(&b.text("slow_square", json!({ "n": 7 })).await).unwrap();
    assert_eq!(again, first, "B answers with A's result, from the cache");
    let other: Value =
        serde_json::from_str(&b.text("slow_square", json!({ "n": 8 })).await).unwrap();
    assert_eq!(
        other["pid"].to_string(),
        pid(&b),
        "other arguments, another entry"
    );
    assert_eq!(other["runs"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_round_call_sealed_by_one_replica_is_finished_by_the_other() {
    let (a, b) = pair("mrtr").await;
    let asked = a.call("confirm", json!({ "what": "deploy" })).await;
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let state = result["requestState"].as_str().unwrap().to_owned();
    let answers = json!({ "confirm": { "action": "accept", "content": { "ok": true } } });
    let params = json!({
        "name": "confirm",
        "arguments": { "what": "deploy" },
        "inputResponses": answers,
        "requestState": state,
    });
    let done = b.call_with("confirm", params.clone()).await;
    let text = done["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{done}"));
    let finished: Value = serde_json::from_str(text).unwrap();
    assert_eq!(finished["ok"], true);
    assert_eq!(finished["what"], "deploy");
    assert_eq!(finished["sealed_by"].to_string(), pid(&a));
    assert_eq!(finished["finished_by"].to_string(), pid(&b));

    // A replica with another key cannot open it.
    let stranger = Replica::start(&[(
        "PLATFORM_SEALING__KEY",
        "another-key-of-thirty-two-bytes-or-more",
    )])
    .await;
    let refused = stranger.call_with("confirm", params).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
}

/// A `redis-server` of the test's own on a free loopback port, stopped when dropped.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    fn start_on(port: u16) -> Self {
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("the outage test starts its own Redis and needs `redis-server` on the PATH (Debian's redis-server package): {e}")
            });
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        for _ in 0..200 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Self { child, port };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen on {addr}");
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_each_store_fails_as_configured_and_recovers() {
    let redis = PrivateRedis::start_on(free_port());
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let metrics_bind = metrics.to_string();
    let replica = Replica::start(&[
        ("PLATFORM_REDIS__URL", url.as_str()),
        ("PLATFORM_REDIS__RATE_LIMIT_FAIL", "closed"),
        ("PLATFORM_REDIS__CACHE_FAIL", "open"),
        ("PLATFORM_TELEMETRY__METRICS__BIND", metrics_bind.as_str()),
    ])
    .await;
    let scrape = || async move {
        let reply = request(metrics, "GET", "/metrics", &[], b"").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    };
    assert_eq!(replica.text("limited", json!({})).await, pid(&replica));
    assert!(
        replica.log().contains("connected to Redis"),
        "{}",
        replica.log()
    );

    let port = redis.stop();
    // Rate limits fail closed: refused as unavailable, not allowed and not hung.
    let refused = replica.call("limited", json!({})).await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    let text = refused["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("rate limiting is unavailable"), "{text}");
    // The cache fails open: the tool answers.
    let computed: Value =
        serde_json::from_str(&replica.text("slow_square", json!({ "n": 3 })).await).unwrap();
    assert_eq!(computed["square"], 9);
    let log = replica.log();
    assert!(log.contains("Redis is not answering"), "{log}");
    assert!(
        log.contains("rate limits: fail closed (requests refused)"),
        "{log}"
    );
    assert!(
        log.contains("the cache: fail open (requests served without it)"),
        "{log}"
    );

    // Redis comes back on the same port: service recovers within a few retry windows.
    let _redis = PrivateRedis::start_on(port);
    let mut recovered = false;
    for _ in 0..100 {
        let reply = replica.call("limited", json!({})).await;
        if reply["result"]["isError"] != true {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "{}", replica.log());
    assert!(
        replica.log().contains("Redis answers again"),
        "{}",
        replica.log()
    );
}
