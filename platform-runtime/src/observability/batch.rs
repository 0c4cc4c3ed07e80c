//! The span queue and its exporter thread: finished spans arrive as protobuf bytes
//! ([`super::wire`]) and are appended to a buffer of the thread that finished them; a
//! thread of its own collects the buffers and posts them to the collector as one OTLP/HTTP
//! request when a batch is queued, when the schedule delay has passed, on a flush, and at
//! shutdown.
//!
//! Nothing is allocated or freed across threads per span, and threads serving requests
//! share one counter and nothing else: each appends to its own buffer under its own lock,
//! which only the exporter takes besides. The queue is bounded in spans and bytes; beyond
//! either, spans are dropped and counted, never queued without limit, and requests never
//! wait for the collector.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};
use thread_local::ThreadLocal;

use super::wire;

/// The most span bytes held, whatever the span count: a tool's own spans may carry large
/// attributes.
const MAX_QUEUED_BYTES: u64 = 4 << 20;

/// Where and how spans are sent, and how they are batched.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    /// The full traces URL (`…/v1/traces`).
    pub(super) url: String,
    /// Extra request headers (`[telemetry.otlp] headers`, `OTEL_EXPORTER_OTLP_*HEADERS`).
    pub(super) headers: reqwest::header::HeaderMap,
    /// The time one export may take.
    pub(super) timeout: Duration,
    /// The longest a span waits before it is sent (`OTEL_BSP_SCHEDULE_DELAY`).
    pub(super) delay: Duration,
    /// Spans held at most; beyond, spans are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub(super) max_queue: usize,
    /// Spans that make a batch worth sending now (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub(super) batch: usize,
}

/// One thread's queued spans: framed as `ScopeSpans.spans` fields, ready to be wrapped and
/// sent, and how many. Aligned so that two threads' buffers never share a cache line.
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<(Vec<u8>, u64)>);

/// What the queue holds, counted: spans in the high bits, bytes in the low 40. One
/// counter, so that a span is admitted with one atomic add.
struct Queued(AtomicU64);

const BYTES: u64 = (1 << 40) - 1;
const SPAN: u64 = 1 << 40;

impl Queued {
    fn spans(value: u64) -> u64 {
        value >> 40
    }
}

/// Flushes and shutdown, behind their lock.
#[derive(Default)]
struct Control {
    /// Flushes asked for and flushes done: a flush waits until the second reaches it.
    flush_wanted: u64,
    flushed: u64,
    stopped: bool,
}

/// The span queue shared by the request path, the tracer provider and the exporter thread.
pub(super) struct Batcher {
    shards: ThreadLocal<Shard>,
    queued: Queued,
    dropped: AtomicU64,
    stopping: AtomicBool,
    /// Set when a batch is queued, until the exporter takes it.
    ready: AtomicBool,
    control: Mutex<Control>,
    /// Wakes the exporter thread: a batch queued, a flush, shutdown.
    wake: Condvar,
    /// Wakes those waiting for a flush or shutdown.
    done: Condvar,
    settings: Settings,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("url", &self.settings.url)
            .finish_non_exhaustive()
    }
}

fn unpoisoned<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Batcher {
    /// Start the exporter thread for spans of `resource` (an encoded `Resource` body).
    pub(super) fn start(settings: Settings, resource: Vec<u8>) -> std::io::Result<Arc<Self>> {
        let batcher = Arc::new(Self {
            shards: ThreadLocal::new(),
            queued: Queued(AtomicU64::new(0)),
            dropped: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            control: Mutex::new(Control::default()),
            wake: Condvar::new(),
            done: Condvar::new(),
            settings,
            thread: Mutex::new(None),
        });
        let worker = batcher.clone();
        let handle = std::thread::Builder::new()
            .name("platform-otlp-spans".into())
            .spawn(move || worker.run(&resource))?;
        *unpoisoned(&batcher.thread) = Some(handle);
        Ok(batcher)
    }

    /// Queue one encoded span (a `Span` message's body); dropped when the queue is full or
    /// shut down.
    pub(super) fn push(&self, span: &[u8]) {
        if self.stopping.load(Ordering::Relaxed) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let framed = 1 + wire::varint_len(span.len() as u64) + span.len();
        let adds = SPAN + framed as u64;
        let before = self.queued.0.fetch_add(adds, Ordering::AcqRel);
        let spans = Queued::spans(before) + 1;
        if spans > self.settings.max_queue as u64
            || (before & BYTES) + framed as u64 > MAX_QUEUED_BYTES
        {
            self.queued.0.fetch_sub(adds, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut shard = unpoisoned(&self.shards.get_or_default().0);
        wire::frame(&mut shard.0, span);
        shard.1 += 1;
        drop(shard);
        if spans == self.settings.batch as u64 {
            // Under the control lock, so that the exporter cannot miss it between its
            // check and its wait.
            self.ready.store(true, Ordering::Release);
            let _control = unpoisoned(&self.control);
            self.wake.notify_one();
        }
    }

    /// Send what is queued now and wait for it (bounded by the export timeout).
    pub(super) fn flush(&self) -> OTelSdkResult {
        let mut control = unpoisoned(&self.control);
        if control.stopped {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        control.flush_wanted += 1;
        let wanted = control.flush_wanted;
        self.wake.notify_one();
        let (control, timeout) = self
            .done
            .wait_timeout_while(
                control,
                self.settings.timeout + Duration::from_secs(1),
                |c| c.flushed < wanted && !c.stopped,
            )
            .unwrap_or_else(PoisonError::into_inner);
        drop(control);
        if timeout.timed_out() {
            return Err(OTelSdkError::Timeout(self.settings.timeout));
        }
        Ok(())
    }

    /// Send what is queued, stop the thread, and accept no more spans.
    pub(super) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let control = unpoisoned(&self.control);
        if self.stopping.swap(true, Ordering::AcqRel) {
            return if control.stopped {
                Ok(())
            } else {
                Err(OTelSdkError::AlreadyShutdown)
            };
        }
        self.wake.notify_one();
        let (control, waited) = self
            .done
            .wait_timeout_while(control, timeout, |c| !c.stopped)
            .unwrap_or_else(PoisonError::into_inner);
        drop(control);
        if waited.timed_out() {
            // The thread is still sending; it exits when that send ends.
            return Err(OTelSdkError::Timeout(timeout));
        }
        if let Some(handle) = unpoisoned(&self.thread).take() {
            let _ = handle.join();
        }
        Ok(())
    }

    /// Every thread's queued spans, appended to `into`; their count. They still count
    /// against the queue's bounds until [`release`](Self::release)d, once sent: the spans
    /// held, queued or in the exporter's hands, never pass the bounds.
    fn collect(&self, into: &mut Vec<u8>) -> usize {
        let mut spans = 0u64;
        for shard in self.shards.iter() {
            let (mut taken, count) = std::mem::take(&mut *unpoisoned(&shard.0));
            into.extend_from_slice(&taken);
            spans += count;
            // The buffer goes back, emptied, to keep its capacity (unless the thread
            // queued more meanwhile).
            taken.clear();
            let mut current = unpoisoned(&shard.0);
            if current.0.is_empty() {
                current.0 = taken;
            }
        }
        usize::try_from(spans).unwrap_or(usize::MAX)
    }

    /// `spans` collected spans of `bytes` framed bytes are sent (or given up on): their
    /// room in the queue is free again.
    fn release(&self, spans: usize, bytes: usize) {
        self.queued
            .0
            .fetch_sub(spans as u64 * SPAN + bytes as u64, Ordering::AcqRel);
    }

    /// The exporter thread.
    fn run(&self, resource: &[u8]) {
        // reqwest is built without a bundled crypto provider; building a client without one
        // installed panics (and an https collector needs one anyway).
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Built here, off any async runtime: the blocking client runs one of its own.
        let client = reqwest::blocking::Client::builder()
            .timeout(self.settings.timeout)
            .build();
        let client = match client {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::error!(target: "platform::telemetry", %error, "no HTTP client for the span exporter: spans are dropped");
                None
            }
        };
        let scope = wire::scope("platform", env!("CARGO_PKG_VERSION"));
        let mut spans = Vec::new();
        let mut failures = Failures::default();
        loop {
            let mut control = unpoisoned(&self.control);
            let deadline = Instant::now() + self.settings.delay;
            while !self.ready.load(Ordering::Acquire)
                && !self.stopping.load(Ordering::Acquire)
                && control.flush_wanted == control.flushed
            {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                control = self
                    .wake
                    .wait_timeout(control, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            let wanted = control.flush_wanted;
            let stop = self.stopping.load(Ordering::Acquire);
            drop(control);
            self.ready.store(false, Ordering::Release);
            spans.clear();
            let count = self.collect(&mut spans);
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                tracing::warn!(target: "platform::telemetry", dropped, max_queue = self.settings.max_queue, "spans dropped: the export queue was full");
            }
            // One request per `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` spans at most.
            let (mut rest, mut left) = (&spans[..], count);
            while left > 0 && !rest.is_empty() {
                let n = left.min(self.settings.batch.max(1));
                let (batch, after) = rest.split_at(wire::frames_len(rest, n));
                if let Some(client) = &client {
                    let mut body = Vec::new();
                    wire::request(resource, &scope, batch, &mut body);
                    failures.record(n, self.post(client, body));
                }
                self.release(n, batch.len());
                (rest, left) = (after, left - n);
            }
            self.release(left, rest.len());
            let mut control = unpoisoned(&self.control);
            control.flushed = wanted;
            control.stopped = stop;
            self.done.notify_all();
            if stop {
                return;
            }
        }
    }

    fn post(&self, client: &reqwest::blocking::Client, body: Vec<u8>) -> Result<(), String> {
        let response = client
            .post(&self.settings.url)
            .headers(self.settings.headers.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .body(body)
            .send()
            .map_err(|error| error.to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the collector answered {status}"))
        }
    }
}

/// Export failures, logged when they start, then at most once a minute, and when exports
/// succeed again: a dead collector must not flood the log.
#[derive(Default)]
struct Failures {
    since: Option<(Instant, u64)>,
    logged: Option<Instant>,
}

impl Failures {
    fn record(&mut self, spans: usize, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                if let Some((_, lost)) = self.since.take() {
                    tracing::info!(target: "platform::telemetry", lost, "spans are exported again");
                }
                self.logged = None;
            }
            Err(error) => {
                let (_, lost) = self.since.get_or_insert((Instant::now(), 0));
                *lost += spans as u64;
                let lost = *lost;
                if self
                    .logged
                    .is_none_or(|at| at.elapsed() >= Duration::from_secs(60))
                {
                    tracing::warn!(target: "platform::telemetry", %error, spans, lost, "could not export spans");
                    self.logged = Some(Instant::now());
                }
            }
        }
    }
}

/// The tracer provider's processor: the tool's own spans, encoded where they end and
/// queued with the request spans.
#[derive(Debug)]
pub(super) struct Processor(pub(super) Arc<Batcher>);

impl SpanProcessor for Processor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let mut buf = Vec::with_capacity(256);
        wire::sdk_span(&mut buf, &span);
        self.0.push(&buf);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max_queue: usize, batch: usize) -> Settings {
        Settings {
            // Nothing listens on port 9 of loopback: every export fails fast.
            url: "http://127.0.0.1:9/v1/traces".into(),
            headers: reqwest::header::HeaderMap::new(),
            timeout: Duration::from_secs(1),
            delay: Duration::from_secs(3600),
            max_queue,
            batch,
        }
    }

    #[test]
    fn the_queue_is_bounded_in_spans_and_bytes_and_counts_what_it_drops() {
        let batcher = Batcher::start(settings(100, 1000), Vec::new()).unwrap();
        for _ in 0..150 {
            batcher.push(&[1u8; 10]);
        }
        let queued = |b: &Batcher| b.queued.0.load(Ordering::Acquire);
        // Each span is framed as `ScopeSpans.spans`: tag, length, bytes.
        assert_eq!(queued(&batcher), 100 * SPAN + 100 * 12);
        assert_eq!(batcher.dropped.load(Ordering::Relaxed), 50);
        // Spans from another thread join the same queue and bound.
        std::thread::scope(|scope| {
            scope.spawn(|| batcher.push(&[2u8; 10]));
        });
        assert_eq!(batcher.dropped.load(Ordering::Relaxed), 51);
        batcher.flush().unwrap();
        assert_eq!(queued(&batcher), 0, "a flush takes everything queued");
        let big = vec![0u8; (MAX_QUEUED_BYTES / 2) as usize];
        batcher.push(&big);
        batcher.push(&big);
        assert_eq!(
            Queued::spans(queued(&batcher)),
            1,
            "the byte bound holds whatever the count"
        );
        std::thread::scope(|scope| {
            scope.spawn(|| batcher.push(&[2u8; 10]));
        });
        let mut all = Vec::new();
        assert_eq!(
            batcher.collect(&mut all),
            2,
            "every thread's spans are collected"
        );
        assert_eq!(
            Queued::spans(queued(&batcher)),
            2,
            "collected spans count until they are sent"
        );
        batcher.push(&big);
        assert_eq!(
            Queued::spans(queued(&batcher)),
            2,
            "and hold their room in the byte bound"
        );
        batcher.release(2, all.len());
        assert_eq!(queued(&batcher), 0);
        batcher.shutdown(Duration::from_secs(5)).unwrap();
        batcher.push(&[1u8; 10]);
        assert_eq!(queued(&batcher), 0, "nothing is queued after shutdown");
        assert!(batcher.flush().is_err());
        assert!(
            batcher.shutdown(Duration::from_secs(1)).is_ok(),
            "twice is fine"
        );
    }
}
