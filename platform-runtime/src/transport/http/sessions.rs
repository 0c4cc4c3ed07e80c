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
//! Admission, binding, lookup and release are each one hash-map operation: the cost of a
//! request does not depend on how many sessions are live.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures::Stream;
use rmcp::model::{
    ClientJsonRpcMessage, GetExtensions as _, JsonRpcMessage, ProtocolVersion, RequestId,
    ServerJsonRpcMessage, ServerResult,
};
use rmcp::{Peer, RoleServer};
use tokio_util::sync::CancellationToken;

use crate::server::{McpHandler, SessionLink};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
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
#[derive(Debug)]
pub(super) struct SessionTable {
    max: usize,
    max_per_client: usize,
    state: Mutex<Counts>,
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
/// subscriptions and owner) and the SDK's peer for it (notifications a tool sends go to the
/// session's stream), with what `initialize` settled.
pub(super) struct Engine {
    pub(super) handler: McpHandler,
    pub(super) peer: Peer<RoleServer>,
    /// The protocol version `initialize` answered with.
    pub(super) version: ProtocolVersion,
    /// Whether the client declared a capability through which a tool may send it a request
    /// (sampling, elicitation, roots): such a request needs the reply's stream, so the
    /// session's tool calls, prompts and reads keep the SDK's path.
    pub(super) answers_requests: bool,
    /// Requests being served directly, for `notifications/cancelled`.
    in_flight: Mutex<Vec<(RequestId, CancellationToken)>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("version", &self.version)
            .field("answers_requests", &self.answers_requests)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// The engine of a session whose `initialize` filled `link` and was answered with
    /// `reply`; `None` when either did not happen.
    fn of(link: &SessionLink, reply: &ServerJsonRpcMessage) -> Option<Self> {
        let JsonRpcMessage::Response(response) = reply else {
            return None;
        };
        let ServerResult::InitializeResult(result) = &response.result else {
            return None;
        };
        let (handler, peer) = link.get()?;
        let capabilities = peer.peer_info()?.capabilities.clone();
        #[allow(deprecated)] // sampling is deprecated by SEP-2577, still part of both eras
        let answers_requests = capabilities.sampling.is_some()
            || capabilities.elicitation.is_some()
            || capabilities.roots.is_some();
        Some(Self {
            handler: handler.clone(),
            peer: peer.clone(),
            version: result.protocol_version.clone(),
            answers_requests,
            in_flight: Mutex::default(),
        })
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
    pub(super) fn new(max: usize, max_per_client: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            max_per_client: max_per_client.max(1),
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hold a slot for a new session of `client`, if both caps have room.
    pub(super) fn reserve(self: &Arc<Self>, client: IpAddr) -> Result<Reservation, Refusal> {
        let mut counts = self.lock();
        if counts.total >= self.max {
            return Err(Refusal::Full(self.max));
        }
        let held = counts.per_client.entry(client).or_default();
        if *held >= self.max_per_client {
            return Err(Refusal::ClientFull(self.max_per_client));
        }
        *held += 1;
        counts.total += 1;
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

    /// Live sessions (and slots reserved for ones being created).
    pub(super) fn len(&self) -> usize {
        self.lock().total
    }
}

/// The SDK's session manager, with every session counted in a [`SessionTable`] and closed
/// by the table's reaper once unused for the idle timeout.
pub(super) struct Counted<M> {
    inner: M,
    table: Arc<SessionTable>,
    idle: Duration,
    shutdown: CancellationToken,
    /// Itself, for the reaper (started with the first session, inside the runtime).
    this: Weak<Self>,
    reaper: std::sync::Once,
}

impl<M: SessionManager> Counted<M> {
    /// `inner` counted in `table`; its sessions closed after `idle` unused, until `shutdown`.
    pub(super) fn new(
        inner: M,
        table: Arc<SessionTable>,
        idle: Duration,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            inner,
            table,
            idle,
            shutdown,
            this: this.clone(),
            reaper: std::sync::Once::new(),
        })
    }

    /// Start the reaper, once: every quarter of the idle timeout (between 10 ms and 30 s)
    /// it closes the sessions unused for the timeout. It ends with the server.
    fn start_reaper(&self) {
        self.reaper.call_once(|| {
            let this = self.this.clone();
            let shutdown = self.shutdown.clone();
            let every = (self.idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(30));
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
                    let Some(cutoff) = Instant::now().checked_sub(manager.idle) else {
                        continue;
                    };
                    for id in manager.table.unused_since(cutoff) {
                        tracing::debug!("closing a session idle past the timeout");
                        let id: SessionId = id.into();
                        if let Err(error) = manager.close_session(&id).await {
                            tracing::warn!(%error, "an idle session could not be closed");
                        }
                    }
                }
            });
        });
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
        let head = match &message {
            ClientJsonRpcMessage::Request(request) => request
                .request
                .extensions()
                .get::<axum::http::request::Parts>(),
            _ => None,
        };
        let reservation = head.and_then(|parts| parts.extensions.get::<Reservation>().cloned());
        let link = head.and_then(|parts| parts.extensions.get::<SessionLink>().cloned());
        match &reservation {
            Some(reservation) => self.table.bind(id, reservation),
            None => {
                tracing::debug!("a session was created without a reserved slot");
                self.table.bind_unreserved(id);
            }
        }
        self.start_reaper();
        let reply = self.inner.initialize_session(id, message).await?;
        if let Some(engine) = link.and_then(|link| Engine::of(&link, &reply)) {
            self.table.attach(id, engine);
        }
        Ok(reply)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        let result = self.inner.close_session(id).await;
        self.table.release(id);
        result
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_stream(id, message).await
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
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await
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
        let table = SessionTable::new(3, 2);
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
