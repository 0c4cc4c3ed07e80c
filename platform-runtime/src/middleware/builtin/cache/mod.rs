//! Response cache: `#[cache(ttl = "30s", scope = "principal")]` (moka) behind the
//! [`CacheStore`] trait. The key is the component, its arguments in canonical form and the
//! scope's identity, so entries are never shared across principals or tenants unless the
//! scope is `public`. Only successful results are cached. The store is bounded.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{CallToolResponse, CallToolResult};

use tower::ServiceExt as _;

use super::{FailMode, Middleware, MiddlewareFuture, StoreError, StoreFuture, impl_layer};
use crate::ToolError;
use crate::digest::{digest, hex};
use crate::middleware::policy::{CachePolicy, CacheScope};
use crate::middleware::request::Reply;
use crate::middleware::{McpRequest, McpResponse, McpService, Method};

/// A cached tool result; serializable for shared stores.
#[derive(Debug, Clone)]
pub struct CachedResponse(CallToolResult);

impl CachedResponse {
    /// The result as JSON bytes (for a shared store).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap_or_default()
    }

    /// A cached result from JSON bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(bytes)
            .map(Self)
            .map_err(|e| StoreError(e.to_string()))
    }
}

/// Where cached responses live: in process by default, in a shared store (Redis) when the
/// server runs as several replicas.
///
/// Keys are short and fixed in shape: the tool's name and a SHA-256 of the caller's scope
/// and the canonical arguments, never the arguments themselves.
pub trait CacheStore: Send + Sync + 'static {
    /// The fresh entry under `key`.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<CachedResponse>>;
    /// Store `value` under `key` for `ttl`.
    fn put<'a>(&'a self, key: String, value: CachedResponse, ttl: Duration) -> StoreFuture<'a, ()>;

    /// What a call gets when reading the store fails: the tool is called (`Open`, the
    /// default) or the call is refused as unavailable (`Closed`). A failed write is logged
    /// and the result returned either way.
    fn on_failure(&self) -> FailMode {
        FailMode::Open
    }
}

/// When a store failure was last logged (see [`super::throttled_warning`]).
static FAILURE_WARNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The in-process store: moka, bounded in bytes (each entry weighs its key plus its
/// serialized result); the least valuable entries are evicted first. Expiry follows tokio's
/// clock.
pub struct InProcessCache {
    entries: moka::sync::Cache<String, Entry>,
    max_entry_bytes: u64,
}

/// A cached response, its expiry and its weight in bytes.
#[derive(Clone)]
struct Entry {
    response: CachedResponse,
    deadline: tokio::time::Instant,
    weight: u32,
}

/// The default bound of the in-process cache: 64 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 64 << 20;

impl InProcessCache {
    /// A store holding at most `max_bytes` of responses (keys included). A response larger
    /// than an eighth of that is not cached.
    pub fn with_max_bytes(max_bytes: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &String, entry: &Entry| {
                    entry
                        .weight
                        .saturating_add(u32::try_from(key.len()).unwrap_or(u32::MAX))
                })
                .build(),
            max_entry_bytes: max_bytes / 8,
        }
    }

    /// The bytes held now (keys and serialized responses), as last counted.
    pub fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

impl Default for InProcessCache {
    fn default() -> Self {
        Self::with_max_bytes(DEFAULT_CACHE_BYTES)
    }
}

/// Counts the bytes written to it.
#[derive(Default)]
struct ByteCount(u64);

impl std::io::Write for ByteCount {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CacheStore for InProcessCache {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<CachedResponse>> {
        let found = match self.entries.get(key) {
            Some(entry) if tokio::time::Instant::now() < entry.deadline => Some(entry.response),
            Some(_) => {
                self.entries.invalidate(key);
                None
            }
            None => None,
        };
        Box::pin(std::future::ready(Ok(found)))
    }

    fn put<'a>(&'a self, key: String, value: CachedResponse, ttl: Duration) -> StoreFuture<'a, ()> {
        let mut size = ByteCount::default();
        let weight = match serde_json::to_writer(&mut size, &value.0) {
            Ok(()) => size.0,
            Err(_) => u64::MAX,
        };
        if weight <= self.max_entry_bytes {
            let entry = Entry {
                response: value,
                deadline: tokio::time::Instant::now() + ttl,
                weight: u32::try_from(weight).unwrap_or(u32::MAX),
            };
            self.entries.insert(key, entry);
        } else {
            tracing::debug!(
                bytes = weight,
                max = self.max_entry_bytes,
                "response too large to cache"
            );
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Caches a tool's successful results.
#[derive(Clone)]
pub struct CacheLayer {
    policy: CachePolicy,
    store: Arc<dyn CacheStore>,
}

impl std::fmt::Debug for CacheLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheLayer")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl CacheLayer {
    /// Cache by `policy` in `store`.
    pub fn new(policy: CachePolicy, store: Arc<dyn CacheStore>) -> Self {
        Self { policy, store }
    }
}

/// `tool:sha256(scope, identity, canonical arguments)`, behind `t:{tenant}/` when the entry
/// is a tenant's (its scope is the tenant or one of its principals): fixed-size whatever the
/// caller sends (a tenant longer than 64 bytes, or with characters other than letters,
/// digits, `-`, `_` and `.`, is written as its SHA-256), and a shared store can list or
/// drop one tenant's entries by prefix.
fn cache_key(scope: CacheScope, request: &McpRequest) -> String {
    let tenant = request.tenant().filter(|_| scope != CacheScope::Public);
    let principal = request.principal().map_or(&b""[..], |p| p.id().as_bytes());
    let tenant_bytes = tenant.map_or(&b""[..], str::as_bytes);
    let hash = match scope {
        CacheScope::Public => digest(&[b"public"], request.arguments()),
        // A principal's entries are its tenant's too: the same id in two tenants is two
        // callers.
        CacheScope::Principal => digest(
            &[b"principal", principal, tenant_bytes],
            request.arguments(),
        ),
        CacheScope::Tenant => digest(&[b"tenant", tenant_bytes], request.arguments()),
    };
    let tool = request.target().unwrap_or("");
    match tenant {
        Some(tenant) => format!("t:{}/{tool}:{}", tenant_segment(tenant), hex(&hash)),
        None => format!("{tool}:{}", hex(&hash)),
    }
}

/// A tenant as a key segment: itself when short and plain, else `h` and its SHA-256.
fn tenant_segment(tenant: &str) -> std::borrow::Cow<'_, str> {
    let plain = tenant.len() <= 64
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plain {
        tenant.into()
    } else {
        format!("h{}", hex(&digest(&[tenant.as_bytes()], None))).into()
    }
}

impl Middleware for CacheLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let this = self.clone();
        Box::pin(async move {
            if request.method() != Method::CallTool {
                return next.oneshot(request).await;
            }
            let key = cache_key(this.policy.scope, &request);
            // Policies attach to registered tools only, so the name is a bounded label.
            let name = request.component().map(|c| c.name()).unwrap_or_default();
            match this.store.get(&key).await {
                Ok(Some(hit)) => {
                    crate::metrics::cache(name, true);
                    tracing::debug!(component = request.target(), "cache hit");
                    return Ok(McpResponse::new(Reply::Call(CallToolResponse::Complete(
                        hit.0,
                    ))));
                }
                Ok(None) => crate::metrics::cache(name, false),
                Err(error) => {
                    let mode = this.store.on_failure();
                    crate::metrics::store_failure("cache", mode.as_str());
                    if super::throttled_warning(&FAILURE_WARNED) {
                        tracing::warn!(%error, fail = mode.as_str(), "cache store failed on read; cacheable calls are {} while it fails", match mode {
                            FailMode::Open => "served by their tools",
                            FailMode::Closed => "refused",
                        });
                    }
                    if mode == FailMode::Closed {
                        return Err(ToolError::unavailable(
                            "the response cache is unavailable right now; try again shortly",
                        ));
                    }
                    crate::metrics::cache(name, false);
                }
            }
            let response = next.oneshot(request).await?;
            if let Reply::Call(CallToolResponse::Complete(result)) = &response.reply
                && result.is_error != Some(true)
                && let Err(error) = this
                    .store
                    .put(key, CachedResponse(result.clone()), this.policy.ttl)
                    .await
            {
                crate::metrics::store_failure("cache", "write");
                if super::throttled_warning(&FAILURE_WARNED) {
                    tracing::warn!(%error, "cache store failed on write; the result was returned uncached");
                }
            }
            Ok(response)
        })
    }
}

impl_layer!(CacheLayer);

#[cfg(test)]
mod tests {
    use super::*;

    fn text(len: usize) -> CachedResponse {
        CachedResponse(CallToolResult::success(vec![
            rmcp::model::ContentBlock::text("x".repeat(len)),
        ]))
    }

    #[tokio::test]
    async fn the_in_process_store_is_bounded_in_bytes() {
        let store = InProcessCache::with_max_bytes(64 << 10);
        for i in 0..200 {
            store
                .put(format!("k{i}"), text(4 << 10), Duration::from_secs(60))
                .await
                .unwrap();
        }
        let held = store.weighted_size();
        assert!(held <= 64 << 10, "{held} bytes held");
        assert!(
            held >= 32 << 10,
            "the bound is used, not avoided: {held} bytes"
        );
        // A response over an eighth of the bound is not cached at all.
        store
            .put("big".into(), text(9 << 10), Duration::from_secs(60))
            .await
            .unwrap();
        assert!(store.get("big").await.unwrap().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_on_tokio_time() {
        let store = InProcessCache::default();
        let value = text(1);
        store
            .put("k".into(), value, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(store.get("k").await.unwrap().is_some());
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(store.get("k").await.unwrap().is_none());
    }
}
