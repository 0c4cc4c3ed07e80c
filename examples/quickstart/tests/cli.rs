//! The quickstart as a program: its command line, stdio serving, bad input and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_quickstart");

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the quickstart binary runs")
}

#[test]
fn help_names_the_server_and_lists_the_commands() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(format!("quickstart {}", env!("CARGO_PKG_VERSION")).as_str()),
        "{text}"
    );
    assert_eq!(
        lines.next(),
        Some("A calculator, a notebook and a summary prompt."),
        "the description is the server's instructions:\n{text}"
    );
    for command in ["serve", "inspect", "version", "config", "--version"] {
        assert!(
            text.contains(command),
            "--help mentions `{command}`:\n{text}"
        );
    }
}

#[test]
fn inspect_prints_the_manifest_with_policies_as_json() {
    let out = run(&["inspect"]);
    assert!(out.status.success());
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["server"]["name"], "quickstart");
    assert_eq!(manifest["tools"][0]["name"], "add");
    assert_eq!(
        manifest["tools"][0]["policies"],
        serde_json::json!({ "timeout": "5s" })
    );
    assert_eq!(
        manifest["resourceTemplates"][0]["uriTemplate"],
        "notes://{id}"
    );
    assert_eq!(manifest["prompts"][0]["name"], "summarise");
}

#[test]
fn version_prints_name_and_version() {
    let expected = format!("quickstart {}", env!("CARGO_PKG_VERSION"));
    for args in [&["version"][..], &["--version"], &["-V"]] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), expected);
    }
}

#[test]
fn a_usage_error_is_clap_s_with_exit_code_2_and_no_backtrace() {
    for (args, says) in [
        (
            &["frobnicate"][..],
            "error: unrecognized subcommand 'frobnicate'",
        ),
        (&["--bogus"], "error: unexpected argument '--bogus' found"),
        (&["serve", "--transport", "smoke"], "invalid value 'smoke'"),
    ] {
        let out = Command::new(BIN)
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stderr.contains("try '--help'"), "{stderr}");
        assert!(!stderr.contains("backtrace"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let suggestion = run(&["serv"]);
    let stderr = String::from_utf8(suggestion.stderr).unwrap();
    assert!(
        stderr.contains("a similar subcommand exists: 'serve'"),
        "{stderr}"
    );
}

/// A running server with line-by-line access to its stdout.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Served {
    fn start() -> Self {
        let mut child = Command::new(BIN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the quickstart starts");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next message on stdout, bounded so a broken server fails the test instead of
    /// hanging it.
    fn receive(&self) -> serde_json::Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("a response within 10 s");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carries only JSON-RPC ({e}): {line}"))
    }

    fn initialize(&mut self) {
        self.send(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"cli-test","version":"1"}}}"#);
        let init = self.receive();
        assert_eq!(init["result"]["serverInfo"]["name"], "quickstart");
        self.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    }

    fn wait_exit(mut self) -> std::process::ExitStatus {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(self.child.wait());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the server exits within 10 s")
            .unwrap()
    }
}

#[test]
fn serves_over_stdio_and_survives_malformed_input() {
    let mut server = Served::start();
    server.initialize();
    server.send("{this is not json");
    let parse_error = server.receive();
    assert_eq!(parse_error["error"]["code"], -32700, "{parse_error}");
    server.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":"x","b":1}}}"#);
    let bad_argument = server.receive();
    assert_eq!(bad_argument["id"], 2);
    assert_eq!(bad_argument["result"]["isError"], true, "{bad_argument}");
    server.send(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"add","arguments":{"a":40,"b":2}}}"#);
    let sum = server.receive();
    assert_eq!(sum["id"], 3);
    assert_eq!(sum["result"]["structuredContent"]["result"], 42);
    // Closing stdin ends the session and the process, successfully.
    drop(server.child.stdin.take());
    assert!(server.wait_exit().success());
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_gracefully() {
    let mut server = Served::start();
    server.initialize();
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = server.wait_exit();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
}

fn config_dir(toml: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "quickstart-config-{}-{}",
        std::process::id(),
        toml.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("platform.toml"), toml).unwrap();
    dir
}

#[test]
fn config_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = config_dir(
        "[transport]\nkind = \"http\"\n[sealing]\nkey = \"0123456789abcdef0123456789abcdef-hunter2\"\n",
    );
    let out = Command::new(BIN)
        .args([
            "--config-dir",
            dir.to_str().unwrap(),
            "config",
            "--bind",
            "127.0.0.1:9999",
        ])
        .env("PLATFORM_LIMITS__MAX_IN_FLIGHT", "64")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("kind = \"http\""), "{text}");
    assert!(
        text.contains("bind = \"127.0.0.1:9999\""),
        "the flag wins: {text}"
    );
    assert!(
        text.contains("max_in_flight = 64"),
        "the environment is read: {text}"
    );
    assert!(
        text.contains("key = \"[redacted]\"") && !text.contains("hunter2"),
        "{text}"
    );
}

#[test]
fn an_unknown_config_key_stops_start_up_with_its_path() {
    let dir = config_dir("[transport]\nbnid = \"127.0.0.1:1\"\n# unknown key\n");
    let out = Command::new(BIN)
        .args(["--config-dir", dir.to_str().unwrap(), "serve"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    let file = dir.join("platform.toml");
    assert_eq!(
        err.trim_end(),
        format!(
            "Error: invalid configuration: `transport.bnid` (in {}): `bnid` is not a setting of `[transport]`; did you mean `bind`?",
            file.display()
        ),
        "one plain line, no backtrace"
    );
}

/// The quickstart served over HTTP on a free port, with its log on stderr.
fn serve_http(dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(BIN)
        .args([
            "--config-dir",
            dir.to_str().unwrap(),
            "serve",
            "--transport",
            "http",
            "--bind",
            "127.0.0.1:0",
        ])
        .envs(env.iter().copied())
        .env("PLATFORM_TRANSPORT__DRAIN_DELAY", "0s")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the quickstart starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line
                .split("addr=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
            {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server logs its address")
        .parse()
        .unwrap();
    (child, addr)
}

/// One 2026-07-28 `resources/read` over a plain socket; the reply's body.
fn read_over_http(addr: std::net::SocketAddr, uri: &str) -> String {
    use std::io::Read as _;
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "resources/read",
        "params": { "uri": uri, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}
        } }
    })
    .to_string();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nmcp-protocol-version: 2026-07-28\r\nmcp-method: resources/read\r\nmcp-name: {uri}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

#[cfg(unix)]
#[test]
fn serve_applies_limits_from_the_file_and_the_environment() {
    let dir = config_dir("[limits]\nmax_uri_bytes = 64\n");
    let uri = format!("notes://{}", "1".repeat(80));
    let (mut child, addr) = serve_http(&dir, &[]);
    let reply = read_over_http(addr, &uri);
    assert!(
        reply.contains("the limit is 64 bytes"),
        "from the file: {reply}"
    );
    assert!(read_over_http(addr, "notes://1").contains("Buy milk"));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());

    let (mut child, addr) = serve_http(&dir, &[("PLATFORM_LIMITS__MAX_URI_BYTES", "32")]);
    let reply = read_over_http(addr, &format!("notes://{}", "1".repeat(40)));
    assert!(
        reply.contains("the limit is 32 bytes"),
        "the environment wins: {reply}"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_bad_endpoint_path_stops_start_up_with_a_clear_error() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "--transport",
            "http",
            "--bind",
            "127.0.0.1:0",
            "--path",
            "mcp",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("must start with `/`"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_http_flag_with_stdio_is_refused() {
    let out = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("`transport.bind`") && err.contains("HTTP transport"),
        "{err}"
    );
}

/// The `sh` blocks of `docs/guide/http.md`'s "Requests by hand", run as written against a
/// live server (its address put in for `127.0.0.1:8000`).
#[test]
fn the_http_guide_s_curl_requests_work_as_shown() {
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/guide/http.md"
    ))
    .unwrap();
    let start = guide.find("## Requests by hand").expect("the section");
    let end = start
        + guide[start..]
            .find("\n## Protections")
            .expect("the next section");
    let blocks: Vec<&str> = guide[start..end]
        .split("```sh\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 2, "a 2026-07-28 request and a legacy session");
    let (mut child, addr) = serve_http(&config_dir(""), &[]);
    let mut outputs = Vec::new();
    for block in &blocks {
        let script = block.replace("127.0.0.1:8000", &addr.to_string());
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .output()
            .expect("bash runs");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{script}\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(stdout);
    }
    child.kill().unwrap();
    let _ = child.wait();
    let modern: serde_json::Value = serde_json::from_str(&outputs[0]).unwrap();
    assert_eq!(
        modern["result"]["structuredContent"]["result"], 5,
        "{}",
        outputs[0]
    );
    assert_eq!(modern["result"]["resultType"], "complete");
    // The session's call is answered with one JSON body (a line of the script's output).
    let event = outputs[1]
        .lines()
        .find(|line| line.starts_with('{') && line.contains("\"id\":2"))
        .unwrap_or_else(|| panic!("no answer to the call in {}", outputs[1]));
    let legacy: serde_json::Value = serde_json::from_str(event).unwrap();
    assert_eq!(legacy["result"]["content"][0]["text"], "5");
    for shown in [outputs[0].trim(), event] {
        assert!(
            guide.contains(shown),
            "the guide shows the answer as it is: {shown}"
        );
    }
}
