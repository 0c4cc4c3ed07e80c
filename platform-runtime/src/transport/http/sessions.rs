//! Legacy sessions, bounded and reaped: a global cap and a per-client cap on live sessions,
//! an idle timeout, and each session's handler and peer for requests served directly.
//!
//! A session costs memory until it ends (the SDK's worker task, its channels and caches, our
//! per-session state), so a client that sends `initialize` without ever closing must not be
//! able to grow the server without end. [`SessionTable`] admits a new session only while
//! both caps have room; the front service asks it before an `initialize` reaches the SDK,
//! and answers **503** (the server is full) or **429** (this client holds its share), each
//! with `Retry-After`, otherwise. [`Counted`] wraps the SDK's session manager and keeps the
//! table exact: a slot reserved for an `initialize` becomes the session's when the SDK
//! creates it, and is freed when the session closes (client `DELETE`, idle timeout,
//! shutdown) — or at once, if the `initialize` never made a session.
//!
//! Once a session is initialized the table holds its [`Engine`]: the session's handler and
//! peer, through which the front service serves the session's requests that need no stream
//! (see [`super::direct`]). Those requests never reach the SDK's session worker, so the
//! idle timeout is the table's: every request naming a session marks it used, and a reaper
//! closes sessions unused for the timeout.
//!
//! **Sleep.** A session's SDK side (its worker task, channels, caches and peer: tens of
//! kilobytes) is needed only while the SDK serves it. A session unused for the sleep delay,
//! with no stream open and no request in flight, is put to sleep: the SDK closes its worker
//! and the table keeps the compact record (the client's `initialize`, the session's
//! handler with its log level, subscriptions and owner, the counters). The next request that
//! needs the SDK wakes it: the SDK finds no session, asks [`Record`] (its session store)
//! for the `initialize`, and replays it to the session's own handler ([`waking`]), which
//! answers it without running the middleware again; the request is then served as usual.
//! A request that would reach the SDK while a session is being put to sleep waits for it
//! to finish ([`Engine::enter`]), so a session is never closed under a request.
//!
//! **Shared.** With a shared store (`[redis]`), each session's record — the client's
//! `initialize`, the negotiated version, the owner, log level and subscriptions — is also
//! kept there, expiring after the idle timeout unless a replica serving the session
//! refreshes it (at most once a second per session). A replica that receives a request for
//! a session it does not hold takes it on from the record ([`SessionTable::adopt`]): asleep,
//! woken by the same path as a session of its own, after checking the caller owns it. A
//! change to the log level or subscriptions is written back after the request that made it;
//! a `DELETE` removes the record, and every replica holding the session answers 404 once its
//! next refresh finds the record gone.
//!
//! Admission, binding, lookup and release are each one hash-map operation: the cost of a
//! request does not depend on how many sessions are live.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt as _};
use rmcp::model::{
    ClientJsonRpcMessage, GetExtensions as _, InitializeRequestParams, JsonRpcMessage,
    ProtocolVersion, RequestId, ServerJsonRpcMessage, ServerResult,
};
use rmcp::{Peer, RoleServer};
use tokio_util::sync::CancellationToken;

use crate::server::{McpHandler, SessionLink};
use crate::state::{Portable, SharedSessions};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager, SessionRestoreMarker,
    SessionState, SessionStore, SessionStoreError,
};

/// Why a new session was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The server holds its most sessions.
    Full(usize),
    /// This client holds its most sessions.
    ClientFull(usize),
}

/// Live sessions, counted in total and per client address.
pub(super) struct SessionTable {
    max: usize,
    max_per_client: usize,
    state: Mutex<Counts>,
    /// Where sessions are kept for every replica, and how long a record lives unused.
    sharing: Option<(Arc<dyn SharedSessions>, Duration)>,
}

impl std::fmt::Debug for SessionTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTable")
            .field("max", &self.max)
            .field("max_per_client", &self.max_per_client)
            .field("shared", &self.sharing.is_some())
            .finish_non_exhaustive()
    }
}

/// The largest session record kept in the shared store; a session whose `initialize` makes
/// a larger one is served by the replica that opened it alone.
const MAX_RECORD_BYTES: usize = 64 << 10;

/// The longest session id looked up in the shared store (the SDK's are UUIDs).
const MAX_ID_BYTES: usize = 128;

/// Whether `id` could be a session id: short, and only letters, digits, `-`, `_` and `.`
/// (a client-chosen id goes into a store key).
pub(super) fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A session's record in the shared store.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedRecord {
    /// The client's `initialize` parameters, as JSON.
    hello: String,
    /// The protocol version `initialize` answered with.
    version: ProtocolVersion,
    #[serde(flatten)]
    state: Portable,
}

/// Milliseconds since the first call, for refresh times.
fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Default)]
struct Counts {
    /// Live sessions and reserved slots.
    total: usize,
    per_client: HashMap<IpAddr, usize>,
    /// Each live session by id.
    live: HashMap<String, Live>,
}

/// A live session, as the table knows it.
#[derive(Debug)]
struct Live {
    /// The client it counts against.
    client: IpAddr,
    began: Instant,
    /// When a request last named it.
    used: Instant,
    /// Its handler and peer, once `initialize` has run.
    engine: Option<Arc<Engine>>,
}

impl Live {
    fn new(client: IpAddr) -> Self {
        let now = Instant::now();
        Self {
            client,
            began: now,
            used: now,
            engine: None,
        }
    }
}

/// What serving a session's request directly needs: the session's handler (its log level,
/// subscriptions and owner) and, while the SDK's side of the session is awake, the SDK's
/// peer for it (notifications a tool sends go to the session's stream), with what
/// `initialize` settled; and what putting the session to sleep and waking it needs.
pub(super) struct Engine {
    /// The session's id.
    id: Box<str>,
    pub(super) handler: McpHandler,
    /// The protocol version `initialize` answered with.
    pub(super) version: ProtocolVersion,
    /// Whether the client declared a capability through which a tool may send it a request
    /// (sampling, elicitation, roots): such a request needs the reply's stream, so the
    /// session's tool calls, prompts and reads keep the SDK's path.
    pub(super) answers_requests: bool,
    /// The client's `initialize` parameters as JSON (a fraction of their size parsed),
    /// replayed to the handler to wake the session.
    hello: Box<str>,
    /// Requests being served directly, for `notifications/cancelled`.
    in_flight: Mutex<Vec<(RequestId, CancellationToken)>>,
    /// The SDK's side of the session.
    sdk: Mutex<Sdk>,
    /// Streams the SDK holds open for the session (request streams and the GET stream).
    streams: AtomicUsize,
    /// Held for reading by a request in the SDK's hands until its response head, and for
    /// writing while the session is put to sleep or woken.
    gate: tokio::sync::RwLock<()>,
    /// Told when the worker of a session being put to sleep has ended.
    slept: tokio::sync::Notify,
    /// Whether the shared store holds the session's record.
    shared: AtomicBool,
    /// The handler's change count when the record was last written.
    saved: AtomicU64,
    /// When the record was last written or refreshed ([`now_ms`]).
    refreshed: AtomicU64,
    /// The record is gone from the shared store: the session was ended elsewhere.
    ended: AtomicBool,
}

/// The SDK's side of a session.
enum Sdk {
    /// Its worker runs; requests served directly go through this peer.
    Awake(Peer<RoleServer>),
    /// Being put to sleep: its worker is ending.
    Sleeping,
    /// No worker: the next request that needs the SDK wakes it.
    Asleep,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("version", &self.version)
            .field("answers_requests", &self.answers_requests)
            .field("asleep", &self.asleep())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// The engine of session `id`, whose `initialize` filled `link` and was answered with
    /// `reply`; `None` when either did not happen.
    fn of(id: &str, link: &SessionLink, reply: &ServerJsonRpcMessage) -> Option<Self> {
        let JsonRpcMessage::Response(response) = reply else {
            return None;
        };
        let ServerResult::InitializeResult(result) = &response.result else {
            return None;
        };
        let (handler, peer) = link.get()?;
        let params = peer.peer_info()?;
        #[allow(deprecated)] // sampling is deprecated by SEP-2577, still part of both eras
        let answers_requests = params.capabilities.sampling.is_some()
            || params.capabilities.elicitation.is_some()
            || params.capabilities.roots.is_some();
        let hello = serde_json::to_string(&*params).ok()?.into_boxed_str();
        Some(Self::new(
            id,
            handler.clone(),
            result.protocol_version.clone(),
            answers_requests,
            hello,
            Sdk::Awake(peer.clone()),
        ))
    }

    fn new(
        id: &str,
        handler: McpHandler,
        version: ProtocolVersion,
        answers_requests: bool,
        hello: Box<str>,
        sdk: Sdk,
    ) -> Self {
        Self {
            id: id.into(),
            handler,
            version,
            answers_requests,
            hello,
            in_flight: Mutex::default(),
            sdk: Mutex::new(sdk),
            streams: AtomicUsize::new(0),
            gate: tokio::sync::RwLock::new(()),
            slept: tokio::sync::Notify::new(),
            shared: AtomicBool::new(false),
            saved: AtomicU64::new(0),
            refreshed: AtomicU64::new(0),
            ended: AtomicBool::new(false),
        }
    }

    /// The engine of session `id`, another replica's, from its shared `record`: asleep,
    /// `handler` taking on the session's owner, log level and subscriptions. `None` for a
    /// record that is not one.
    pub(super) fn adopted(id: &str, handler: McpHandler, record: &[u8]) -> Option<Self> {
        if record.len() > MAX_RECORD_BYTES {
            return None;
        }
        let record: SharedRecord = serde_json::from_slice(record).ok()?;
        let params: InitializeRequestParams = serde_json::from_str(&record.hello).ok()?;
        #[allow(deprecated)] // sampling is deprecated by SEP-2577, still part of both eras
        let answers_requests = params.capabilities.sampling.is_some()
            || params.capabilities.elicitation.is_some()
            || params.capabilities.roots.is_some();
        handler.adopt(record.state);
        let engine = Self::new(
            id,
            handler,
            record.version,
            answers_requests,
            record.hello.into_boxed_str(),
            Sdk::Asleep,
        );
        engine.shared.store(true, Ordering::Release);
        engine
            .saved
            .store(engine.handler.session_changes(), Ordering::Release);
        engine.refreshed.store(now_ms(), Ordering::Release);
        Some(engine)
    }

    /// The session's record for the shared store, and the change count it holds; `None`
    /// when it would be too large.
    fn record(&self) -> Option<(Vec<u8>, u64)> {
        let (state, changes) = self.handler.portable();
        let record = SharedRecord {
            hello: self.hello.to_string(),
            version: self.version.clone(),
            state,
        };
        let bytes = serde_json::to_vec(&record).ok()?;
        (bytes.len() <= MAX_RECORD_BYTES).then_some((bytes, changes))
    }

    /// Whether the session was ended on another replica (its shared record is gone).
    pub(super) fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// The SDK's peer for the session; `None` while it is asleep (or being put to sleep).
    pub(super) fn peer(&self) -> Option<Peer<RoleServer>> {
        match &*self.lock_sdk() {
            Sdk::Awake(peer) => Some(peer.clone()),
            Sdk::Sleeping | Sdk::Asleep => None,
        }
    }

    /// Whether the SDK's side of the session is asleep (or being put to sleep).
    pub(super) fn asleep(&self) -> bool {
        !matches!(*self.lock_sdk(), Sdk::Awake(_))
    }

    /// Enter the SDK with a request of this session: the session is not put to sleep until
    /// the guard is dropped (once the SDK has answered the request's head, counting any
    /// stream it opened), and a session being put to sleep is first let finish.
    pub(super) async fn enter(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }

    /// Wake the session, alone: no other request reaches the SDK with it, and it is not
    /// put to sleep, until the guard is dropped.
    pub(super) async fn wake(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.gate.write().await
    }

    fn lock_sdk(&self) -> std::sync::MutexGuard<'_, Sdk> {
        self.sdk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the session may be put to sleep now: awake, no stream open, nothing served
    /// directly in flight.
    fn idle(&self) -> bool {
        matches!(*self.lock_sdk(), Sdk::Awake(_))
            && self.streams.load(Ordering::Acquire) == 0
            && self.lock_in_flight().is_empty()
    }

    /// Note a request served directly; the returned guard forgets it when dropped.
    pub(super) fn begin(self: &Arc<Self>, id: RequestId, token: CancellationToken) -> InFlight {
        self.lock_in_flight().push((id.clone(), token));
        InFlight {
            engine: self.clone(),
            id,
        }
    }

    /// Cancel the request `id`, if it is being served directly.
    pub(super) fn cancel(&self, id: &RequestId) -> bool {
        let in_flight = self.lock_in_flight();
        let found = in_flight.iter().find(|(each, _)| each == id);
        if let Some((_, token)) = found {
            token.cancel();
        }
        found.is_some()
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, Vec<(RequestId, CancellationToken)>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stream the SDK holds open for a session; counted while it lives.
struct OpenStream(Arc<Engine>);

impl OpenStream {
    fn new(engine: Arc<Engine>) -> Self {
        engine.streams.fetch_add(1, Ordering::AcqRel);
        Self(engine)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

tokio::task_local! {
    /// The handler of the session a request wakes, for the SDK's service factory.
    static WAKING: McpHandler;
}

/// Run `serve` (a request handed to the SDK) as the request that wakes `engine`'s session:
/// the SDK's service factory, asked for the session's handler, gets the session's own
/// ([`waking_handler`]) rather than a new one.
pub(super) async fn waking<F: std::future::Future>(engine: &Engine, serve: F) -> F::Output {
    WAKING.scope(engine.handler.clone(), serve).await
}

/// The handler of the session being woken, when the SDK's service factory is asked inside
/// [`waking`].
pub(super) fn waking_handler() -> Option<McpHandler> {
    WAKING.try_with(Clone::clone).ok()
}

/// A request being served directly; forgotten when dropped.
pub(super) struct InFlight {
    engine: Arc<Engine>,
    id: RequestId,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut in_flight = self.engine.lock_in_flight();
        if let Some(at) = in_flight.iter().position(|(each, _)| *each == self.id) {
            in_flight.swap_remove(at);
        }
    }
}

impl Counts {
    /// Count one more session of `client`, if both caps have room.
    fn admit(&mut self, client: IpAddr, max: usize, max_per_client: usize) -> Result<(), Refusal> {
        if self.total >= max {
            return Err(Refusal::Full(max));
        }
        let held = self.per_client.entry(client).or_default();
        if *held >= max_per_client {
            return Err(Refusal::ClientFull(max_per_client));
        }
        *held += 1;
        self.total += 1;
        Ok(())
    }

    fn release(&mut self, client: IpAddr) {
        self.total = self.total.saturating_sub(1);
        if let Some(count) = self.per_client.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                self.per_client.remove(&client);
            }
        }
    }
}

/// A slot held for a session about to be created; freed when dropped unless a session took
/// it. Travels to the session manager inside the request's extensions.
#[derive(Debug, Clone)]
pub(super) struct Reservation(Arc<Slot>);

#[derive(Debug)]
struct Slot {
    table: Arc<SessionTable>,
    client: IpAddr,
    taken: AtomicBool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.taken.load(Ordering::Acquire) {
            self.table.lock().release(self.client);
        }
    }
}

impl SessionTable {
    /// A table of at most `max` sessions, `max_per_client` per client address; with
    /// `sharing`, records kept in that store for every replica, living that long unused.
    pub(super) fn new(
        max: usize,
        max_per_client: usize,
        sharing: Option<(Arc<dyn SharedSessions>, Duration)>,
    ) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            max_per_client: max_per_client.max(1),
            state: Mutex::default(),
            sharing,
        })
    }

    /// The shared store, when sessions are shared.
    pub(super) fn sharing(&self) -> Option<&Arc<dyn SharedSessions>> {
        self.sharing.as_ref().map(|(store, _)| store)
    }

    /// Take on session `id` from another replica, for `client`: counted against the caps
    /// like a new session, and held asleep until its first request wakes it. Another
    /// request that took it on first wins, and its engine is returned.
    pub(super) fn adopt(
        &self,
        id: &str,
        client: IpAddr,
        engine: Engine,
    ) -> Result<Arc<Engine>, Refusal> {
        let mut counts = self.lock();
        if let Some(live) = counts.live.get_mut(id) {
            live.used = Instant::now();
            let engine = live.engine.get_or_insert_with(|| Arc::new(engine));
            return Ok(engine.clone());
        }
        counts.admit(client, self.max, self.max_per_client)?;
        let engine = Arc::new(engine);
        let mut live = Live::new(client);
        live.engine = Some(engine.clone());
        counts.live.insert(id.to_owned(), live);
        drop(counts);
        crate::metrics::session_opened();
        crate::metrics::session_asleep(true);
        Ok(engine)
    }

    /// Write `engine`'s record to the shared store.
    async fn share(&self, engine: &Engine) -> Result<(), String> {
        let Some((store, ttl)) = &self.sharing else {
            return Ok(());
        };
        let (record, changes) = engine
            .record()
            .ok_or_else(|| format!("the session's record is over {MAX_RECORD_BYTES} bytes"))?;
        store.save(&engine.id, record, *ttl).await?;
        engine.shared.store(true, Ordering::Release);
        engine.saved.store(changes, Ordering::Release);
        engine.refreshed.store(now_ms(), Ordering::Release);
        Ok(())
    }

    /// After a request of `engine`'s session: write the record back if the request changed
    /// the session (log level, subscriptions), else keep it alive (at most once a second
    /// per session, or a quarter of the idle timeout if shorter), learning whether the
    /// session was ended elsewhere.
    pub(super) async fn sync(&self, engine: &Engine) {
        let Some((store, ttl)) = &self.sharing else {
            return;
        };
        if !engine.shared.load(Ordering::Acquire) {
            return; // served by this replica alone
        }
        if self.save_changes(engine).await {
            return;
        }
        let every = u64::try_from((*ttl / 4).min(Duration::from_secs(1)).as_millis())
            .unwrap_or(1000)
            .max(10);
        let now = now_ms();
        let last = engine.refreshed.load(Ordering::Acquire);
        if now.saturating_sub(last) < every
            || engine
                .refreshed
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        match store.refresh(&engine.id, *ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!("a session's shared record is gone: it was ended elsewhere");
                engine.ended.store(true, Ordering::Release);
            }
            Err(error) => {
                tracing::debug!(%error, "a session's shared record could not be refreshed")
            }
        }
    }

    /// Write `engine`'s record back if a request changed the session since it was last
    /// written; whether it did. One comparison when nothing changed, so a streamed reply
    /// calls it before each chunk: the change is shared before the client reads the reply
    /// that confirms it.
    pub(super) async fn save_changes(&self, engine: &Engine) -> bool {
        if self.sharing.is_none()
            || !engine.shared.load(Ordering::Acquire)
            || engine.handler.session_changes() == engine.saved.load(Ordering::Acquire)
        {
            return false;
        }
        if let Err(error) = self.share(engine).await {
            crate::metrics::store_failure("sessions", "write");
            tracing::warn!(%error, "a session's change could not be shared; other replicas serve it as it was");
        }
        true
    }

    /// The client ended session `id`: forget its shared record, so no replica serves it.
    pub(super) async fn remove_shared(&self, id: &str) {
        if let Some(store) = self.sharing()
            && let Err(error) = store.remove(id).await
        {
            crate::metrics::store_failure("sessions", "write");
            tracing::warn!(%error, "an ended session's shared record could not be removed; it expires with the idle timeout");
        }
    }

    /// The sessions ended on another replica, for the reaper to close here.
    fn ended_elsewhere(&self) -> Vec<String> {
        self.lock()
            .live
            .iter()
            .filter(|(_, live)| live.engine.as_ref().is_some_and(|e| e.ended()))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hold a slot for a new session of `client`, if both caps have room.
    pub(super) fn reserve(self: &Arc<Self>, client: IpAddr) -> Result<Reservation, Refusal> {
        self.lock().admit(client, self.max, self.max_per_client)?;
        Ok(Reservation(Arc::new(Slot {
            table: self.clone(),
            client,
            taken: AtomicBool::new(false),
        })))
    }

    /// The session `id` takes `reservation`'s slot.
    fn bind(&self, id: &SessionId, reservation: &Reservation) {
        if reservation.0.taken.swap(true, Ordering::AcqRel) {
            return;
        }
        self.lock()
            .live
            .insert(id.to_string(), Live::new(reservation.0.client));
        crate::metrics::session_opened();
    }

    /// A session the front service did not admit (it cannot happen through it, but the
    /// count stays exact): counted against no client.
    fn bind_unreserved(&self, id: &SessionId) {
        let unknown = IpAddr::from([0, 0, 0, 0]);
        let mut counts = self.lock();
        counts.total += 1;
        *counts.per_client.entry(unknown).or_default() += 1;
        counts.live.insert(id.to_string(), Live::new(unknown));
        drop(counts);
        crate::metrics::session_opened();
    }

    /// The session `id` ended: free its slot (once, however often it is closed).
    fn release(&self, id: &SessionId) {
        let mut counts = self.lock();
        if let Some(live) = counts.live.remove(id.as_ref()) {
            counts.release(live.client);
            drop(counts);
            if live.engine.is_some_and(|engine| engine.asleep()) {
                crate::metrics::session_asleep(false);
            }
            crate::metrics::session_closed(live.began.elapsed().as_secs_f64());
        }
    }

    /// The session `id` was initialized: its requests may be served through `engine`.
    fn attach(&self, id: &SessionId, engine: Engine) {
        if let Some(live) = self.lock().live.get_mut(id.as_ref()) {
            live.engine = Some(Arc::new(engine));
        }
    }

    /// A request names the session `id`: mark it used, and return its engine if it has
    /// one. `None` for a session the table does not know.
    pub(super) fn touch(&self, id: &str) -> Option<Arc<Engine>> {
        let mut counts = self.lock();
        let live = counts.live.get_mut(id)?;
        live.used = Instant::now();
        live.engine.clone()
    }

    /// The sessions no request has named since `cutoff`.
    fn unused_since(&self, cutoff: Instant) -> Vec<String> {
        self.lock()
            .live
            .iter()
            .filter(|(_, live)| live.used < cutoff)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The engine of the session `id`, without marking it used.
    fn engine(&self, id: &str) -> Option<Arc<Engine>> {
        self.lock().live.get(id)?.engine.clone()
    }

    /// The sessions that may be put to sleep: unused since `cutoff`, awake and idle.
    fn drowsy(&self, cutoff: Instant) -> Vec<(String, Arc<Engine>)> {
        self.lock()
            .live
            .iter()
            .filter(|(_, live)| live.used < cutoff)
            .filter_map(|(id, live)| Some((id.clone(), live.engine.clone()?)))
            .filter(|(_, engine)| engine.idle())
            .collect()
    }

    /// Begin putting the session `id` to sleep if it is still unused since `cutoff`, awake
    /// and idle: its peer, which the caller drops once the session's handler has forgotten
    /// it.
    fn begin_sleep(&self, id: &str, cutoff: Instant) -> Option<Peer<RoleServer>> {
        let counts = self.lock();
        let live = counts.live.get(id).filter(|live| live.used < cutoff)?;
        let engine = live.engine.as_ref().filter(|engine| engine.idle())?;
        let mut sdk = engine.lock_sdk();
        match std::mem::replace(&mut *sdk, Sdk::Sleeping) {
            Sdk::Awake(peer) => Some(peer),
            other => {
                *sdk = other;
                None
            }
        }
    }

    /// The worker of the session `id` ended: if the session was being put to sleep, it is
    /// asleep now (and `true`); otherwise the session ended.
    fn slept(&self, id: &str) -> bool {
        let Some(engine) = self.engine(id) else {
            return false;
        };
        let mut sdk = engine.lock_sdk();
        if !matches!(*sdk, Sdk::Sleeping) {
            return false;
        }
        *sdk = Sdk::Asleep;
        drop(sdk);
        engine.slept.notify_one();
        true
    }

    /// The session `id` woke with a new worker, reached through `peer`.
    fn woke(&self, id: &str, peer: Peer<RoleServer>) {
        if let Some(engine) = self.engine(id) {
            let was = std::mem::replace(&mut *engine.lock_sdk(), Sdk::Awake(peer));
            if !matches!(was, Sdk::Awake(_)) {
                crate::metrics::session_asleep(false);
            }
        }
    }

    /// Live sessions (and slots reserved for ones being created).
    pub(super) fn len(&self) -> usize {
        self.lock().total
    }

    /// Live sessions asleep (or being put to sleep); one look at each.
    pub(super) fn asleep(&self) -> usize {
        self.lock()
            .live
            .values()
            .filter(|live| live.engine.as_ref().is_some_and(|engine| engine.asleep()))
            .count()
    }
}

/// The table as the SDK's session store: what a session asleep needs to wake (the
/// client's `initialize`). The records are the table's own, written when a session is
/// initialized and removed when it ends, so storing and deleting through the SDK do
/// nothing.
#[derive(Debug)]
pub(super) struct Record(pub(super) Arc<SessionTable>);

#[async_trait::async_trait]
impl SessionStore for Record {
    async fn load(&self, id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Some(engine) = self.0.engine(id) else {
            return Ok(None);
        };
        let params: InitializeRequestParams = serde_json::from_str(&engine.hello)?;
        Ok(Some(SessionState::new(params)))
    }

    async fn store(&self, _: &str, _: &SessionState) -> Result<(), SessionStoreError> {
        Ok(())
    }

    async fn delete(&self, _: &str) -> Result<(), SessionStoreError> {
        Ok(())
    }
}

/// The SDK's session manager, with every session counted in a [`SessionTable`], put to
/// sleep once unused for the sleep delay and closed once unused for the idle timeout, both
/// by the table's reaper.
pub(super) struct Counted<M> {
    inner: M,
    table: Arc<SessionTable>,
    idle: Duration,
    /// Put sessions to sleep unused for this long; `None`: never.
    sleep_after: Option<Duration>,
    shutdown: CancellationToken,
    /// Itself, for the reaper (started with the first session, inside the runtime).
    this: Weak<Self>,
    reaper: std::sync::Once,
}

/// How long putting a session to sleep waits for its worker to end.
const SLEEP_WAIT: Duration = Duration::from_secs(5);

impl<M: SessionManager> Counted<M> {
    /// `inner` counted in `table`; its sessions put to sleep after `sleep_after` unused
    /// (never when zero) and closed after `idle` unused, until `shutdown`.
    pub(super) fn new(
        inner: M,
        table: Arc<SessionTable>,
        idle: Duration,
        sleep_after: Duration,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            inner,
            table,
            idle,
            sleep_after: (!sleep_after.is_zero()).then_some(sleep_after),
            shutdown,
            this: this.clone(),
            reaper: std::sync::Once::new(),
        })
    }

    /// Start the reaper, once: every quarter of the shorter of the idle timeout and the
    /// sleep delay (between 10 ms and 30 s) it closes the sessions unused for the timeout
    /// and puts to sleep those unused for the delay. It ends with the server.
    fn start_reaper(&self) {
        self.reaper.call_once(|| {
            let this = self.this.clone();
            let shutdown = self.shutdown.clone();
            let shortest = self.sleep_after.map_or(self.idle, |s| s.min(self.idle));
            let every = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(30));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        () = shutdown.cancelled() => return,
                    }
                    let Some(manager) = this.upgrade() else {
                        return;
                    };
                    manager.reap().await;
                }
            });
        });
    }

    /// One round of the reaper.
    async fn reap(&self) {
        for id in self.table.ended_elsewhere() {
            let id: SessionId = id.into();
            if let Err(error) = self.close_session(&id).await {
                tracing::warn!(%error, "a session ended elsewhere could not be closed here");
            }
        }
        let now = Instant::now();
        if let Some(cutoff) = now.checked_sub(self.idle) {
            for id in self.table.unused_since(cutoff) {
                tracing::debug!("closing a session idle past the timeout");
                let id: SessionId = id.into();
                if let Err(error) = self.close_session(&id).await {
                    tracing::warn!(%error, "an idle session could not be closed");
                }
            }
        }
        let Some(cutoff) = self.sleep_after.and_then(|after| now.checked_sub(after)) else {
            return;
        };
        for (id, engine) in self.table.drowsy(cutoff) {
            self.sleep(id, &engine, cutoff).await;
        }
    }

    /// Put the session `id` to sleep, if it is still unused since `cutoff` and idle once no
    /// request is entering the SDK with it: close its worker, keep its record.
    async fn sleep(&self, id: String, engine: &Engine, cutoff: Instant) {
        let Ok(_gate) = engine.gate.try_write() else {
            return; // a request is in the SDK's hands: not idle
        };
        let Some(peer) = self.table.begin_sleep(&id, cutoff) else {
            return;
        };
        crate::metrics::session_asleep(true);
        engine.handler.forget_peer();
        drop(peer);
        let id: SessionId = id.into();
        if let Err(error) = self.inner.close_session(&id).await {
            tracing::warn!(%error, "a session's worker could not be closed to put it to sleep");
        }
        if tokio::time::timeout(SLEEP_WAIT, engine.slept.notified())
            .await
            .is_err()
        {
            tracing::warn!("a session's worker did not end in time; the session sleeps anyway");
            *engine.lock_sdk() = Sdk::Asleep;
        }
        tracing::debug!("a session unused past the sleep delay was put to sleep");
    }

    /// `stream`, counted as open for the session `id` while it lives.
    fn counted<S: Stream<Item = ServerSseMessage> + Send + Sync + 'static>(
        &self,
        id: &SessionId,
        stream: S,
    ) -> impl Stream<Item = ServerSseMessage> + Send + Sync + 'static {
        let open = self.table.engine(id.as_ref()).map(OpenStream::new);
        stream.map(move |event| {
            let _ = &open;
            event
        })
    }
}

impl<M: SessionManager> SessionManager for Counted<M> {
    type Error = M::Error;
    type Transport = M::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        let extensions = match &message {
            ClientJsonRpcMessage::Request(request) => Some(request.request.extensions()),
            _ => None,
        };
        let head = extensions.and_then(|e| e.get::<axum::http::request::Parts>());
        let reservation = head.and_then(|parts| parts.extensions.get::<Reservation>().cloned());
        let link = head.and_then(|parts| parts.extensions.get::<SessionLink>().cloned());
        let waking = extensions.is_some_and(|e| e.get::<SessionRestoreMarker>().is_some());
        if waking {
            // The SDK replays the `initialize` of a session asleep to its handler (through
            // the store, `Record`): the session is counted already, and now awake.
            let reply = self.inner.initialize_session(id, message).await?;
            match link.as_ref().and_then(SessionLink::get) {
                Some((_, peer)) => self.table.woke(id.as_ref(), peer.clone()),
                None => tracing::warn!("a session woke without its link; the SDK serves it"),
            }
            return Ok(reply);
        }
        match &reservation {
            Some(reservation) => self.table.bind(id, reservation),
            None => {
                tracing::debug!("a session was created without a reserved slot");
                self.table.bind_unreserved(id);
            }
        }
        self.start_reaper();
        let request_id = match &message {
            ClientJsonRpcMessage::Request(request) => Some(request.id.clone()),
            _ => None,
        };
        let reply = self.inner.initialize_session(id, message).await?;
        if let Some(engine) = link.and_then(|link| Engine::of(id.as_ref(), &link, &reply)) {
            self.table.attach(id, engine);
        }
        if let Some(store) = self.table.sharing()
            && let Some(engine) = self.table.engine(id.as_ref())
            && let Err(error) = self.table.share(&engine).await
        {
            if store.fail_closed() {
                crate::metrics::store_failure("sessions", "closed");
                tracing::warn!(%error, "a new session could not be shared; refused (sessions fail closed)");
                let _ = self.close_session(id).await;
                if let Some(request_id) = request_id {
                    return Ok(ServerJsonRpcMessage::error(
                        rmcp::model::ErrorData::internal_error(
                            "sessions are unavailable right now; retry shortly",
                            None,
                        ),
                        Some(request_id),
                    ));
                }
            } else {
                crate::metrics::store_failure("sessions", "open");
                tracing::warn!(%error, "a new session could not be shared; only this replica serves it");
            }
        }
        Ok(reply)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        // The worker of a session put to sleep ends by closing its session: the record
        // stays, asleep.
        if self.table.slept(id.as_ref()) {
            return Ok(());
        }
        let result = self.inner.close_session(id).await;
        self.table.release(id);
        result
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let stream = self.inner.create_stream(id, message).await?;
        Ok(self.counted(id, stream))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let stream = self.inner.create_standalone_stream(id).await?;
        Ok(self.counted(id, stream))
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let stream = self.inner.resume(id, last_event_id).await?;
        Ok(self.counted(id, stream))
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.inner.restore_session(id).await
    }

    fn event_store(
        &self,
    ) -> Option<Arc<dyn rmcp::transport::streamable_http_server::session::EventStore>> {
        self.inner.event_store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn caps_hold_and_slots_come_back() {
        let table = SessionTable::new(3, 2, None);
        let a1 = table.reserve(ip(1)).unwrap();
        let a2 = table.reserve(ip(1)).unwrap();
        assert_eq!(table.reserve(ip(1)).unwrap_err(), Refusal::ClientFull(2));
        let b1 = table.reserve(ip(2)).unwrap();
        assert_eq!(table.reserve(ip(3)).unwrap_err(), Refusal::Full(3));
        // An unused reservation frees its slot when dropped.
        drop(b1);
        assert_eq!(table.len(), 2);
        // A bound one is freed when its session closes, once.
        let id: SessionId = "s1".to_owned().into();
        table.bind(&id, &a1);
        drop(a1);
        assert_eq!(table.len(), 2);
        table.release(&id);
        table.release(&id);
        assert_eq!(table.len(), 1);
        drop(a2);
        assert_eq!(table.len(), 0);
        assert!(table.lock().per_client.is_empty());
    }
}
