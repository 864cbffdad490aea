//! Structured logs and traces through `tracing`.
//!
//! Logs are human-readable or JSON per `[log]`. Traces follow the W3C trace context: a request
//! to the API starts one (or continues the caller's, where `submissions.accept_traceparent`
//! allows), the submission keeps it, and every event about the submission carries it in its
//! NATS headers ([`inject_current`], called by the one publish helper in `bus`), so the
//! consumers' spans ([`continue_trace`], called by the one consume path in `bus::worker`) are
//! children of it: API → runner → evaluator → board is one trace.
//!
//! The OpenTelemetry SDK makes trace and span ids whether or not anything exports them, so
//! logs correlate without a collector: every JSON line emitted inside a traced span has a
//! top-level `trace_id`, and the traced root spans name it in their fields, which pretty logs
//! show. Spans leave the process only when `telemetry.otlp_endpoint` is set (OTLP over
//! HTTP/protobuf, batched on a thread of the SDK's own); with it empty nothing is exported and
//! nothing tries to connect.
//!
//! A trace context from outside (an HTTP header, a NATS header) that is missing, malformed or
//! longer than any valid one is ignored: a new trace starts, and nobody sees an error.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter};

use crate::config::{LogConfig, LogFormat, TelemetryConfig};

/// The W3C header naming the trace and the parent span.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header of vendors' trace state, carried along when present.
pub const TRACESTATE: &str = "tracestate";
/// Longer is no `traceparent` of any version worth reading (version 00 is 55 characters; later
/// versions may only append fields): ignored without parsing.
const MAX_TRACEPARENT: usize = 128;
/// The size W3C asks carriers to keep at least; a longer `tracestate` is dropped (the trace
/// itself is still continued).
const MAX_TRACESTATE: usize = 512;

/// Keeps the exporter alive; dropping it (at the end of `main`) flushes the spans not yet sent.
#[must_use = "dropping it at once would stop the exporter"]
pub struct Telemetry {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if self.exporting
            && let Err(e) = self.provider.shutdown()
        {
            tracing::warn!(error = %e, "spans not yet exported may be lost");
        }
    }
}

/// The configured exporter cannot be built.
#[derive(Debug, thiserror::Error)]
#[error(
    "telemetry.otlp_endpoint '{endpoint}': {reason}; write the collector's OTLP/HTTP traces URL, such as \
     http://otel-collector:4318/v1/traces, or leave it empty to export nothing"
)]
pub struct TelemetryError {
    endpoint: String,
    reason: String,
}

/// Installs the global subscriber for the service `service` (its OpenTelemetry `service.name`
/// unless `telemetry.service_name` says otherwise). `RUST_LOG`, when set, wins over the
/// configured log filter. Calling it twice is harmless (tests start several apps in one
/// process): the first subscriber stays.
pub fn init(service: &str, log: &LogConfig, telemetry: &TelemetryConfig) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let telemetry = provider(service, telemetry)?;
    let _ = tracing_subscriber::registry()
        .with(layers(&telemetry.provider, log.format, filter, std::io::stderr))
        .try_init();
    Ok(telemetry)
}

/// The tracer provider: always one (it makes the ids), exporting only to a configured endpoint.
fn provider(service: &str, config: &TelemetryConfig) -> Result<Telemetry, TelemetryError> {
    let name = if config.service_name.is_empty() { service } else { &config.service_name };
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(name.to_owned()).build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let endpoint = config.otlp_endpoint.trim();
    if endpoint.is_empty() {
        return Ok(Telemetry { provider: builder.build(), exporting: false });
    }
    let error = |reason: String| TelemetryError { endpoint: endpoint.to_owned(), reason };
    let url = url::Url::parse(endpoint).map_err(|e| error(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(error(format!("{}:// is not HTTP", url.scheme())));
    }
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| error(e.to_string()))?;
    Ok(Telemetry { provider: builder.with_batch_exporter(exporter).build(), exporting: true })
}

/// The OpenTelemetry layer and the log layer, each with its own filter: the spans that carry
/// traces (INFO and above) exist whatever the log filter says, so a service logging only
/// warnings still propagates its traces.
fn layers<S, W>(
    provider: &SdkTracerProvider,
    log_format: LogFormat,
    log_filter: EnvFilter,
    writer: W,
) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("darkroom"))
        .with_tracked_inactivity(false)
        // Spans of INFO and above make the trace; warnings and errors in them become its events.
        // Decided once per callsite (it reads only the metadata), and never below INFO.
        .with_filter(
            filter::filter_fn(|meta| {
                let limit = if meta.is_span() { tracing::Level::INFO } else { tracing::Level::WARN };
                *meta.level() <= limit
            })
            .with_max_level_hint(tracing::Level::INFO),
        );
    let logs = tracing_subscriber::fmt::layer().with_writer(writer);
    let logs = match log_format {
        LogFormat::Json => logs
            .fmt_fields(JsonFields::new())
            .event_format(JsonWithTraceId(tracing_subscriber::fmt::format().json().flatten_event(true)))
            .boxed(),
        LogFormat::Pretty => logs.compact().boxed(),
    };
    otel.and_then(logs.with_filter(log_filter))
}

/// Tracing-subscriber's JSON line with the current trace's id as a top-level `trace_id`, where
/// there is one (its JSON format only nests span fields).
struct JsonWithTraceId(format::Format<format::Json>);

impl<S, N> FormatEvent<S, N> for JsonWithTraceId
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let Some(trace_id) = current_trace_id() else { return self.0.format_event(ctx, writer, event) };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        // The JSON format writes one object per line: the id goes first inside it.
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"trace_id\":\"{trace_id}\",{rest}"),
            None => writer.write_str(&line),
        }
    }
}

/// The id (32 hex digits) of the trace the current span belongs to, if it is in one.
pub fn current_trace_id() -> Option<String> {
    let context = opentelemetry::Context::current();
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}

/// The current span's `traceparent`, to keep with something that is published later (the
/// outbox) so the publication continues this trace; `None` outside any trace.
pub fn current_traceparent() -> Option<String> {
    let mut carrier = TraceHeaders::default();
    TraceContextPropagator::new().inject_context(&opentelemetry::Context::current(), &mut carrier);
    carrier.traceparent
}

/// Writes the current span's trace context as headers through `set`: `traceparent`, and
/// `tracestate` when there is one. Nothing outside any trace.
pub fn inject_current(mut set: impl FnMut(&'static str, &str)) {
    let mut carrier = TraceHeaders::default();
    TraceContextPropagator::new().inject_context(&opentelemetry::Context::current(), &mut carrier);
    if let Some(traceparent) = &carrier.traceparent {
        set(TRACEPARENT, traceparent);
        if let Some(tracestate) = carrier.tracestate.as_deref().filter(|s| !s.is_empty()) {
            set(TRACESTATE, tracestate);
        }
    }
}

/// Makes `span` (not yet entered) a child of the trace context `get` finds in some headers,
/// and names the trace in its `trace_id` field (declared `tracing::field::Empty`). A context
/// that is missing, malformed or oversized is ignored: the span starts a new trace.
pub fn continue_trace<'h>(span: &tracing::Span, get: impl Fn(&str) -> Option<&'h str>) {
    let headers = TraceHeaders::read(get);
    if headers.traceparent.is_some() {
        let parent = TraceContextPropagator::new().extract(&headers);
        if parent.span().span_context().is_valid() {
            // Only fails when the span is disabled, where there is nothing to continue.
            let _ = span.set_parent(parent);
        }
    }
    name_trace(span);
}

/// Names the trace of `span` in its `trace_id` field, for the pretty logs (JSON lines carry it
/// at the top level anyway).
pub fn name_trace(span: &tracing::Span) {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if span_context.is_valid() {
        span.record("trace_id", tracing::field::display(span_context.trace_id()));
    }
}

/// The two W3C headers as read from a carrier, within their size limits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct TraceHeaders {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl TraceHeaders {
    fn read<'h>(get: impl Fn(&str) -> Option<&'h str>) -> Self {
        let traceparent = get(TRACEPARENT).map(str::trim).filter(|v| !v.is_empty() && v.len() <= MAX_TRACEPARENT);
        let tracestate = get(TRACESTATE).filter(|v| v.len() <= MAX_TRACESTATE);
        Self { traceparent: traceparent.map(str::to_owned), tracestate: tracestate.map(str::to_owned) }
    }
}

impl Extractor for TraceHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent.as_deref(),
            TRACESTATE => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

impl Injector for TraceHeaders {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = Some(value),
            TRACESTATE => self.tracestate = Some(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A log writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Self;

        fn make_writer(&'w self) -> Self {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<serde_json::Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
        }
    }

    /// Runs `work` under a JSON-logging subscriber of its own (not the global one); its lines.
    fn logged(filter: &str, work: impl FnOnce()) -> Vec<serde_json::Value> {
        logged_with(&SdkTracerProvider::builder().build(), filter, work)
    }

    fn logged_with(provider: &SdkTracerProvider, filter: &str, work: impl FnOnce()) -> Vec<serde_json::Value> {
        let captured = Captured::default();
        let layer = layers(provider, LogFormat::Json, EnvFilter::new(filter), captured.clone());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), work);
        captured.lines()
    }

    fn message_span() -> tracing::Span {
        tracing::info_span!("message", trace_id = tracing::field::Empty)
    }

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_context_injected_into_headers_is_continued_from_them() {
        let mut headers = HashMap::new();
        let mut sent_trace = None;
        let lines = logged("info", || {
            let request = tracing::info_span!("request", trace_id = tracing::field::Empty);
            name_trace(&request);
            request.in_scope(|| {
                sent_trace = current_trace_id();
                inject_current(|k, v| {
                    headers.insert(k.to_owned(), v.to_owned());
                });
                tracing::info!("published");
            });
            let consumer = message_span();
            continue_trace(&consumer, |k| headers.get(k).map(String::as_str));
            consumer.in_scope(|| tracing::info!("consumed"));
            tracing::info!("outside any span");
        });
        let sent = sent_trace.expect("the request span is in a trace");
        assert_eq!(sent.len(), 32);
        let traceparent = &headers[TRACEPARENT];
        assert!(traceparent.starts_with(&format!("00-{sent}-")), "{traceparent}");
        assert!(!headers.contains_key(TRACESTATE), "no trace state was set: {headers:?}");
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0]["trace_id"], sent.as_str(), "{}", lines[0]);
        assert_eq!(lines[0]["message"], "published");
        assert_eq!(lines[1]["trace_id"], sent.as_str(), "the consumer continues the trace: {}", lines[1]);
        assert_eq!(lines[1]["span"]["trace_id"], sent.as_str(), "the span names it too: {}", lines[1]);
        assert!(lines[2].get("trace_id").is_none(), "{}", lines[2]);
    }

    #[test]
    fn a_remote_parent_and_its_trace_state_are_kept() {
        let mut forwarded = HashMap::new();
        let lines = logged("info", || {
            let span = message_span();
            let incoming = HashMap::from([(TRACEPARENT, PARENT), (TRACESTATE, "vendor=abc")]);
            continue_trace(&span, |k| incoming.get(k).copied());
            span.in_scope(|| {
                tracing::info!("inside");
                inject_current(|k, v| {
                    forwarded.insert(k, v.to_owned());
                });
                assert!(current_traceparent().unwrap().starts_with("00-0af7651916cd43dd8448eb211c80319c-"));
            });
        });
        assert_eq!(lines[0]["trace_id"], "0af7651916cd43dd8448eb211c80319c");
        let traceparent = &forwarded[TRACEPARENT];
        assert!(traceparent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"), "{traceparent}");
        assert!(!traceparent.contains("b7ad6b7169203331"), "the parent span is the consumer's: {traceparent}");
        assert_eq!(forwarded[TRACESTATE], "vendor=abc");
    }

    #[test]
    fn malformed_or_oversized_contexts_start_a_new_trace() {
        let oversized_parent = format!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01{}", "-aa".repeat(40));
        let huge_state = format!("vendor={}", "x".repeat(MAX_TRACESTATE));
        let cases: Vec<(&str, Option<&str>)> = vec![
            ("", None),
            ("garbage", None),
            ("00-00000000000000000000000000000000-b7ad6b7169203331-01", None),
            ("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", None),
            ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", None),
            ("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", None),
            ("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", None),
            ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-\u{fffd}", None),
            (&oversized_parent, None),
            // A valid parent with an oversized state: the trace continues, the state is dropped.
            (PARENT, Some(&huge_state)),
        ];
        for (traceparent, tracestate) in cases {
            let mut trace = None;
            let mut forwarded = HashMap::new();
            logged("info", || {
                let span = message_span();
                continue_trace(&span, |k| match k {
                    TRACEPARENT => Some(traceparent),
                    TRACESTATE => tracestate,
                    _ => None,
                });
                span.in_scope(|| {
                    trace = current_trace_id();
                    inject_current(|k, v| {
                        forwarded.insert(k, v.to_owned());
                    });
                });
            });
            let trace = trace.expect("a new trace when the given one is unusable");
            if tracestate.is_some() {
                assert_eq!(trace, "0af7651916cd43dd8448eb211c80319c");
                assert!(!forwarded.contains_key(TRACESTATE), "an oversized state is not carried on");
            } else {
                assert_ne!(trace, "0af7651916cd43dd8448eb211c80319c", "{traceparent}");
                assert!(trace.chars().any(|c| c != '0'), "{traceparent}");
            }
        }
    }

    #[test]
    fn traces_exist_when_the_log_filter_hides_their_spans() {
        let mut trace = None;
        let lines = logged("warn", || {
            let span = message_span();
            name_trace(&span);
            span.in_scope(|| {
                trace = current_trace_id();
                tracing::info!("hidden");
                tracing::warn!("shown");
            });
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["trace_id"].as_str(), trace.as_deref(), "{}", lines[0]);
    }

    /// Accepts one HTTP request on `listener`, answers 200, and gives its head and body.
    fn receive_one(listener: &std::net::TcpListener) -> (String, Vec<u8>) {
        use std::io::{Read, Write};
        let (mut stream, _) = listener.accept().expect("the exporter connects");
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut data = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = stream.read(&mut chunk).expect("the request arrives");
            assert!(n > 0, "the connection closed before the request's head ended");
            data.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().expect("a length"));
        while data.len() < head_end + length {
            let n = stream.read(&mut chunk).expect("the body arrives");
            assert!(n > 0, "the connection closed before the body ended");
            data.extend_from_slice(&chunk[..n]);
        }
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
        (head, data[head_end..].to_vec())
    }

    #[test]
    fn spans_reach_the_configured_collector() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let collector = std::thread::spawn(move || receive_one(&listener));
        let config = TelemetryConfig { otlp_endpoint: endpoint, service_name: String::new() };
        let telemetry = provider("darkroom-exported", &config).unwrap();
        assert!(telemetry.exporting);
        let mut trace = None;
        logged_with(&telemetry.provider, "info", || {
            let span = message_span();
            name_trace(&span);
            span.in_scope(|| trace = current_trace_id());
        });
        telemetry.provider.force_flush().expect("the batch is exported");
        let (head, body) = collector.join().expect("the collector got the batch");
        assert!(head.starts_with("post /v1/traces "), "{head}");
        assert!(head.contains("content-type: application/x-protobuf"), "{head}");
        // The protobuf names the trace by its 16 bytes, and the service by its name.
        let id = hex::decode(trace.expect("a trace")).unwrap();
        assert!(body.windows(16).any(|w| w == id.as_slice()), "the span's trace id is not in the export");
        assert!(body.windows(17).any(|w| w == b"darkroom-exported"), "the service name is not in the export");
        drop(telemetry);
    }

    #[test]
    fn a_bad_endpoint_is_named_and_none_exports_nothing() {
        let off = provider("darkroom-test", &TelemetryConfig::default()).unwrap();
        assert!(!off.exporting);
        for endpoint in ["not a url", "ftp://collector/v1/traces"] {
            let config = TelemetryConfig { otlp_endpoint: endpoint.into(), ..TelemetryConfig::default() };
            let e = provider("darkroom-test", &config).err().expect("refused").to_string();
            assert!(e.contains("telemetry.otlp_endpoint") && e.contains(endpoint), "{e}");
        }
    }
}
