//! State that outlives one request: the per-connection [`SessionState`], the table of
//! initialized legacy [`Sessions`] (for notifications), and the typed [`StateMap`] a server
//! hands its handlers. A leaf layer: it names only protocol values from `model`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rmcp::RoleServer;
use rmcp::service::Peer;

use crate::model::LogLevel;

/// Per-connection state: the log level a legacy client set, and its resource
/// subscriptions.
#[derive(Debug)]
pub(crate) struct SessionState {
    id: u64,
    log_level: Mutex<Option<LogLevel>>,
    subscriptions: Mutex<std::collections::HashSet<String>>,
    /// The table this session is registered in, once initialized.
    registered: OnceLock<Weak<Sessions>>,
    /// Who initialized the session (the caller's binding; empty: anonymous): a legacy
    /// session serves no other caller, so a stolen session id is worth nothing without its
    /// owner's credentials.
    owner: OnceLock<Arc<str>>,
    /// Bumped by every change a replica sharing the session must learn (log level,
    /// subscriptions).
    changes: AtomicU64,
}

impl Default for SessionState {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            log_level: Mutex::default(),
            subscriptions: Mutex::default(),
            registered: OnceLock::new(),
            owner: OnceLock::new(),
            changes: AtomicU64::new(0),
        }
    }
}

impl SessionState {
    /// Bind the session to the caller that initialized it (the first binding stays).
    pub(crate) fn bind_owner(&self, caller: Arc<str>) {
        let _ = self.owner.set(caller);
    }

    /// Whether `caller` may use the session: its owner, or anyone before it is bound.
    pub(crate) fn serves(&self, caller: &str) -> bool {
        self.owner.get().is_none_or(|owner| &**owner == caller)
    }
}

impl Drop for SessionState {
    fn drop(&mut self) {
        if let Some(sessions) = self.registered.get().and_then(Weak::upgrade) {
            sessions.lock().remove(&self.id);
        }
    }
}

/// Why a subscription was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SubscribeError {
    /// The session holds the most subscriptions it may.
    Full(usize),
}

impl SessionState {
    pub(crate) fn log_level(&self) -> Option<LogLevel> {
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_log_level(&self, level: LogLevel) {
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner()) = Some(level);
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// Subscribe to `uri`, unless the session already holds `max` other subscriptions.
    pub(crate) fn subscribe(&self, uri: String, max: usize) -> Result<(), SubscribeError> {
        let mut subscriptions = self.subscriptions.lock().unwrap_or_else(|e| e.into_inner());
        if subscriptions.len() >= max && !subscriptions.contains(&uri) {
            return Err(SubscribeError::Full(max));
        }
        subscriptions.insert(uri);
        self.changes.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub(crate) fn unsubscribe(&self, uri: &str) {
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uri);
        self.changes.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn is_subscribed(&self, uri: &str) -> bool {
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(uri)
    }

    /// How many changes another replica would need to learn the session has seen.
    pub(crate) fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// What another replica needs to serve this session as this one does.
    pub(crate) fn portable(&self) -> Portable {
        let mut subscriptions: Vec<String> = self
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        subscriptions.sort_unstable();
        Portable {
            owner: self.owner.get().map(|o| o.to_string()),
            log_level: self.log_level().map(LogLevel::to_wire),
            subscriptions,
        }
    }

    /// Take on a session another replica served: its owner, log level and subscriptions.
    pub(crate) fn restore(&self, portable: Portable) {
        if let Some(owner) = portable.owner {
            self.bind_owner(owner.into());
        }
        if let Some(level) = portable.log_level {
            *self.log_level.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(LogLevel::from_wire(level));
        }
        self.subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(portable.subscriptions);
    }
}

/// A legacy session's state as replicas share it (see [`SharedSessions`]).
#[allow(deprecated)] // logging is deprecated by SEP-2577, still part of the legacy era
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Portable {
    /// The owner's binding; `None` before `initialize` bound one.
    #[serde(default)]
    pub(crate) owner: Option<String>,
    #[serde(default)]
    pub(crate) log_level: Option<rmcp::model::LoggingLevel>,
    #[serde(default)]
    pub(crate) subscriptions: Vec<String>,
}

/// Where tasks' records are kept (in process, or in Redis for every replica): each task's
/// record as bytes with a version that every replacement must name, so two replicas never
/// overwrite each other's change unseen.
pub(crate) trait TaskRecords: Send + Sync + 'static {
    /// Keep `record` as task `id`'s (version 1) for `ttl`; `false` if the id is taken or
    /// the store holds its most records.
    fn create<'a>(
        &'a self,
        id: &'a str,
        record: Vec<u8>,
        ttl: std::time::Duration,
    ) -> SharedFuture<'a, bool>;
    /// Task `id`'s version and record, if it is kept.
    fn load<'a>(&'a self, id: &'a str) -> SharedFuture<'a, Option<(u64, Vec<u8>)>>;
    /// Replace task `id`'s record if its version is still `version` (the new one is
    /// `version + 1`); `false` if it changed meanwhile or is gone.
    fn replace<'a>(&'a self, id: &'a str, version: u64, record: Vec<u8>) -> SharedFuture<'a, bool>;
    /// Whether other processes share these records (their tasks may be cancelled from
    /// elsewhere, so a running task watches its record).
    fn shared(&self) -> bool;
    /// Whether a call that would become a task is answered in the request while the store
    /// fails (`true`), rather than refused.
    fn fail_open(&self) -> bool {
        false
    }
}

/// What shared session operations return; the error says why, for a log line.
pub(crate) type SharedFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send + 'a>>;

/// Where legacy sessions are kept for every replica to find (Redis): each session's record
/// as bytes under its id, expiring unless refreshed.
pub(crate) trait SharedSessions: Send + Sync + 'static {
    /// The record of session `id`, if one is kept.
    fn load<'a>(&'a self, id: &'a str) -> SharedFuture<'a, Option<Vec<u8>>>;
    /// Keep `record` as session `id`'s for `ttl`.
    fn save<'a>(
        &'a self,
        id: &'a str,
        record: Vec<u8>,
        ttl: std::time::Duration,
    ) -> SharedFuture<'a, ()>;
    /// Keep session `id`'s record for another `ttl`; `false` when none is kept (it ended
    /// elsewhere, or expired).
    fn refresh<'a>(&'a self, id: &'a str, ttl: std::time::Duration) -> SharedFuture<'a, bool>;
    /// Forget session `id`'s record.
    fn remove<'a>(&'a self, id: &'a str) -> SharedFuture<'a, ()>;
    /// Whether sessions are refused while the store fails (`true`), or served from this
    /// replica alone (`false`).
    fn fail_closed(&self) -> bool;
}

/// The initialized legacy sessions of a server. A session leaves the table when its state
/// is dropped (the session ended), so registering one costs the same however many are live.
#[derive(Default)]
pub(crate) struct Sessions {
    live: Mutex<HashMap<u64, Registered>>,
}

/// A registered session: its peer, and its state while it lives.
type Registered = (Peer<RoleServer>, Weak<SessionState>);

impl Sessions {
    /// Remember `session`'s peer until the session ends or forgets it (the peer a session
    /// registers again replaces its earlier one).
    pub(crate) fn register(self: &Arc<Self>, peer: Peer<RoleServer>, session: &Arc<SessionState>) {
        let table = session.registered.get_or_init(|| Arc::downgrade(self));
        if !std::ptr::eq(table.as_ptr(), Arc::as_ptr(self)) {
            return; // registered with another server's table: stays there.
        }
        self.lock()
            .insert(session.id, (peer, Arc::downgrade(session)));
    }

    /// Forget `session`'s peer (the session lives on, asleep, until it registers again).
    pub(crate) fn forget(&self, session: &SessionState) {
        self.lock().remove(&session.id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Registered>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The peers of live sessions that `keep` accepts.
    pub(crate) fn peers(&self, keep: impl Fn(&SessionState) -> bool) -> Vec<Peer<RoleServer>> {
        self.lock()
            .values()
            .filter(|(peer, session)| {
                !peer.is_transport_closed() && session.upgrade().is_some_and(|s| keep(&s))
            })
            .map(|(peer, _)| peer.clone())
            .collect()
    }

    /// How many sessions are registered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The typed shared state of a server, keyed by type.
#[derive(Default, Clone)]
pub(crate) struct StateMap {
    values: HashMap<TypeId, (Arc<dyn Any + Send + Sync>, &'static str)>,
}

impl StateMap {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.values.insert(
            TypeId::of::<T>(),
            (Arc::new(value), std::any::type_name::<T>()),
        );
    }

    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.values
            .get(&TypeId::of::<T>())
            .and_then(|(v, _)| v.downcast_ref::<T>())
    }

    /// Take in every value of `other`; returns the names of the types both hold (this
    /// map's value is kept for those).
    pub(crate) fn merge(&mut self, other: StateMap) -> Vec<&'static str> {
        let mut both = Vec::new();
        for (id, value) in other.values {
            match self.values.entry(id) {
                std::collections::hash_map::Entry::Occupied(_) => both.push(value.1),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
            }
        }
        both.sort_unstable();
        both
    }

    pub(crate) fn contains(&self, id: TypeId) -> bool {
        self.values.contains_key(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler with every method at the SDK's default.
    struct DummyHandler;
    impl rmcp::ServerHandler for DummyHandler {}

    #[tokio::test]
    async fn a_session_leaves_the_table_when_it_ends() {
        let sessions = Arc::new(Sessions::default());
        let (transport, _other) = tokio::io::duplex(64);
        let running = rmcp::service::serve_directly(DummyHandler, transport, None);
        let peer = running.peer().clone();
        let states: Vec<Arc<SessionState>> = (0..3).map(|_| Arc::default()).collect();
        for state in &states {
            sessions.register(peer.clone(), state);
            sessions.register(peer.clone(), state); // twice: still once
        }
        assert_eq!(sessions.len(), 3);
        // A session put to sleep forgets its peer and registers again when it wakes.
        sessions.forget(&states[0]);
        assert_eq!(sessions.len(), 2);
        sessions.register(peer.clone(), &states[0]);
        assert_eq!(sessions.len(), 3);
        drop(states);
        assert_eq!(sessions.len(), 0);
        running.cancellation_token().cancel();
    }
}
