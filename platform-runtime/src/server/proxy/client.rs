//! The proxy's side of an upstream session: the transport (a child process, or streamable
//! HTTP carrying the proxy's own credential), the client handler that forwards the
//! upstream's progress to the caller waiting for it and turns its `list_changed` into a
//! refresh, and the client-credentials token fetch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, NumberOrString, ProgressNotificationParam,
    ProtocolVersion,
};
use rmcp::service::ClientServiceExt as _;
use rmcp::service::{ClientLifecycleMode, NotificationContext, RoleClient, RunningService};
use tokio::sync::Notify;

use super::{Credential, Target, Upstream};
use crate::handler::Context;
use crate::model::Era;

/// A running upstream session.
pub(crate) type Session = RunningService<RoleClient, ProxyClient>;

/// What the sessions of one proxy share with it: the callers waiting for progress, by the
/// progress token the proxy's request carried, and the signal to list again.
#[derive(Default)]
pub(crate) struct Shared {
    progress: Mutex<HashMap<NumberOrString, Context>>,
    pub(crate) refresh: Notify,
}

impl Shared {
    /// Forward progress for `token` to `ctx` until the returned guard is dropped.
    pub(crate) fn forward_progress(
        self: &Arc<Self>,
        token: NumberOrString,
        ctx: Context,
    ) -> ProgressGuard {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), ctx);
        ProgressGuard {
            shared: Arc::downgrade(self),
            token,
        }
    }
}

/// Stops forwarding one request's progress when dropped.
pub(crate) struct ProgressGuard {
    shared: Weak<Shared>,
    token: NumberOrString,
}

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared
                .progress
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.token);
        }
    }
}

/// The client handler of an upstream session.
#[derive(Clone)]
pub(crate) struct ProxyClient {
    shared: Weak<Shared>,
    name: Arc<str>,
}

impl rmcp::ClientHandler for ProxyClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("platform-proxy", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let ctx = shared
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&params.progress_token.0)
            .cloned();
        if let Some(ctx) = ctx {
            ctx.progress(params.progress, params.total, params.message.as_deref())
                .await;
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.refresh();
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.refresh();
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.refresh();
    }
}

impl ProxyClient {
    fn refresh(&self) {
        if let Some(shared) = self.shared.upgrade() {
            tracing::debug!(upstream = &*self.name, "upstream lists changed");
            shared.refresh.notify_one();
        }
    }
}

/// A bearer token and when to renew it.
pub(crate) struct Token {
    pub(crate) value: String,
    pub(crate) renew_at: Option<Instant>,
}

/// Open one session to `upstream` within its connect timeout; the access token used, if it
/// was fetched, says when the session should be renewed.
pub(crate) async fn connect(
    upstream: &Upstream,
    name: &Arc<str>,
    shared: &Arc<Shared>,
) -> Result<(Session, Option<Instant>), String> {
    let handler = ProxyClient {
        shared: Arc::downgrade(shared),
        name: name.clone(),
    };
    let lifecycle = match upstream.era {
        Era::Legacy => ClientLifecycleMode::Initialize,
        Era::Modern => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    };
    let work = async {
        match &upstream.target {
            Target::Stdio {
                command,
                args,
                env,
                current_dir,
            } => {
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(args).env_clear().kill_on_drop(true);
                if let Some(path) = std::env::var_os("PATH") {
                    cmd.env("PATH", path);
                }
                for (key, value) in env {
                    cmd.env(key, value.expose());
                }
                if let Some(dir) = current_dir {
                    cmd.current_dir(dir);
                }
                let (transport, _) = rmcp::transport::TokioChildProcess::builder(cmd)
                    .spawn()
                    .map_err(|e| format!("could not start {}: {e}", upstream.describe()))?;
                Ok((
                    handshake(upstream, handler, transport, lifecycle).await?,
                    None,
                ))
            }
            Target::Http { url } => {
                use rmcp::transport::StreamableHttpClientTransport;
                use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                let mut renew_at = None;
                match &upstream.credential {
                    Some(Credential::Bearer(token)) => {
                        config = config.auth_header(token.expose());
                    }
                    Some(Credential::Header { name, value }) => {
                        let mut headers = HashMap::new();
                        let name = axum::http::HeaderName::from_bytes(name.as_bytes())
                            .map_err(|e| format!("invalid header name: {e}"))?;
                        let value = axum::http::HeaderValue::from_str(value.expose())
                            .map_err(|_| "the API key is not a valid header value".to_owned())?;
                        headers.insert(name, value);
                        config = config.custom_headers(headers);
                    }
                    Some(Credential::ClientCredentials { .. }) => {
                        let token = fetch_token(upstream).await?;
                        renew_at = token.renew_at;
                        config = config.auth_header(token.value);
                    }
                    None => {}
                }
                let client = http_client(upstream)?;
                let transport = StreamableHttpClientTransport::with_client(client, config);
                Ok((
                    handshake(upstream, handler, transport, lifecycle).await?,
                    renew_at,
                ))
            }
        }
    };
    match tokio::time::timeout(upstream.connect_timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "{} did not complete the handshake within {:?}",
            upstream.describe(),
            upstream.connect_timeout
        )),
    }
}

/// Run the MCP handshake over `transport`.
async fn handshake<T, E, A>(
    upstream: &Upstream,
    handler: ProxyClient,
    transport: T,
    lifecycle: ClientLifecycleMode,
) -> Result<Session, String>
where
    T: rmcp::transport::IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    handler
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .map_err(|e| format!("the handshake with {} failed: {e}", upstream.describe()))
}

fn http_client(upstream: &Upstream) -> Result<reqwest::Client, String> {
    // reqwest is built without a bundled crypto provider; ring is ours (installing twice is
    // harmless).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(upstream.connect_timeout)
        .pool_max_idle_per_host(upstream.pool_size.max(4))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("could not build the HTTP client: {e}"))
}

/// The longest token response read.
const MAX_TOKEN_RESPONSE: usize = 64 << 10;

/// An access token by the client-credentials grant, to renew a minute before it expires
/// (or at half its life, for short ones).
pub(crate) async fn fetch_token(upstream: &Upstream) -> Result<Token, String> {
    let Some(Credential::ClientCredentials {
        token_url,
        client_id,
        client_secret,
        scopes,
    }) = &upstream.credential
    else {
        return Err("no client credentials are configured".to_owned());
    };
    let encode = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        encode(client_id),
        encode(client_secret.expose())
    );
    if !scopes.is_empty() {
        body.push_str("&scope=");
        body.push_str(&encode(&scopes.join(" ")));
    }
    let client = http_client(upstream)?;
    let mut response = client
        .post(token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .timeout(upstream.connect_timeout)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("the token endpoint {token_url} could not be reached: {e}"))?;
    let status = response.status();
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("the token response was cut off: {e}"))?
    {
        if bytes.len() + chunk.len() > MAX_TOKEN_RESPONSE {
            return Err(format!(
                "the token response of {token_url} is over {MAX_TOKEN_RESPONSE} bytes"
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        // The body may echo what was sent; only its `error` code is repeated.
        let code: String = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        return Err(format!(
            "the token endpoint {token_url} refused the client credentials ({status} {code})"
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
        format!("the token endpoint {token_url} answered with something other than JSON")
    })?;
    let value = json
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("the token endpoint {token_url} sent no access_token"))?
        .to_owned();
    let renew_at = json
        .get("expires_in")
        .and_then(serde_json::Value::as_u64)
        .map(|secs| {
            let life = Duration::from_secs(secs);
            let early = Duration::from_secs(60).min(life / 2);
            Instant::now() + life - early
        });
    Ok(Token { value, renew_at })
}
