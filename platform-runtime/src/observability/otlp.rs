//! The OTLP trace and metric exporters (OTLP over HTTP with protobuf), from
//! `[telemetry.otlp]` and the standard `OTEL_*` variables. Spans go through the platform's
//! own queue and encoder ([`super::batch`], [`super::wire`]); metrics through the SDK's
//! exporter.

use opentelemetry_otlp::WithExportConfig as _;
use std::time::Duration;

use opentelemetry_sdk::trace::SdkTracerProvider;

use super::batch::{Batcher, Processor, Settings};
use super::export::{Exporter, Sampling};
use super::wire;

use super::TelemetryError;
use crate::config::OtlpSection;

/// An environment variable's value, when set to something.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
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
    let from_env = var("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
        || var(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT")).is_some();
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
        None if var("OTEL_SERVICE_NAME").is_some() => {}
        None => resource = resource.with_service_name(service.to_owned()),
    }
    resource.build()
}

/// The tracer provider exporting over OTLP, and the exporter of request spans sharing its
/// span queue, when configuration or the environment asks for export; `None` otherwise.
pub(super) fn provider(
    section: Option<&OtlpSection>,
    service: &str,
) -> Result<Option<(SdkTracerProvider, Exporter)>, TelemetryError> {
    if !wanted(section, Signal::Traces)? {
        return Ok(None);
    }
    let default = OtlpSection::default();
    let otlp = section.unwrap_or(&default);
    let settings = trace_settings(otlp, &|name| var(name))?;
    let sampling = match otlp.sample_ratio {
        Some(ratio) if !(0.0..=1.0).contains(&ratio) => {
            return Err(TelemetryError(format!(
                "`telemetry.otlp.sample_ratio` is {ratio}: use a share between 0.0 and 1.0"
            )));
        }
        Some(ratio) => Sampling::ParentBased(Box::new(Sampling::Ratio(ratio))),
        None => sampling_from_env()?,
    };
    let resource = resource(section, service);
    let batcher = Batcher::start(settings, wire::resource(&resource))
        .map_err(|error| TelemetryError(format!("the span exporter's thread: {error}")))?;
    let provider = SdkTracerProvider::builder()
        .with_span_processor(Processor(batcher.clone()))
        .with_sampler(sampling.sdk())
        .with_resource(resource)
        .build();
    Ok(Some((provider, Exporter::new(batcher, sampling))))
}

/// Reads a variable: the process environment, or a table in tests.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The signal's own variable, else the general one (`OTEL_EXPORTER_OTLP_TRACES_X`, then
/// `OTEL_EXPORTER_OTLP_X`), with the name it came from.
fn otlp_var(env: Env<'_>, what: &str) -> Option<(String, String)> {
    [
        format!("OTEL_EXPORTER_OTLP_TRACES_{what}"),
        format!("OTEL_EXPORTER_OTLP_{what}"),
    ]
    .into_iter()
    .find_map(|name| env(&name).map(|value| (name, value)))
}

/// A whole number above 0 from `value` (read from `name`).
fn whole(name: &str, value: &str) -> Result<u64, TelemetryError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| TelemetryError(format!("{name} is `{value}`: use a whole number above 0")))
}

/// Milliseconds from `name` (`OTEL_*` durations), else `default`.
fn millis(env: Env<'_>, name: &str, default: Duration) -> Result<Duration, TelemetryError> {
    env(name).map_or(Ok(default), |value| {
        whole(name, &value).map(Duration::from_millis)
    })
}

/// A count from `name`, else `default`.
fn count(env: Env<'_>, name: &str, default: usize) -> Result<usize, TelemetryError> {
    env(name).map_or(Ok(default), |value| {
        whole(name, &value).map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    })
}

/// Where and how spans are exported: `[telemetry.otlp]` first, then the standard
/// variables (`OTEL_EXPORTER_OTLP_[TRACES_]{ENDPOINT,HEADERS,TIMEOUT,COMPRESSION}`,
/// `OTEL_BSP_*`), then the specification's defaults.
fn trace_settings(section: &OtlpSection, env: Env<'_>) -> Result<Settings, TelemetryError> {
    let url = match (&section.endpoint, env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
        (Some(endpoint), _) => signal_url(endpoint, Signal::Traces)?,
        // The signal's own endpoint is the full URL, used as it is.
        (None, Some(url)) => {
            signal_url(&url, Signal::Traces)?;
            url
        }
        (None, None) => signal_url(
            &env("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_else(|| "http://localhost:4318".into()),
            Signal::Traces,
        )?,
    };
    if let Some((name, compression)) = otlp_var(env, "COMPRESSION")
        && compression.trim() != "none"
    {
        return Err(TelemetryError(format!(
            "{name} is `{compression}`, but spans are exported uncompressed: set it to `none` or unset it"
        )));
    }
    let mut headers = reqwest::header::HeaderMap::new();
    let mut add = |name: &str, value: &str, from: &str| -> Result<(), TelemetryError> {
        let name =
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                TelemetryError(format!("{from}: `{}` is not a header name", name.trim()))
            })?;
        // The value is a secret: say which header, never what it holds.
        let mut value = reqwest::header::HeaderValue::from_str(value.trim()).map_err(|_| {
            TelemetryError(format!(
                "{from}: the value of header `{name}` is not a header value"
            ))
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
        Ok(())
    };
    if let Some((from, list)) = otlp_var(env, "HEADERS") {
        // `key1=value1,key2=value2`, values percent-encoded.
        for pair in list.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((name, value)) = pair.split_once('=') else {
                return Err(TelemetryError(format!(
                    "{from}: an entry has no `=`: use `name=value,name2=value2`"
                )));
            };
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            add(name, &value, &from)?;
        }
    }
    for (name, value) in &section.headers {
        add(name, value.expose(), "`telemetry.otlp.headers`")?;
    }
    let timeout = match (section.timeout.as_ref(), otlp_var(env, "TIMEOUT")) {
        (Some(timeout), _) => timeout.0,
        (None, Some((name, value))) => Duration::from_millis(whole(&name, &value)?),
        (None, None) => Duration::from_secs(10),
    };
    let max_queue = count(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)?;
    Ok(Settings {
        url,
        headers,
        timeout,
        delay: millis(env, "OTEL_BSP_SCHEDULE_DELAY", Duration::from_secs(5))?,
        max_queue,
        batch: count(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)?.min(max_queue),
    })
}

/// The sampler `OTEL_TRACES_SAMPLER` (and `OTEL_TRACES_SAMPLER_ARG`) name, by default
/// `parentbased_always_on`; an unknown name is refused.
fn sampling_from_env() -> Result<Sampling, TelemetryError> {
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
    let parent_based = |root: Sampling| Sampling::ParentBased(Box::new(root));
    Ok(match name.trim() {
        "" | "parentbased_always_on" => parent_based(Sampling::AlwaysOn),
        "parentbased_always_off" => parent_based(Sampling::AlwaysOff),
        "parentbased_traceidratio" => parent_based(Sampling::Ratio(ratio()?)),
        "always_on" => Sampling::AlwaysOn,
        "always_off" => Sampling::AlwaysOff,
        "traceidratio" => Sampling::Ratio(ratio()?),
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

    fn settings(vars: &[(&str, &str)], section: &OtlpSection) -> Result<Settings, String> {
        let env = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        trace_settings(section, &env).map_err(|e| e.to_string())
    }

    #[test]
    fn span_export_settings_come_from_the_section_then_the_variables_then_defaults() {
        let none = OtlpSection::default();
        let defaults = settings(&[], &none).unwrap();
        assert_eq!(defaults.url, "http://localhost:4318/v1/traces");
        assert_eq!(defaults.timeout, Duration::from_secs(10));
        assert_eq!(defaults.delay, Duration::from_secs(5));
        assert_eq!((defaults.max_queue, defaults.batch), (2048, 512));
        assert!(defaults.headers.is_empty());

        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-team=a%20b, authorization=Bearer%20t",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "9000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
        ];
        let from_env = settings(&vars, &none).unwrap();
        assert_eq!(from_env.url, "http://collector:4318/v1/traces");
        assert_eq!(from_env.headers["x-team"], "a b");
        assert_eq!(from_env.headers["authorization"], "Bearer t");
        assert!(from_env.headers["authorization"].is_sensitive());
        assert_eq!(from_env.timeout, Duration::from_millis(2500));
        assert_eq!(from_env.delay, Duration::from_millis(200));
        assert_eq!(
            (from_env.max_queue, from_env.batch),
            (100, 100),
            "a batch fits the queue"
        );

        let traces_url = [(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://c.example/custom",
        )];
        assert_eq!(
            settings(&traces_url, &none).unwrap().url,
            "https://c.example/custom"
        );

        let section = OtlpSection {
            endpoint: Some("http://127.0.0.1:4318".into()),
            headers: [(
                "x-team".to_owned(),
                crate::config::Secret::new("mine".into()),
            )]
            .into(),
            timeout: Some(crate::config::ConfigDuration(Duration::from_secs(1))),
            ..OtlpSection::default()
        };
        let both = settings(&vars, &section).unwrap();
        assert_eq!(
            both.url, "http://127.0.0.1:4318/v1/traces",
            "the section wins"
        );
        assert_eq!(both.headers["x-team"], "mine");
        assert_eq!(both.timeout, Duration::from_secs(1));
    }

    #[test]
    fn span_export_settings_that_cannot_be_honoured_are_refused() {
        let none = OtlpSection::default();
        for (vars, says) in [
            (
                vec![("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")],
                "uncompressed",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd")],
                "uncompressed",
            ),
            (vec![("OTEL_EXPORTER_OTLP_HEADERS", "novalue")], "no `=`"),
            (
                vec![("OTEL_EXPORTER_OTLP_HEADERS", "bad name=x")],
                "not a header name",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_HEADERS", "k=secret%0Avalue")],
                "not a header value",
            ),
            (vec![("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")], "whole number"),
            (vec![("OTEL_BSP_MAX_QUEUE_SIZE", "0")], "whole number"),
            (vec![("OTEL_BSP_SCHEDULE_DELAY", "-1")], "whole number"),
            (
                vec![("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318")],
                "http(s)",
            ),
        ] {
            let error = settings(&vars, &none).map(|_| ()).unwrap_err();
            assert!(error.contains(says), "{vars:?}: {error}");
            assert!(
                !error.contains("secret"),
                "a header value is never repeated: {error}"
            );
        }
    }
}
