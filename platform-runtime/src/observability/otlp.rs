//! The OTLP trace and metric exporters (OTLP over HTTP with protobuf), from `[telemetry.otlp]` and the
//! standard `OTEL_*` variables.

use opentelemetry_otlp::WithExportConfig as _;
use std::sync::Arc;

use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracerProvider, SpanProcessor as _,
};

use super::export::{Exporter, Shared};

use super::TelemetryError;
use crate::config::OtlpSection;

/// Whether an environment variable is set to something.
fn set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

/// The two signals exported.
#[derive(Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    /// `TRACES` / `METRICS`, as in the `OTEL_*` variable names.
    fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
        }
    }

    /// `traces` / `metrics`, as in the URL path.
    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }
}

/// Whether `signal` is exported: `[telemetry.otlp]` or an endpoint variable asks for
/// export, and neither `OTEL_SDK_DISABLED` nor `OTEL_{SIGNAL}_EXPORTER=none` turns it off.
/// Refuses a protocol other than OTLP/HTTP with protobuf.
fn wanted(section: Option<&OtlpSection>, signal: Signal) -> Result<bool, TelemetryError> {
    let upper = signal.upper();
    let from_env =
        set("OTEL_EXPORTER_OTLP_ENDPOINT") || set(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"));
    if section.is_none() && !from_env {
        return Ok(false);
    }
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        || std::env::var(format!("OTEL_{upper}_EXPORTER"))
            .is_ok_and(|v| v.eq_ignore_ascii_case("none"));
    if disabled {
        return Ok(false);
    }
    for name in [
        format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL"),
        "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
    ] {
        if let Ok(protocol) = std::env::var(&name)
            && protocol != "http/protobuf"
        {
            return Err(TelemetryError(format!(
                "{name} is `{protocol}`, but telemetry is exported over OTLP/HTTP with protobuf only: set it to `http/protobuf` (port 4318) or unset it"
            )));
        }
    }
    Ok(true)
}

/// Endpoint, headers and timeout from `[telemetry.otlp]` on an exporter builder; what the
/// section leaves out comes from the `OTEL_*` variables.
fn configure<B>(mut exporter: B, section: &OtlpSection, signal: Signal) -> Result<B, TelemetryError>
where
    B: opentelemetry_otlp::WithExportConfig + opentelemetry_otlp::WithHttpConfig,
{
    if let Some(endpoint) = &section.endpoint {
        exporter = exporter.with_endpoint(signal_url(endpoint, signal)?);
    }
    if !section.headers.is_empty() {
        exporter = exporter.with_headers(
            section
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.expose().to_owned()))
                .collect(),
        );
    }
    if let Some(timeout) = section.timeout {
        exporter = exporter.with_timeout(timeout.0);
    }
    // reqwest is built without a bundled crypto provider; an https collector needs one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(exporter)
}

/// The `service.name` resource.
pub(super) fn resource(
    section: Option<&OtlpSection>,
    service: &str,
) -> opentelemetry_sdk::Resource {
    let mut resource = opentelemetry_sdk::Resource::builder();
    match section.and_then(|s| s.service_name.as_ref()) {
        Some(name) => resource = resource.with_service_name(name.clone()),
        None if set("OTEL_SERVICE_NAME") => {}
        None => resource = resource.with_service_name(service.to_owned()),
    }
    resource.build()
}

/// The tracer provider exporting over OTLP, and the exporter of request spans sharing its
/// batch processor, when configuration or the environment asks for export; `None`
/// otherwise.
pub(super) fn provider(
    section: Option<&OtlpSection>,
    service: &str,
) -> Result<Option<(SdkTracerProvider, Arc<Exporter>)>, TelemetryError> {
    if !wanted(section, Signal::Traces)? {
        return Ok(None);
    }
    let default = OtlpSection::default();
    let otlp = section.unwrap_or(&default);
    let exporter = configure(
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary),
        otlp,
        Signal::Traces,
    )?
    .build()
    .map_err(|error| TelemetryError(format!("the OTLP trace exporter: {error}")))?;
    let sampler = match otlp.sample_ratio {
        Some(ratio) if !(0.0..=1.0).contains(&ratio) => {
            return Err(TelemetryError(format!(
                "`telemetry.otlp.sample_ratio` is {ratio}: use a share between 0.0 and 1.0"
            )));
        }
        Some(ratio) => Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))),
        None => sampler_from_env()?,
    };
    let resource = resource(section, service);
    let mut processor = BatchSpanProcessor::builder(exporter).build();
    processor.set_resource(&resource);
    let processor = Arc::new(processor);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(Shared(processor.clone()))
        .with_sampler(sampler.clone())
        .with_resource(resource)
        .build();
    Ok(Some((
        provider,
        Arc::new(Exporter::new(processor, sampler)),
    )))
}

/// The sampler `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG`) name, by default
/// `parentbased_always_on`; an unknown name is refused.
fn sampler_from_env() -> Result<Sampler, TelemetryError> {
    let name = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
    let ratio = || -> Result<f64, TelemetryError> {
        let arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").unwrap_or_else(|_| "1.0".into());
        arg.trim()
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| {
                TelemetryError(format!(
                    "OTEL_TRACES_SAMPLER_ARG is `{arg}`: use a share between 0.0 and 1.0"
                ))
            })
    };
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    Ok(match name.trim() {
        "" | "parentbased_always_on" => parent_based(Sampler::AlwaysOn),
        "parentbased_always_off" => parent_based(Sampler::AlwaysOff),
        "parentbased_traceidratio" => parent_based(Sampler::TraceIdRatioBased(ratio()?)),
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
        other => {
            return Err(TelemetryError(format!(
                "OTEL_TRACES_SAMPLER is `{other}`: use always_on, always_off, traceidratio or their parentbased_ forms"
            )));
        }
    })
}

/// The reader pushing metrics over OTLP every `OTEL_METRIC_EXPORT_INTERVAL` (default 60 s)
/// and at shutdown, when configuration or the environment asks for export.
pub(super) fn metrics_reader(
    section: Option<&OtlpSection>,
) -> Result<
    Option<opentelemetry_sdk::metrics::PeriodicReader<opentelemetry_otlp::MetricExporter>>,
    TelemetryError,
> {
    if !wanted(section, Signal::Metrics)? {
        return Ok(None);
    }
    let default = OtlpSection::default();
    let exporter = configure(
        opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary),
        section.unwrap_or(&default),
        Signal::Metrics,
    )?
    .build()
    .map_err(|error| TelemetryError(format!("the OTLP metric exporter: {error}")))?;
    Ok(Some(
        opentelemetry_sdk::metrics::PeriodicReader::builder(exporter).build(),
    ))
}

/// `{endpoint}/v1/traces` (or `/v1/metrics`) for a collector's base URL.
fn signal_url(endpoint: &str, signal: Signal) -> Result<String, TelemetryError> {
    let url = url::Url::parse(endpoint).map_err(|error| {
        TelemetryError(format!(
            "`telemetry.otlp.endpoint` `{endpoint}` is not a URL ({error}): use the collector's base URL, such as `http://127.0.0.1:4318`"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TelemetryError(format!(
            "`telemetry.otlp.endpoint` `{endpoint}` is not http(s): telemetry is exported over OTLP/HTTP"
        )));
    }
    Ok(format!(
        "{}/v1/{}",
        endpoint.trim_end_matches('/'),
        signal.path()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_appended_to_the_base_url() {
        assert_eq!(
            signal_url("http://127.0.0.1:4318", Signal::Traces)
                .ok()
                .as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            signal_url("https://otel.example/", Signal::Metrics)
                .ok()
                .as_deref(),
            Some("https://otel.example/v1/metrics")
        );
        assert!(signal_url("grpc://127.0.0.1:4317", Signal::Traces).is_err());
        assert!(signal_url("127.0.0.1:4318", Signal::Traces).is_err());
    }
}
