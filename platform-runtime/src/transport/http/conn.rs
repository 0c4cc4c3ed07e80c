//! The HTTP/1.1 connection layer: our own accept loop over hyper, so that no client can hold
//! the server with a connection that never finishes.
//!
//! - **Header-read timeout**: once a connection opens, or once a byte of a request arrives
//!   after the previous response, the whole request head must arrive within
//!   [`Limits::header_read_timeout`]. A client that trickles one header byte at a time is
//!   cut off when the time is up, however often it sends.
//! - **Idle timeout**: a keep-alive connection with no request in progress and nothing read
//!   is closed after [`Limits::idle_timeout`].
//! - **Body-read timeout**: a request body must arrive within [`Limits::body_read_timeout`]
//!   of its first wait; reading it fails with [`BodyTimeout`] after that.
//! - **Connection cap**: at most [`Limits::max_connections`] connections are served. At the
//!   cap, a new connection closes the one that has been silent longest (no request in
//!   progress, no byte of the next one, for at least a tick) and takes its slot. When every
//!   connection is busy, a few more ([`OVERFLOW_CONNECTIONS`]) are answered in a probe-only
//!   mode —
//!   `/healthz` and `/readyz` as usual, **503** with `Retry-After` for anything else, one
//!   request each, due within a second — so health checks keep answering while the server is
//!   full; connections beyond those are closed at once.
//!
//! The request path only touches a few atomics of its connection. One watchdog for all
//! connections, run by the accept loop's task, wakes every [`TICK`], advances a coarse clock
//! the connections stamp their activity with, and signals those whose deadline passed; a
//! deadline is enforced within two ticks. Draining is signalled the same way.
//!
//! Every accepted socket gets `TCP_NODELAY`, and every request carries the peer's address as
//! a [`ClientAddress`] extension. Time is tokio's, so paused-time tests control it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::Request;
use futures::task::AtomicWaker;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// How many connections beyond the cap are served in probe-only mode.
pub const OVERFLOW_CONNECTIONS: usize = 32;

/// How long a probe-only connection may take to send its one request: probes send theirs
/// at once, so a connection that holds an overflow slot idle is let go quickly.
const OVERFLOW_HEAD_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the watchdog looks at every connection.
const TICK: Duration = Duration::from_millis(250);

/// The peer address of the connection a request came on, as a request extension.
///
/// Behind a reverse proxy this is the proxy's address: per-client limits then count the
/// proxy as one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub SocketAddr);

/// Reading a request body took longer than the body-read timeout.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// The connection layer's bounds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) header_read_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) body_read_timeout: Duration,
    pub(super) max_connections: usize,
}

/// What the connection layer counted.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Connections closed for a slow request head.
    pub(super) header_timeouts: AtomicU64,
    /// Connections closed for idleness.
    pub(super) idle_closed: AtomicU64,
    /// Connections answered in probe-only mode.
    pub(super) overflowed: AtomicU64,
    /// Connections closed at once: over the cap and the probe-only reserve.
    pub(super) refused: AtomicU64,
    /// Silent or idle connections closed to make room for a new one.
    pub(super) evicted: AtomicU64,
    /// Connections open now.
    pub(super) open: AtomicUsize,
}

/// The open connections, for the watchdog.
#[derive(Default)]
struct Watched {
    next: u64,
    connections: HashMap<u64, Arc<Activity>>,
}

/// A coarse clock, in milliseconds since the accept loop started, advanced by the watchdog.
struct Clock {
    start: Instant,
    now: AtomicU64,
}

impl Clock {
    fn advance(&self) -> u64 {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(NONE - 1);
        self.now.store(now, Ordering::Relaxed);
        now
    }

    fn now(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
}

/// The accept loop: serves `app` on every connection until `drain` fires, then lets open
/// connections finish their requests (new ones are not read). `probes` answers connections
/// over the cap. Returns when every connection has closed; dropping the future (after the
/// grace period) closes them all.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    probes: Router,
    limits: Limits,
    drain: CancellationToken,
    counters: Arc<Counters>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
    let watched = Arc::new(Mutex::new(Watched::default()));
    let clock = Arc::new(Clock {
        start: Instant::now(),
        now: AtomicU64::new(0),
    });
    let mut connections = tokio::task::JoinSet::new();
    let last_refusal_log = AtomicU64::new(0);
    let tick = tokio::time::sleep(TICK);
    tokio::pin!(tick);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = drain.cancelled() => break,
            () = tick.as_mut() => {
                watch(&watched, &clock, &counters);
                tick.as_mut().reset(Instant::now() + TICK);
                continue;
            }
            // Reap finished connection tasks so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set on an accepted socket");
        }
        let admission = match slots.clone().try_acquire_owned() {
            Ok(permit) => Admission::Served(permit),
            // Full: make room by closing the connection that has waited longest without
            // saying anything (a silent new one, or an idle keep-alive one), as a server
            // does with reusable connections; the new one takes its slot.
            Err(_) if evict_one(&watched, &clock) => {
                counters.evicted.fetch_add(1, Ordering::Relaxed);
                Admission::AfterEviction
            }
            Err(_) => match overflow.clone().try_acquire_owned() {
                Ok(permit) => {
                    counters.overflowed.fetch_add(1, Ordering::Relaxed);
                    Admission::ProbesOnly(permit)
                }
                Err(_) => {
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                    // One line a second at most, however many are refused.
                    let second = clock.now() / 1000 + 1;
                    if last_refusal_log.swap(second, Ordering::Relaxed) != second {
                        tracing::warn!(
                            max = limits.max_connections,
                            "connection limit reached and every connection busy; new connections are closed"
                        );
                    }
                    drop(stream);
                    continue;
                }
            },
        };
        let (app, probes, slots) = (app.clone(), probes.clone(), slots.clone());
        let (watched, clock, counters) = (watched.clone(), clock.clone(), counters.clone());
        connections.spawn(async move {
            let (router, mode, permit) = match admission {
                Admission::Served(permit) => (app, Mode::Full, permit),
                Admission::ProbesOnly(permit) => (probes, Mode::ProbesOnly, permit),
                Admission::AfterEviction => {
                    match tokio::time::timeout(EVICTION_WAIT, slots.acquire_owned()).await {
                        Ok(Ok(permit)) => (app, Mode::Full, permit),
                        _ => return,
                    }
                }
            };
            let timeouts = match mode {
                Mode::Full => limits,
                Mode::ProbesOnly => Limits {
                    header_read_timeout: limits.header_read_timeout.min(OVERFLOW_HEAD_TIMEOUT),
                    idle_timeout: limits.idle_timeout.min(OVERFLOW_HEAD_TIMEOUT),
                    ..limits
                },
            };
            let activity = Arc::new(Activity::new(clock, timeouts, mode == Mode::Full));
            counters.open.fetch_add(1, Ordering::Relaxed);
            let id = {
                let mut watched = watched.lock().unwrap_or_else(|e| e.into_inner());
                let id = watched.next;
                watched.next += 1;
                watched.connections.insert(id, activity.clone());
                id
            };
            let entry = Entry {
                id,
                watched,
                counters,
            };
            serve_connection(stream, peer, router, mode, activity, limits).await;
            drop((entry, permit));
        });
    }
    // Draining: no new connections; open ones finish what they are doing. The watchdog
    // goes on, so a connection trickling a head cannot hold the drain.
    drop(listener);
    {
        let watched = watched.lock().unwrap_or_else(|e| e.into_inner());
        for activity in watched.connections.values() {
            activity.signal(DRAIN);
        }
    }
    loop {
        tokio::select! {
            joined = connections.join_next() => if joined.is_none() { break },
            () = tick.as_mut() => {
                watch(&watched, &clock, &counters);
                tick.as_mut().reset(Instant::now() + TICK);
            }
        }
    }
}

/// How a new connection is admitted.
enum Admission {
    Served(tokio::sync::OwnedSemaphorePermit),
    /// Another connection was told to close; this one takes its slot when it is free.
    AfterEviction,
    ProbesOnly(tokio::sync::OwnedSemaphorePermit),
}

/// How long a connection admitted by an eviction waits for the slot to come free.
const EVICTION_WAIT: Duration = Duration::from_secs(1);

/// How long a connection must have been silent to be closed to make room: at least a
/// watchdog tick, so one whose first bytes are in the socket but not read yet is never
/// taken for silent.
const SILENT_GRACE_MS: u64 = 250;

/// Tell the connection that has waited longest without sending anything to close; whether
/// there was one.
fn evict_one(watched: &Mutex<Watched>, clock: &Clock) -> bool {
    let now = clock.now();
    let watched = watched.lock().unwrap_or_else(|e| e.into_inner());
    let victim = watched
        .connections
        .values()
        .filter_map(|activity| activity.silent_since().map(|since| (since, activity)))
        .filter(|(since, _)| now.saturating_sub(*since) >= SILENT_GRACE_MS)
        .min_by_key(|(since, _)| *since);
    match victim {
        Some((_, activity)) => {
            activity.signal(EVICTED);
            true
        }
        None => false,
    }
}

/// Signal every connection whose head or idle deadline has passed.
fn watch(watched: &Mutex<Watched>, clock: &Clock, counters: &Counters) {
    let now = clock.advance();
    let watched = watched.lock().unwrap_or_else(|e| e.into_inner());
    for activity in watched.connections.values() {
        match activity.overdue(now) {
            Some(HEAD_EXPIRED) => {
                counters.header_timeouts.fetch_add(1, Ordering::Relaxed);
                activity.signal(HEAD_EXPIRED);
            }
            Some(why) => {
                counters.idle_closed.fetch_add(1, Ordering::Relaxed);
                activity.signal(why);
            }
            None => {}
        }
    }
}

/// A connection's place in the watchdog's table and the open count, given up when dropped
/// (its task ended or was aborted).
struct Entry {
    id: u64,
    watched: Arc<Mutex<Watched>>,
    counters: Arc<Counters>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::Relaxed);
        self.watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .connections
            .remove(&self.id);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full,
    ProbesOnly,
}

/// Serve one connection until it closes, times out, or (after a drain) finishes its request.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    mode: Mode,
    activity: Arc<Activity>,
    limits: Limits,
) {
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request: Request<Incoming>| {
            let guard = activity.request_started();
            let mut request = request.map(|body| {
                Body::new(TimedBody {
                    inner: body,
                    limit: limits.body_read_timeout,
                    sleep: None,
                })
            });
            request.extensions_mut().insert(ClientAddress(peer));
            let response = router.clone().oneshot(request);
            async move {
                let response = match response.await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(response.map(|body| Body::new(Finished { inner: body, guard })))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The watchdog times heads (hyper's timer would also close idle connections at the
    // header timeout), and keep-alive is off where each connection gets one answer.
    builder
        .header_read_timeout(None)
        .keep_alive(mode == Mode::Full);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        tokio::select! {
            biased;
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            signal = activity.signalled(draining) => {
                if signal & HEAD_EXPIRED != 0 {
                    tracing::info!(%peer, timeout = ?limits.header_read_timeout, "closed a connection: the request head did not arrive in time");
                    return;
                }
                if signal & IDLE_EXPIRED != 0 {
                    tracing::debug!(%peer, "closed an idle connection");
                    return;
                }
                if signal & EVICTED != 0 {
                    // Unless a request began since the watchdog chose it.
                    if activity.in_flight.load(Ordering::Acquire) == 0
                        && !activity.head_bytes.load(Ordering::Relaxed)
                    {
                        tracing::debug!(%peer, "closed a silent connection to make room");
                        return;
                    }
                    activity.signal.fetch_and(!EVICTED, Ordering::AcqRel);
                    if signal & DRAIN == 0 {
                        continue;
                    }
                }
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Sentinel for "no request head in progress".
const NONE: u64 = u64::MAX;

/// Signals from the watchdog and the accept loop.
const DRAIN: u8 = 1;
const HEAD_EXPIRED: u8 = 2;
const IDLE_EXPIRED: u8 = 4;
const EVICTED: u8 = 8;

/// What one connection is doing, in atomics the watchdog reads, and the signal it sends
/// back.
struct Activity {
    clock: Arc<Clock>,
    header_read_timeout: u64,
    idle_timeout: u64,
    /// Requests whose response has not been written out yet.
    in_flight: AtomicUsize,
    /// When (coarse milliseconds) the last byte was read, or the last response ended.
    last_io: AtomicU64,
    /// When the current request head began ([`NONE`]: no head in progress). The first
    /// head is due from the connection's opening.
    head_from: AtomicU64,
    /// Whether a byte of the next request has arrived (so it is not silent).
    head_bytes: std::sync::atomic::AtomicBool,
    /// Whether it may be closed to make room (a fully served connection, not probe-only).
    evictable: bool,
    signal: AtomicU8,
    waker: AtomicWaker,
}

impl Activity {
    fn new(clock: Arc<Clock>, limits: Limits, evictable: bool) -> Self {
        let now = clock.now();
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2);
        Self {
            header_read_timeout: millis(limits.header_read_timeout),
            idle_timeout: millis(limits.idle_timeout),
            clock,
            in_flight: AtomicUsize::new(0),
            last_io: AtomicU64::new(now),
            head_from: AtomicU64::new(now),
            head_bytes: std::sync::atomic::AtomicBool::new(false),
            evictable,
            signal: AtomicU8::new(0),
            waker: AtomicWaker::new(),
        }
    }

    /// Bytes were read: a head starts with the first byte read while no request is in
    /// progress.
    fn on_read(&self) {
        let now = self.clock.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_from.load(Ordering::Relaxed) == NONE
        {
            let _ = self
                .head_from
                .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// A request head arrived; the returned guard ends the request when dropped.
    fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_from.store(NONE, Ordering::Release);
        self.head_bytes.store(false, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Since when the connection has been silent — no request in progress and no byte of
    /// the next one — if it is, may be evicted, and has not been signalled already.
    fn silent_since(&self) -> Option<u64> {
        (self.evictable
            && self.signal.load(Ordering::Relaxed) == 0
            && self.in_flight.load(Ordering::Acquire) == 0
            && !self.head_bytes.load(Ordering::Relaxed))
        .then(|| self.last_io.load(Ordering::Relaxed))
    }

    /// Which deadline has passed at `now`, if any.
    fn overdue(&self, now: u64) -> Option<u8> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        match self.head_from.load(Ordering::Acquire) {
            NONE => (now
                >= self
                    .last_io
                    .load(Ordering::Relaxed)
                    .saturating_add(self.idle_timeout))
            .then_some(IDLE_EXPIRED),
            from => (now >= from.saturating_add(self.header_read_timeout)).then_some(HEAD_EXPIRED),
        }
    }

    fn signal(&self, what: u8) {
        self.signal.fetch_or(what, Ordering::AcqRel);
        self.waker.wake();
    }

    /// Resolves with the signals sent (a drain already acted on does not count again).
    fn signalled(&self, drained: bool) -> impl Future<Output = u8> + '_ {
        let ignore = if drained { DRAIN } else { 0 };
        std::future::poll_fn(move |cx| {
            let pending = |s: &Self| s.signal.load(Ordering::Acquire) & !ignore;
            if pending(self) != 0 {
                return Poll::Ready(pending(self));
            }
            self.waker.register(cx.waker());
            match pending(self) {
                0 => Poll::Pending,
                signal => Poll::Ready(signal),
            }
        })
    }
}

/// One request in progress on a connection.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity
            .last_io
            .store(activity.clock.now(), Ordering::Relaxed);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that reports what it reads to the connection's [`Activity`].
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that fails with [`BodyTimeout`] once it has kept the reader waiting
/// longer than its limit. The timer is made only if the body is not all there when first
/// read.
struct TimedBody {
    inner: Incoming,
    limit: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let limit = self.limit;
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if sleep.as_mut().poll(cx).is_ready() {
                    tracing::info!(timeout = ?limit, "request body timed out");
                    return Poll::Ready(Some(Err(Box::new(BodyTimeout(limit)))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that ends its request (for the watchdog) when it is done or dropped.
struct Finished {
    inner: Body,
    #[allow(dead_code)] // held for its `Drop`
    guard: InFlight,
}

impl hyper::body::Body for Finished {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
