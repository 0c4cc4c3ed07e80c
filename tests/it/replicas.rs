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
        Self::start_in(None, env).await
    }

    /// A replica reading `platform.toml` from `dir`, if given.
    async fn start_in(dir: Option<&std::path::Path>, env: &[(&str, &str)]) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_replica"));
        if let Some(dir) = dir {
            command.arg("--config-dir").arg(dir);
        }
        let mut child = command
            .args(["serve", "--transport", "http", "--bind", &addr.to_string()])
            .env_clear()
            .env("PLATFORM_TELEMETRY__LOG", "info,platform_runtime=debug")
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

    /// The log once it holds `text`: its lines arrive through a pipe read by a thread of
    /// their own, so a line written just before a reply may not be read yet (bounded: 5 s).
    async fn log_with(&self, text: &str) -> String {
        for _ in 0..250 {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the replica never logged `{text}`: {}", self.log());
    }

    /// A 2026-07-28 `tools/call`; the JSON-RPC reply.
    async fn call(&self, tool: &str, arguments: Value) -> Value {
        self.call_with(tool, json!({ "name": tool, "arguments": arguments }))
            .await
    }

    async fn call_with(&self, tool: &str, params: Value) -> Value {
        self.call_with_capabilities(tool, params, json!({ "elicitation": {} }))
            .await
    }

    async fn call_with_capabilities(
        &self,
        tool: &str,
        params: Value,
        capabilities: Value,
    ) -> Value {
        self.send_with("tools/call", params, Some(tool.to_owned()), capabilities)
            .await
    }

    /// A 2026-07-28 request from a client that declared the tasks extension.
    async fn send(&self, method: &'static str, params: Value, name: Option<String>) -> Value {
        let capabilities = json!({ "extensions": { "io.modelcontextprotocol/tasks": {} } });
        self.send_with(method, params, name, capabilities).await
    }

    async fn send_with(
        &self,
        method: &str,
        mut params: Value,
        name: Option<String>,
        capabilities: Value,
    ) -> Value {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": capabilities
        });
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let mut headers = vec![
            JSON,
            ACCEPT,
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ];
        if let Some(name) = &name {
            headers.push(("mcp-name", name.as_str()));
        }
        let reply = request(
            self.addr,
            "POST",
            "/mcp",
            &headers,
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
        ("PLATFORM_REDIS__SESSIONS_FAIL", "closed"),
        ("PLATFORM_TELEMETRY__METRICS__BIND", metrics_bind.as_str()),
    ])
    .await;
    let scrape = || async move {
        let reply = request(metrics, "GET", "/metrics", &[], b"").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    };
    assert_eq!(replica.text("limited", json!({})).await, pid(&replica));
    replica.log_with("connected to Redis").await;

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
    let log = replica.log_with("Redis is not answering").await;
    assert!(
        log.contains("rate limits: fail closed (requests refused)"),
        "{log}"
    );
    assert!(
        log.contains("the cache: fail open (requests served without it)"),
        "{log}"
    );
    let exposition = scrape().await;
    assert!(
        exposition.contains("\nplatform_redis_up 0\n"),
        "{exposition}"
    );
    for (store, outcome) in [("rate_limit", "closed"), ("cache", "open")] {
        let series =
            format!(r#"platform_store_failures_total{{outcome="{outcome}",store="{store}"}} 1"#);
        assert!(exposition.contains(&series), "{series}: {exposition}");
    }
    // Sessions fail closed: a new one is refused, an unknown one is 503 rather than 404.
    let opened = legacy_anonymous(&replica, None, INITIALIZE).await;
    let refused = message(&opened);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("sessions are unavailable"),
        "{refused}"
    );
    let unknown = legacy_anonymous(
        &replica,
        Some("0b4f3c1e-0000-4000-8000-000000000000"),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    )
    .await;
    assert_eq!(unknown.status, 503, "{}", unknown.body);
    // Tasks fail open: a call that would become a task is answered in the request, and
    // task requests are refused as unavailable.
    let answered = start(&replica, 50).await;
    assert_eq!(answered["result"]["resultType"], "complete", "{answered}");
    assert_eq!(
        answered["result"]["content"][0]["text"],
        format!("job done by {}", pid(&replica))
    );
    let refused = task(
        &replica,
        "tasks/get",
        "0123456789abcdef0123456789abcdef".into(),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32603, "{refused}");

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
    replica.log_with("Redis answers again").await;
    let exposition = scrape().await;
    assert!(
        exposition.contains("\nplatform_redis_up 1\n"),
        "{exposition}"
    );
    let opened = legacy_anonymous(&replica, None, INITIALIZE).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert!(
        message(&opened)["result"]["protocolVersion"].is_string(),
        "{}",
        opened.body
    );
}

/// A legacy (2025-11-25) session's requests, with an API key.
async fn legacy(
    replica: &Replica,
    session: Option<&str>,
    key: &str,
    method: &str,
    body: &str,
) -> crate::http::Reply {
    let bearer = format!("Bearer {key}");
    let mut headers = vec![
        JSON,
        ACCEPT,
        ("authorization", bearer.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    if let Some(session) = session {
        headers.push(("mcp-session-id", session));
    }
    request(replica.addr, method, "/mcp", &headers, body.as_bytes()).await
}

/// A legacy request without credentials.
async fn legacy_anonymous(
    replica: &Replica,
    session: Option<&str>,
    body: &str,
) -> crate::http::Reply {
    let mut headers = vec![JSON, ACCEPT, ("mcp-protocol-version", "2025-11-25")];
    if let Some(session) = session {
        headers.push(("mcp-session-id", session));
    }
    request(replica.addr, "POST", "/mcp", &headers, body.as_bytes()).await
}

/// The JSON-RPC message in a reply's body, plain or as the data of an SSE event.
fn message(reply: &crate::http::Reply) -> Value {
    let body = reply.body.trim();
    let json = if body.starts_with('{') {
        body.to_owned()
    } else {
        body.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .find(|d| d.starts_with('{'))
            .unwrap_or_else(|| panic!("no message in {body}"))
            .to_owned()
    };
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// `GET key` on the Redis at `addr`, over RESP by hand.
fn redis_get(key: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(SHARED_REDIS).unwrap();
    let command = format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len());
    stream.write_all(command.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = stream.read(&mut buf).unwrap();
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply);
        if text.starts_with("$-1") {
            return None;
        }
        if let Some((len, rest)) = text.strip_prefix('$').and_then(|t| t.split_once("\r\n"))
            && rest.len() >= len.parse::<usize>().unwrap() + 2
        {
            return Some(rest[..len.parse::<usize>().unwrap()].to_owned());
        }
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_session_opened_on_one_replica_is_served_by_the_other() {
    require_redis();
    let dir = std::env::temp_dir().join(namespace("sessions-config"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("platform.toml"),
        format!(
            "[[auth.api_keys]]\nid = \"alice\"\nsha256 = \"{}\"\n\n[[auth.api_keys]]\nid = \"mallory\"\nsha256 = \"{}\"\n",
            sha256_hex("alice-key-0123456789"),
            sha256_hex("mallory-key-0123456789"),
        ),
    )
    .unwrap();
    let namespace = namespace("sessions");
    let env = [
        ("PLATFORM_REDIS__URL", "redis://127.0.0.1:6379"),
        ("PLATFORM_REDIS__NAMESPACE", namespace.as_str()),
    ];
    let a = Replica::start_in(Some(&dir), &env).await;
    let b = Replica::start_in(Some(&dir), &env).await;
    let alice = "alice-key-0123456789";

    let opened = legacy(&a, None, alice, "POST", INITIALIZE).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let session = opened.header("mcp-session-id").unwrap().to_owned();
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(
        legacy(&a, Some(&session), alice, "POST", initialized)
            .await
            .status,
        202
    );

    // Another caller cannot take the session over through the other replica.
    let call =
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"pid","arguments":{}}}"#;
    // Ids no session has are not looked up, and an unknown one is 404 without a trace.
    for forged in [
        "x".repeat(5000),
        "../../etc".to_owned(),
        "0b4f3c1e-0000-4000-8000-000000000000".to_owned(),
    ] {
        let missing = legacy(&b, Some(&forged), alice, "POST", call).await;
        assert_eq!(missing.status, 404, "{}", missing.body);
        assert_eq!(redis_get(&format!("{namespace}:session:{forged}")), None);
    }
    let stolen = legacy(&b, Some(&session), "mallory-key-0123456789", "POST", call).await;
    assert_eq!(stolen.status, 403, "{}", stolen.body);

    // Its owner's call is served by B, which never saw the `initialize`.
    let served = legacy(&b, Some(&session), alice, "POST", call).await;
    assert_eq!(served.status, 200, "{}", served.body);
    let reply = message(&served);
    assert_eq!(reply["result"]["content"][0]["text"], pid(&b), "{reply}");
    // Again, and a list, on both.
    for replica in [&b, &a] {
        let list = r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#;
        let listed = message(&legacy(replica, Some(&session), alice, "POST", list).await);
        assert!(
            listed["result"]["tools"].as_array().unwrap().len() >= 4,
            "{listed}"
        );
    }

    // A change made on B is in the shared record, for the next replica to take on.
    let set_level =
        r#"{"jsonrpc":"2.0","id":4,"method":"logging/setLevel","params":{"level":"error"}}"#;
    let set = legacy(&b, Some(&session), alice, "POST", set_level).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let record = redis_get(&format!("{namespace}:session:{session}")).expect("a shared record");
    let record: Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["log_level"], "error", "{record}\n{}", b.log());
    assert_eq!(record["version"], "2025-11-25", "{record}");
    assert!(
        record["owner"].as_str().unwrap().contains("alice"),
        "{record}"
    );

    // Ended on B: gone from the store, and A stops serving it within a refresh.
    let ended = legacy(&b, Some(&session), alice, "DELETE", "").await;
    assert!(ended.status == 200 || ended.status == 204, "{}", ended.body);
    assert_eq!(redis_get(&format!("{namespace}:session:{session}")), None);
    let mut status = 0;
    for _ in 0..60 {
        status = legacy(&a, Some(&session), alice, "POST", call).await.status;
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        404,
        "A still serves a session ended on B: {}",
        a.log()
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_command_checks_a_running_server() {
    let replica = Replica::start(&[]).await;
    let check = |args: Vec<String>| {
        Command::new(env!("CARGO_BIN_EXE_replica"))
            .args(args)
            .env_clear()
            .output()
            .unwrap()
    };
    let bind = replica.addr.to_string();
    for ready in [false, true] {
        let mut args = vec!["health".to_owned(), "--bind".to_owned(), bind.clone()];
        if ready {
            args.push("--ready".into());
        }
        let out = check(args);
        assert!(out.status.success(), "{out:?}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains(if ready { "/readyz" } else { "/healthz" }),
            "{said}"
        );
        assert!(said.contains("200"), "{said}");
    }
    // The configured bind address, on loopback when it is unspecified.
    let unspecified = format!("0.0.0.0:{}", replica.addr.port());
    let out = Command::new(env!("CARGO_BIN_EXE_replica"))
        .arg("health")
        .env_clear()
        .env("PLATFORM_TRANSPORT__BIND", &unspecified)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Nothing listening: a failure that says where it looked.
    let closed = format!("127.0.0.1:{}", free_port());
    let out = check(vec!["health".into(), "--bind".into(), closed.clone()]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(&closed), "{said}");
}

/// Two Redis handles under one namespace, as two replicas have.
fn two_stores(test: &str) -> [platform_runtime::redis::RedisRateLimits; 2] {
    use platform_runtime::middleware::FailMode;
    use platform_runtime::redis::{Redis, RedisOptions};
    require_redis();
    let namespace = namespace(test);
    [0, 1].map(|_| {
        Redis::open(
            "redis://127.0.0.1:6379",
            RedisOptions::new(namespace.clone()),
        )
        .unwrap()
        .rate_limits(FailMode::Closed)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_are_exact_and_match_the_in_process_limiter() {
    use platform_runtime::middleware::policy::RateLimit;
    use platform_runtime::middleware::{InProcessRateLimits, RateDecision, RateLimitStore as _};
    let [a, b] = two_stores("exact");
    // Ten a minute, all at once: of 50 concurrent checks (sent in batches), exactly ten pass.
    let limit = RateLimit::new(10, Duration::from_secs(60));
    let checks = (0..50).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let limit = limit.clone();
        tokio::spawn(async move { store.check("tool", &limit, "k").await.unwrap() })
    });
    let decisions = futures::future::join_all(checks).await;
    let allowed = decisions
        .iter()
        .filter(|d| matches!(d.as_ref().unwrap(), RateDecision::Allowed))
        .count();
    assert_eq!(allowed, 10, "{decisions:?}");

    // The same answers as governor's in process, refusals and waits included.
    let limit = RateLimit::new(3, Duration::from_secs(60));
    let local = InProcessRateLimits::new();
    for call in 0..5 {
        let store = if call % 2 == 0 { &a } else { &b };
        let shared = store.check("tool", &limit, "seq").await.unwrap();
        let expected = local.check("tool", &limit, "seq").await.unwrap();
        match (shared, expected) {
            (RateDecision::Allowed, RateDecision::Allowed) => {}
            (
                RateDecision::Limited { retry_after: s },
                RateDecision::Limited { retry_after: e },
            ) => {
                let gap = s.as_millis().abs_diff(e.as_millis());
                assert!(gap < 1_000, "call {call}: Redis {s:?}, in process {e:?}");
            }
            other => panic!("call {call}: {other:?}"),
        }
    }
}

/// `long_job` for `ms` on `replica`, from a client that declared the tasks extension.
async fn start(replica: &Replica, ms: u64) -> Value {
    let params = json!({ "name": "long_job", "arguments": { "ms": ms } });
    let capabilities = json!({ "extensions": { "io.modelcontextprotocol/tasks": {} } });
    replica
        .call_with_capabilities("long_job", params, capabilities)
        .await
}

/// `method` (`tasks/get`, `tasks/cancel`) for task `id` on `replica`.
async fn task(replica: &Replica, method: &'static str, id: String) -> Value {
    replica
        .send(method, json!({ "taskId": id.clone() }), Some(id))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_started_on_one_replica_is_read_and_cancelled_on_the_other() {
    let (a, b) = pair("tasks").await;
    // Started on A, finished there, its result read on B.
    let started = start(&a, 200).await;
    assert_eq!(started["result"]["resultType"], "task", "{started}");
    let id = started["result"]["taskId"].as_str().unwrap().to_owned();
    let mut done = Value::Null;
    for _ in 0..100 {
        done = task(&b, "tasks/get", id.clone()).await;
        if done["result"]["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        done["result"]["result"]["content"][0]["text"],
        format!("job done by {}", pid(&a)),
        "{done}"
    );

    // Started on A, cancelled on B: it stays cancelled, and A stops its call.
    let started = start(&a, 3_000).await;
    let id = started["result"]["taskId"].as_str().unwrap().to_owned();
    let ack = task(&b, "tasks/cancel", id.clone()).await;
    assert_eq!(ack["result"]["resultType"], "complete", "{ack}");
    // A stops its call (its log says so).
    a.log_with("a task was cancelled while it ran").await;

    let got = task(&a, "tasks/get", id).await;
    assert_eq!(got["result"]["status"], "cancelled", "{got}");
}
