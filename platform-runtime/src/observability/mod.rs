//! Observability: one span per MCP request following the OpenTelemetry semantic conventions
//! for MCP, the W3C trace context carried in from clients and out to the services a tool
//! calls, log lines as text or JSON, audit events (optionally to a file of their own), and
//! (feature `otel`) traces and metrics exported over OTLP and metrics served for Prometheus.
//!
//! [`serve`](crate::serve) installs all of it from `[telemetry]`; a program that serves a
//! transport itself calls [`Telemetry::install`]. See `docs/guide/observability.md`.

mod audit;
#[cfg(feature = "otel")]
mod batch;
#[cfg(feature = "otel")]
mod export;
mod logs;
#[cfg(feature = "otel")]
mod metrics;
#[cfg(feature = "otel")]
mod otlp;
mod propagation;
pub(crate) mod span;
#[cfg(feature = "otel")]
mod wire;

pub use audit::TARGET as AUDIT_TARGET;
pub(crate) use logs::rfc3339_now;
pub use propagation::{in_current_trace, inject_trace_context, trace_headers};
pub(crate) use span::RequestSpanLayer;
pub use span::TARGET as REQUEST_SPAN_TARGET;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
#[cfg(feature = "otel")]
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::config::{LogFormat, TelemetrySection};

/// Our own events at info; the SDK's per-message chatter only when something is wrong.
pub(crate) const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

/// Why telemetry could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("telemetry: {0}")]
pub struct TelemetryError(String);

/// The installed telemetry: keep it while serving, then [`shutdown`](Self::shutdown) to
/// export what is still buffered.
#[must_use = "dropping the telemetry handle does not flush buffered spans; call `shutdown`"]
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    traces: Option<(
        opentelemetry_sdk::trace::SdkTracerProvider,
        &'static export::Exporter,
    )>,
    #[cfg(feature = "otel")]
    metrics: Option<metrics::Metrics>,
    /// Whether this call installed the process's subscriber (a program may have its own).
    installed: bool,
}

impl Telemetry {
    /// Install the process's `tracing` subscriber from `[telemetry]`: stderr log lines in the
    /// configured format and filter (`RUST_LOG` wins over `telemetry.log`), request spans when
    /// something consumes them (JSON lines carry their ids; OTLP exports them), the OTLP
    /// exporters when `[telemetry.otlp]` or an `OTEL_EXPORTER_OTLP_*` endpoint asks for them,
    /// the Prometheus listener of `[telemetry.metrics]` and the audit file of
    /// `[telemetry.audit]`. `service` names the service when nothing else does.
    ///
    /// When the program already installed a subscriber, that one stays and this installs
    /// nothing (the returned handle says so with [`installed`](Self::installed)).
    pub fn install(section: &TelemetrySection, service: &str) -> Result<Self, TelemetryError> {
        let (mut telemetry, dispatch) = Self::with_writer(section, service, std::io::stderr)?;
        telemetry.installed = tracing::dispatcher::set_global_default(dispatch).is_ok();
        Ok(telemetry)
    }

    /// What [`install`](Self::install) installs, writing log lines to `writer` and returned
    /// rather than installed: for tests (with `tracing::dispatcher::set_default`) and for
    /// programs that compose their own subscriber.
    pub fn with_writer<W>(
        section: &TelemetrySection,
        service: &str,
        writer: W,
    ) -> Result<(Self, tracing::Dispatch), TelemetryError>
    where
        W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
    {
        // `RUST_LOG` wins over the configured filter, as Rust users expect; a filter that
        // does not parse falls back to the default rather than stopping the server.
        let requested =
            std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_else(|_| section.log.clone());
        let requested = match EnvFilter::try_new(sdk_capped(&requested)) {
            Ok(_) => sdk_capped(&requested),
            Err(error) => {
                eprintln!(
                    "invalid log filter `{requested}` ({error}); using `{DEFAULT_LOG_FILTER}`"
                );
                DEFAULT_LOG_FILTER.to_owned()
            }
        };
        let filter = |extra: &str| -> Result<EnvFilter, TelemetryError> {
            EnvFilter::try_new(format!("{requested}{extra}"))
                .map_err(|error| TelemetryError(format!("the log filter: {error}")))
        };
        #[cfg(feature = "otel")]
        let traces = otlp::provider(section.otlp.as_ref(), service)?;
        #[cfg(not(feature = "otel"))]
        {
            let _ = service;
            if section.otlp.is_some() {
                return Err(TelemetryError(
                    "`[telemetry.otlp]` is set, but this build has no OTLP exporter: enable the `otel` feature of platform-runtime".into(),
                ));
            }
            if section.metrics.is_some() {
                return Err(TelemetryError(
                    "`[telemetry.metrics]` is set, but this build has no metrics: enable the `otel` feature of platform-runtime".into(),
                ));
            }
        }
        // Every layer carries its own filter: an unfiltered one would enable every callsite
        // for all of them, and request spans must cost nothing when nothing consumes them.
        type Boxed = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;
        let mut layers: Vec<Boxed> = Vec::new();
        let audit_file = match &section.audit {
            Some(audit) => {
                if audit.file.is_none() && audit.arguments.is_empty() {
                    return Err(TelemetryError(
                        "`[telemetry.audit]` sets neither `file` nor `arguments`: set one, or remove the section".into(),
                    ));
                }
                audit::allow_arguments(&audit.arguments);
                match &audit.file {
                    Some(path) => Some(
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(path)
                            .map_err(|error| {
                                TelemetryError(format!(
                                    "`telemetry.audit.file` {}: {error}",
                                    path.display()
                                ))
                            })?,
                    ),
                    None => None,
                }
            }
            None => None,
        };
        if let Some(file) = audit_file {
            // Every audit event, allow decisions (debug) included.
            layers.push(
                logs::JsonLines::new(std::sync::Mutex::new(file))
                    .with_filter(
                        tracing_subscriber::filter::Targets::new()
                            .with_target(audit::TARGET, tracing::Level::DEBUG),
                    )
                    .boxed(),
            );
        }
        // Neither format wants the request span itself: it would prefix every text line with
        // a dozen attributes, and JSON lines take its ids from the request's OpenTelemetry
        // context (an exporter still sees the span).
        let no_request_spans = format!(",{}=off", span::TARGET);
        layers.push(match section.format {
            LogFormat::Text => tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(filter(&no_request_spans)?)
                .boxed(),
            LogFormat::Json => logs::JsonLines::new(writer)
                .with_filter(filter(&no_request_spans)?)
                .boxed(),
        });
        // The tool's own `tracing` spans, exported through the bridge as children of the
        // request span (which the request span layer exports itself, see `export`).
        #[cfg(feature = "otel")]
        if let Some((provider, _)) = &traces {
            use opentelemetry::trace::TracerProvider as _;
            layers.push(
                tracing_opentelemetry::layer()
                    .with_tracer(provider.tracer("platform"))
                    .with_location(false)
                    .with_threads(false)
                    .with_tracked_inactivity(false)
                    // `trace_headers` reads the span's context itself: nothing needs the
                    // OpenTelemetry context made current on every poll.
                    .with_context_activation(false)
                    // Not the request span; spans, and warnings and errors as span events:
                    // an info event per request as a span event would cost more than the
                    // span itself.
                    .with_filter(filter("")?.and(tracing_subscriber::filter::filter_fn(
                        |metadata| {
                            metadata.target() != span::TARGET
                                && (metadata.is_span() || *metadata.level() <= tracing::Level::WARN)
                        },
                    )))
                    .boxed(),
            );
        }
        // Last: it starts a listener and begins recording, once nothing else can fail.
        #[cfg(feature = "otel")]
        let metrics = metrics::Metrics::start(section, service)?;
        #[cfg(feature = "otel")]
        let traces = traces.map(|(provider, exporter)| (provider, export::install(exporter)));
        let registry = tracing_subscriber::registry().with(layers);
        let telemetry = Self {
            #[cfg(feature = "otel")]
            traces,
            #[cfg(feature = "otel")]
            metrics,
            installed: false,
        };
        Ok((telemetry, tracing::Dispatch::new(registry)))
    }

    /// Whether [`install`](Self::install) installed the subscriber (false when the program
    /// already had one).
    pub fn installed(&self) -> bool {
        self.installed
    }

    /// Stop recording metrics, close the metrics listener, and export what is still buffered
    /// (bounded by the exporters' timeouts).
    pub fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Some(metrics) = self.metrics {
            metrics.shutdown();
        }
        #[cfg(feature = "otel")]
        if let Some((provider, exporter)) = self.traces {
            export::uninstall(exporter);
            if let Err(error) = provider.shutdown() {
                tracing::warn!(%error, "the trace exporter did not shut down cleanly");
            }
        }
    }

    /// Where `GET /metrics` is served (`[telemetry.metrics] bind`; useful with port 0).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        #[cfg(feature = "otel")]
        {
            self.metrics.as_ref().and_then(|m| m.local_addr())
        }
        #[cfg(not(feature = "otel"))]
        {
            None
        }
    }
}

/// The SDK logs whole messages — arguments, tokens and all — at debug level. Unless the
/// filter names `rmcp` itself, cap it at `warn` so a plain `debug` never leaks secrets.
pub(crate) fn sdk_capped(filter: &str) -> String {
    if filter.contains("rmcp") {
        filter.to_owned()
    } else {
        format!("{filter},rmcp=warn")
    }
}

#[cfg(test)]
mod tests {
    use super::sdk_capped;

    #[test]
    fn the_sdk_is_capped_unless_named() {
        assert_eq!(sdk_capped("debug"), "debug,rmcp=warn");
        assert_eq!(sdk_capped("info,rmcp=debug"), "info,rmcp=debug");
    }
}
