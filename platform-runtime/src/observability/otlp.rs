//! The OTLP trace exporter (OTLP over HTTP with protobuf), from `[telemetry.otlp]` and the
//! standard `OTEL_*` variables.

use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

use super::TelemetryError;
use crate::config::OtlpSection;

/// Whether an environment variable is set to something.
fn set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

/// The tracer provider exporting over OTLP, when configuration or the environment asks for
/// export; `None` otherwise.
pub(super) fn provider(
    section: Option<&OtlpSection>,
    service: &str,
) -> Result<Option<SdkTracerProvider>, TelemetryError> {
    let from_env = set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    if section.is_none() && !from_env {
        return Ok(None);
    }
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
        || std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v.eq_ignore_ascii_case("none"));
    if disabled {
        return Ok(None);
    }
    for name in [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ] {
        if let Ok(protocol) = std::env::var(name)
            && protocol != "http/protobuf"
        {
            return Err(TelemetryError(format!(
                "{name} is `{protocol}`, but traces are exported over OTLP/HTTP with protobuf only: set it to `http/protobuf` (port 4318) or unset it"
            )));
        }
    }
    let default = OtlpSection::default();
    let section = section.unwrap_or(&default);
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    if let Some(endpoint) = &section.endpoint {
        exporter = exporter.with_endpoint(traces_url(endpoint)?);
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
    let exporter = exporter
        .build()
        .map_err(|error| TelemetryError(format!("the OTLP exporter: {error}")))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    match &section.service_name {
        Some(name) => resource = resource.with_service_name(name.clone()),
        None if set("OTEL_SERVICE_NAME") => {}
        None => resource = resource.with_service_name(service.to_owned()),
    }
    let mut provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build());
    if let Some(ratio) = section.sample_ratio {
        if !(0.0..=1.0).contains(&ratio) {
            return Err(TelemetryError(format!(
                "`telemetry.otlp.sample_ratio` is {ratio}: use a share between 0.0 and 1.0"
            )));
        }
        provider = provider.with_sampler(Sampler::ParentBased(Box::new(
            Sampler::TraceIdRatioBased(ratio),
        )));
    }
    Ok(Some(provider.build()))
}

/// `{endpoint}/v1/traces` for a collector's base URL.
fn traces_url(endpoint: &str) -> Result<String, TelemetryError> {
    let url = url::Url::parse(endpoint).map_err(|error| {
        TelemetryError(format!(
            "`telemetry.otlp.endpoint` `{endpoint}` is not a URL ({error}): use the collector's base URL, such as `http://127.0.0.1:4318`"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TelemetryError(format!(
            "`telemetry.otlp.endpoint` `{endpoint}` is not http(s): traces are exported over OTLP/HTTP"
        )));
    }
    Ok(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_appended_to_the_base_url() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").ok().as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            traces_url("https://otel.example/").ok().as_deref(),
            Some("https://otel.example/v1/traces")
        );
        assert!(traces_url("grpc://127.0.0.1:4317").is_err());
        assert!(traces_url("127.0.0.1:4318").is_err());
    }
}
