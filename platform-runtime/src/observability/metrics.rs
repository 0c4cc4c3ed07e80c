//! Metrics: the OpenTelemetry meter behind [`crate::metrics`], read by Prometheus on a
//! listener of its own (`[telemetry.metrics] bind`, `GET /metrics`) and pushed over OTLP
//! when export is configured.
//!
//! The exposition is rendered here from the SDK's aggregated data in the Prometheus text
//! format 0.0.4: dots become underscores, a unit of seconds adds `_seconds`, counters end
//! in `_total`, histograms give `_bucket` (cumulative, with `le`), `_sum` and `_count`.
//!
//! The listener is small on purpose: one request per connection, 16 connections at a time
//! (more are closed at once), 10 s per connection head to tail, `GET`/`HEAD /metrics` only.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

use super::TelemetryError;
use crate::config::TelemetrySection;
use crate::metrics::{Instruments, SharedReader as Shared};

/// The most connections the metrics listener serves at once.
const MAX_CONNECTIONS: usize = 16;
/// How long one connection may take, request head to last byte.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// The installed metrics: the provider, the instruments every layer records into, and the
/// Prometheus listener when one is configured.
#[derive(Debug)]
pub(super) struct Metrics {
    provider: SdkMeterProvider,
    instruments: Arc<Instruments>,
    listener: Option<Listener>,
}

impl std::fmt::Debug for Instruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Instruments")
    }
}

/// The Prometheus listener's thread and how to stop it.
#[derive(Debug)]
struct Listener {
    stop: tokio::sync::watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
    addr: SocketAddr,
}

impl Metrics {
    /// The metrics `[telemetry]` asks for: none unless `[telemetry.metrics] bind` or OTLP
    /// export is configured. Binds the listener now, so a taken port is an error at start.
    pub(super) fn start(
        section: &TelemetrySection,
        service: &str,
    ) -> Result<Option<Self>, TelemetryError> {
        let bind = match &section.metrics {
            Some(metrics) => Some(metrics.bind.ok_or_else(|| {
                TelemetryError(
                    "`[telemetry.metrics]` has no `bind`: set `bind = \"127.0.0.1:9464\"` (or `PLATFORM_TELEMETRY__METRICS__BIND`), or remove the section".into(),
                )
            })?),
            None => None,
        };
        let otlp = super::otlp::metrics_reader(section.otlp.as_ref())?;
        if bind.is_none() && otlp.is_none() {
            return Ok(None);
        }
        let mut builder = SdkMeterProvider::builder()
            .with_resource(super::otlp::resource(section.otlp.as_ref(), service));
        if let Some(reader) = otlp {
            builder = builder.with_reader(reader);
        }
        let listener = match bind {
            Some(addr) => {
                let reader = Shared(Arc::new(ManualReader::builder().build()));
                builder = builder.with_reader(reader.clone());
                Some(Listener::start(addr, reader)?)
            }
            None => None,
        };
        let provider = builder.build();
        let instruments = Arc::new(Instruments::new(&provider.meter("platform")));
        crate::metrics::install(instruments.clone());
        Ok(Some(Self {
            provider,
            instruments,
            listener,
        }))
    }

    /// Where `GET /metrics` is served, when it is.
    pub(super) fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().map(|l| l.addr)
    }

    /// Stop recording, close the listener and push what OTLP has not yet seen.
    pub(super) fn shutdown(self) {
        crate::metrics::uninstall(&self.instruments);
        if let Some(listener) = self.listener {
            let _ = listener.stop.send(true);
            let _ = listener.thread.join();
        }
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "the metric exporter did not shut down cleanly");
        }
    }
}

impl Listener {
    /// Bind `addr` and serve `/metrics` on a thread of its own, so that a scrape never
    /// waits behind requests and the listener needs no runtime from the program.
    fn start(addr: SocketAddr, reader: Shared) -> Result<Self, TelemetryError> {
        let std_listener = std::net::TcpListener::bind(addr).map_err(|error| {
            TelemetryError(format!(
                "`telemetry.metrics.bind` {addr}: {error}; choose a free address"
            ))
        })?;
        std_listener
            .set_nonblocking(true)
            .map_err(|error| TelemetryError(format!("the metrics listener: {error}")))?;
        let addr = std_listener
            .local_addr()
            .map_err(|error| TelemetryError(format!("the metrics listener: {error}")))?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("platform-metrics".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        tracing::error!(%error, "the metrics listener could not start");
                        return;
                    }
                };
                runtime.block_on(serve(std_listener, reader, stopped));
            })
            .map_err(|error| TelemetryError(format!("the metrics listener: {error}")))?;
        tracing::info!(%addr, "serving metrics at http://{addr}/metrics");
        Ok(Self { stop, thread, addr })
    }
}

/// Accept until stopped; each connection gets one request within [`CONNECTION_TIMEOUT`].
async fn serve(
    listener: std::net::TcpListener,
    reader: Shared,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "the metrics listener could not start");
            return;
        }
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let collect = Arc::new(Mutex::new(reader));
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        // Full: close the connection rather than queue it.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let collect = collect.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let collect = collect.clone();
                async move { Ok::<_, std::convert::Infallible>(respond(&request, &collect)) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(false)
                .max_buf_size(16 * 1024)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            drop(slot);
        });
    }
}

type Reply = hyper::Response<http_body_util::Full<axum::body::Bytes>>;

fn reply(status: u16, content_type: &str, body: String) -> Reply {
    let mut response =
        hyper::Response::new(http_body_util::Full::new(axum::body::Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

fn respond<B>(request: &hyper::Request<B>, reader: &Mutex<Shared>) -> Reply {
    if request.uri().path() != "/metrics" {
        return reply(
            404,
            "text/plain",
            "not found: metrics are at /metrics\n".into(),
        );
    }
    let head = request.method() == hyper::Method::HEAD;
    if request.method() != hyper::Method::GET && !head {
        let mut response = reply(405, "text/plain", "use GET\n".into());
        response.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, HEAD"),
        );
        return response;
    }
    let mut data = ResourceMetrics::default();
    let collected = reader
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .collect(&mut data);
    if let Err(error) = collected {
        tracing::warn!(%error, "metrics could not be collected");
        return reply(503, "text/plain", "metrics are not available\n".into());
    }
    let body = if head { String::new() } else { render(&data) };
    reply(200, "text/plain; version=0.0.4; charset=utf-8", body)
}

/// The Prometheus name of an OpenTelemetry metric: `mcp.server.operation.duration` in
/// seconds → `mcp_server_operation_duration_seconds`; counters take `_total`.
fn metric_name(name: &str, unit: &str, counter: bool) -> String {
    let mut out = sanitize(name);
    let suffix = match unit {
        "s" => "_seconds",
        "By" => "_bytes",
        _ => "",
    };
    if !suffix.is_empty() && !out.ends_with(suffix) {
        out.push_str(suffix);
    }
    if counter {
        out.push_str("_total");
    }
    out
}

/// Letters, digits and underscores; never a leading digit.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

/// `{a="1",b="2"}` (empty when there are no labels), with `extra` last.
fn labels<'a>(
    attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>,
    extra: Option<(&str, &str)>,
) -> String {
    let mut pairs: Vec<(String, String)> = attributes
        .map(|kv| (sanitize(kv.key.as_str()), escape(&kv.value.to_string())))
        .collect();
    pairs.sort();
    if let Some((key, value)) = extra {
        pairs.push((key.to_owned(), value.to_owned()));
    }
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A float as Prometheus writes it.
fn number(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.is_nan() {
        "NaN".to_owned()
    } else {
        value.to_string()
    }
}

/// The text exposition of everything collected.
pub(crate) fn render(data: &ResourceMetrics) -> String {
    let mut out = String::new();
    for scope in data.scope_metrics() {
        for metric in scope.metrics() {
            match metric.data() {
                AggregatedMetrics::F64(data) => write_metric(&mut out, metric, data, |v| *v),
                AggregatedMetrics::I64(data) => write_metric(&mut out, metric, data, |v| *v as f64),
                AggregatedMetrics::U64(data) => write_metric(&mut out, metric, data, |v| *v as f64),
            }
        }
    }
    out
}

/// One `name{labels} value` line.
fn write_sample<'a>(
    out: &mut String,
    name: &str,
    attributes: impl Iterator<Item = &'a opentelemetry::KeyValue>,
    value: f64,
) {
    let _ = writeln!(out, "{name}{} {}", labels(attributes, None), number(value));
}

fn write_metric<T>(
    out: &mut String,
    metric: &opentelemetry_sdk::metrics::data::Metric,
    data: &MetricData<T>,
    float: impl Fn(&T) -> f64,
) where
    T: Copy,
{
    let (kind, counter) = match data {
        MetricData::Sum(sum) if sum.is_monotonic() => ("counter", true),
        MetricData::Sum(_) | MetricData::Gauge(_) => ("gauge", false),
        MetricData::Histogram(_) => ("histogram", false),
        // Not made by our instruments.
        MetricData::ExponentialHistogram(_) => return,
    };
    let name = metric_name(metric.name(), metric.unit(), counter);
    let help = metric
        .description()
        .replace('\\', r"\\")
        .replace('\n', r"\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    match data {
        MetricData::Sum(sum) => {
            for point in sum.data_points() {
                write_sample(out, &name, point.attributes(), float(&point.value()));
            }
        }
        MetricData::Gauge(gauge) => {
            for point in gauge.data_points() {
                write_sample(out, &name, point.attributes(), float(&point.value()));
            }
        }
        MetricData::Histogram(histogram) => {
            for point in histogram.data_points() {
                let mut cumulative = 0u64;
                let bounds: Vec<f64> = point.bounds().collect();
                for (i, count) in point.bucket_counts().enumerate() {
                    cumulative += count;
                    let le = bounds.get(i).copied().unwrap_or(f64::INFINITY);
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {cumulative}",
                        labels(point.attributes(), Some(("le", &number(le))))
                    );
                }
                let attrs = labels(point.attributes(), None);
                let sum = point.sum();
                let _ = writeln!(out, "{name}_sum{attrs} {}", number(float(&sum)));
                let _ = writeln!(out, "{name}_count{attrs} {}", point.count());
            }
        }
        MetricData::ExponentialHistogram(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_conventions() {
        assert_eq!(
            metric_name("mcp.server.operation.duration", "s", false),
            "mcp_server_operation_duration_seconds"
        );
        assert_eq!(
            metric_name("platform.cache.hits", "{request}", true),
            "platform_cache_hits_total"
        );
        assert_eq!(sanitize("9lives.x-y"), "_9lives_x_y");
        assert_eq!(escape("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(0.5), "0.5");
    }
}
