//! Response cache: `#[cache(ttl = "30s", scope = "principal")]` (moka) behind the
//! [`CacheStore`] trait. The key is the component, its arguments in canonical form and the
//! scope's identity, so entries are never shared across principals or tenants unless the
//! scope is `public`. Only successful results are cached. The store is bounded.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{CallToolResponse, CallToolResult};
use serde_json::Value;
use tower::ServiceExt as _;

use super::{Middleware, MiddlewareFuture, StoreError, StoreFuture, impl_layer};
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
pub trait CacheStore: Send + Sync + 'static {
    /// The fresh entry under `key`.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<CachedResponse>>;
    /// Store `value` under `key` for `ttl`.
    fn put<'a>(&'a self, key: String, value: CachedResponse, ttl: Duration) -> StoreFuture<'a, ()>;
}

/// The in-process store: moka, bounded by entry count; expiry follows tokio's clock.
pub struct InProcessCache {
    entries: moka::sync::Cache<String, (CachedResponse, tokio::time::Instant)>,
}

impl InProcessCache {
    /// A store holding at most `max_entries` responses (least recently used are evicted).
    pub fn new(max_entries: u64) -> Self {
        Self {
            entries: moka::sync::Cache::new(max_entries),
        }
    }
}

impl Default for InProcessCache {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl CacheStore for InProcessCache {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<CachedResponse>> {
        let found = match self.entries.get(key) {
            Some((value, deadline)) if tokio::time::Instant::now() < deadline => Some(value),
            Some(_) => {
                self.entries.invalidate(key);
                None
            }
            None => None,
        };
        Box::pin(std::future::ready(Ok(found)))
    }

    fn put<'a>(&'a self, key: String, value: CachedResponse, ttl: Duration) -> StoreFuture<'a, ()> {
        self.entries
            .insert(key, (value, tokio::time::Instant::now() + ttl));
        Box::pin(std::future::ready(Ok(())))
    }
}

/// JSON with object keys sorted, so equal arguments give equal keys whatever their order.
pub(crate) fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
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

fn cache_key(scope: CacheScope, request: &McpRequest) -> String {
    let identity = match scope {
        CacheScope::Public => "*".to_owned(),
        CacheScope::Principal => request
            .principal()
            .map_or_else(|| "anonymous".to_owned(), |p| format!("p:{}", p.id())),
        CacheScope::Tenant => request
            .tenant()
            .map_or_else(|| "none".to_owned(), |t| format!("t:{t}")),
    };
    let mut key = format!("{}|{}|", request.target().unwrap_or(""), identity);
    let arguments = request
        .arguments()
        .cloned()
        .map(Value::Object)
        .unwrap_or(Value::Null);
    canonical(&arguments, &mut key);
    key
}

impl Middleware for CacheLayer {
    fn handle(&self, request: McpRequest, next: McpService) -> MiddlewareFuture {
        let this = self.clone();
        Box::pin(async move {
            if request.method() != Method::CallTool {
                return next.oneshot(request).await;
            }
            let key = cache_key(this.policy.scope, &request);
            match this.store.get(&key).await {
                Ok(Some(hit)) => {
                    tracing::debug!(component = request.target(), "cache hit");
                    return Ok(McpResponse::new(Reply::Call(CallToolResponse::Complete(
                        hit.0,
                    ))));
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "cache store failed on read; calling through"),
            }
            let response = next.oneshot(request).await?;
            if let Reply::Call(CallToolResponse::Complete(result)) = &response.reply
                && result.is_error != Some(true)
                && let Err(error) = this
                    .store
                    .put(key, CachedResponse(result.clone()), this.policy.ttl)
                    .await
            {
                tracing::warn!(%error, "cache store failed on write");
            }
            Ok(response)
        })
    }
}

impl_layer!(CacheLayer);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_process_store_is_bounded() {
        let store = InProcessCache::new(10);
        for i in 0..200 {
            let value = CachedResponse(CallToolResult::success(vec![]));
            store
                .put(format!("k{i}"), value, Duration::from_secs(60))
                .await
                .unwrap();
        }
        store.entries.run_pending_tasks();
        assert!(
            store.entries.entry_count() <= 10,
            "{} entries",
            store.entries.entry_count()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_on_tokio_time() {
        let store = InProcessCache::default();
        let value = CachedResponse(CallToolResult::success(vec![]));
        store
            .put("k".into(), value, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(store.get("k").await.unwrap().is_some());
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(store.get("k").await.unwrap().is_none());
    }

    #[test]
    fn canonical_json_sorts_keys_recursively() {
        let a = serde_json::json!({ "b": 1, "a": { "d": [1, { "z": 0, "y": 1 }], "c": "x" } });
        let b = serde_json::json!({ "a": { "c": "x", "d": [1, { "y": 1, "z": 0 }] }, "b": 1 });
        let (mut ka, mut kb) = (String::new(), String::new());
        canonical(&a, &mut ka);
        canonical(&b, &mut kb);
        assert_eq!(ka, kb);
        assert_eq!(ka, r#"{"a":{"c":"x","d":[1,{"y":1,"z":0}]},"b":1}"#);
    }
}
