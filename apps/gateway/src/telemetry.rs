//! Structured logs and request ids.
//!
//! Every request runs inside a root span opened by `tracing_actix_web::TracingLogger`, which
//! carries a fresh `request_id` (UUID v4); in JSON format each line lists its spans, so every line
//! logged while handling a request carries that id. The same id is returned in the
//! `x-request-id` response header so that a caller can quote it.

use std::borrow::Cow;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Installs the global subscriber writing to stdout **off the request path**: lines go to a
/// queue that one writer thread drains (`tracing-appender`'s non-blocking writer; when the
/// queue is full the logging thread waits rather than dropping a line, so nothing logged is
/// lost). Levels come from `RUST_LOG` (default `info`). Keep the returned guard for the life
/// of the process: dropping it flushes what is queued.
#[must_use = "dropping the guard stops the log writer"]
pub fn init(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::stdout());
    init_with_writer(format, "info", writer);
    guard
}

/// Installs the global subscriber writing to `writer` (tests capture logs this way), with
/// `RUST_LOG` or else `default_filter` as the filter. Does nothing if a global subscriber is
/// already installed.
pub fn init_with_writer<W>(format: LogFormat, default_filter: &str, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    // A line when each span closes: the request's root span gives one access-log line per
    // request (method, route, status, request id, time busy/idle).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Path parameters that are credentials (a recording share link's token): logged as
/// `[redacted]`.
const CREDENTIAL_PARAMS: &[&str] = &["{token}"];

/// `path` with every segment that `pattern` (the matched route template) names a credential
/// replaced by `[redacted]`. Without a pattern (no route matched) or without a credential in it,
/// the path is logged as is (borrowed: nothing is copied on the common path).
#[must_use]
pub fn redacted_path<'a>(path: &'a str, pattern: Option<&str>) -> Cow<'a, str> {
    let Some(pattern) = pattern.filter(|p| CREDENTIAL_PARAMS.iter().any(|c| p.contains(c))) else {
        return Cow::Borrowed(path);
    };
    let mut template = pattern.split('/');
    path.split('/')
        .map(|segment| match template.next() {
            Some(t) if CREDENTIAL_PARAMS.contains(&t) => "[redacted]",
            _ => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
        .into()
}

/// The root span of every request, opened by `TracingLogger<AccessSpan>`: method, route
/// template, **path without the query string** (query strings may carry credentials such as the
/// WebSocket `api_key` or `token`) and with credential segments redacted ([`redacted_path`]),
/// client address, user agent, request id; status and error message are recorded when the
/// response is ready. Closing it writes the access-log line.
pub struct AccessSpan;

impl RootSpanBuilder for AccessSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // Fields are borrowed or `Copy` and formatted once, by the log writer's formatter.
        let request_id = request.extensions().get::<RequestId>().copied();
        let pattern = request.match_pattern();
        let target = redacted_path(request.path(), pattern.as_deref());
        let route = pattern.unwrap_or_else(|| "default".into());
        let user_agent = request
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %target,
            http.client_ip = %request.connection_info().realip_remote_addr().unwrap_or(""),
            http.user_agent = %user_agent,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            request_id = request_id.map(tracing::field::display),
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Middleware (inside `TracingLogger`) copying the request id into the response header.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?;
    if let Some(id) = id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::redacted_path;

    #[test]
    fn credential_segments_are_redacted() {
        assert_eq!(
            redacted_path(
                "/share/recordings/abc123",
                Some("/share/recordings/{token}")
            ),
            "/share/recordings/[redacted]"
        );
        assert_eq!(
            redacted_path("/api/contacts/42", Some("/api/contacts/{id}")),
            "/api/contacts/42"
        );
        assert_eq!(redacted_path("/nowhere", None), "/nowhere");
    }
}
