//! Legacy sessions, bounded: a global cap and a per-client cap on live sessions.
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
//! Admission, binding and release are each one hash-map operation: the cost of a new session
//! does not depend on how many are live.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::Stream;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions as _, ServerJsonRpcMessage};
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
    /// Which client each live session counts against, and when it began.
    live: HashMap<String, (IpAddr, std::time::Instant)>,
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
        self.lock().live.insert(
            id.to_string(),
            (reservation.0.client, std::time::Instant::now()),
        );
        crate::metrics::session_opened();
    }

    /// A session the front service did not admit (it cannot happen through it, but the
    /// count stays exact): counted against no client.
    fn bind_unreserved(&self, id: &SessionId) {
        let unknown = IpAddr::from([0, 0, 0, 0]);
        let mut counts = self.lock();
        counts.total += 1;
        *counts.per_client.entry(unknown).or_default() += 1;
        counts
            .live
            .insert(id.to_string(), (unknown, std::time::Instant::now()));
        drop(counts);
        crate::metrics::session_opened();
    }

    /// The session `id` ended: free its slot (once, however often it is closed).
    fn release(&self, id: &SessionId) {
        let mut counts = self.lock();
        if let Some((client, began)) = counts.live.remove(id.as_ref()) {
            counts.release(client);
            drop(counts);
            crate::metrics::session_closed(began.elapsed().as_secs_f64());
        }
    }

    /// Live sessions (and slots reserved for ones being created).
    pub(super) fn len(&self) -> usize {
        self.lock().total
    }
}

/// The SDK's session manager, with every session counted in a [`SessionTable`].
pub(super) struct Counted<M> {
    pub(super) inner: M,
    pub(super) table: Arc<SessionTable>,
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
        let reservation = match &message {
            ClientJsonRpcMessage::Request(request) => request
                .request
                .extensions()
                .get::<axum::http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<Reservation>())
                .cloned(),
            _ => None,
        };
        match &reservation {
            Some(reservation) => self.table.bind(id, reservation),
            None => {
                tracing::debug!("a session was created without a reserved slot");
                self.table.bind_unreserved(id);
            }
        }
        self.inner.initialize_session(id, message).await
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
