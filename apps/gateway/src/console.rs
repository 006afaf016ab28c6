//! The operator console (`apps/console`, a single-page app built by Vite) served on the
//! gateway's own origin, so the browser talks to the API without CORS and the session token
//! never crosses origins.
//!
//! - `/assets/<file>`: Vite's content-hashed files, `Cache-Control: public, max-age=31536000,
//!   immutable` (a new build has new names); a missing asset is a 404, never `index.html`.
//! - Top-level files of the build (`/favicon.svg`): served with `no-cache`.
//! - Every other `GET`/`HEAD` outside the API's prefixes ([`API_PREFIXES`]): `index.html` with
//!   `no-cache`, so client routes (`/calls/…`) load the app and a deploy is seen at once.
//!
//! Every console response carries [`ConsoleConfig::content_security_policy`]: scripts, styles,
//! fonts and connections (the API and the `/ws` WebSocket) only from this origin, recordings
//! from this origin or the configured media hosts, no framing, no plugins.

use std::path::{Path, PathBuf};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

/// Path prefixes that belong to the API and are never answered with the console: the API,
/// the WebSocket, provider webhooks, the CTI surface, share links and the health probes.
pub const API_PREFIXES: &[&str] = &[
    "/api",
    "/ws",
    "/webhooks",
    "/internal",
    "/share",
    "/healthz",
    "/readyz",
];

/// `CONSOLE_DIR` and `CONSOLE_MEDIA_SOURCES` (see [`crate::config::Config::console`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// The built console (`index.html` and `assets/`); `None`: the console is not served and
    /// those paths answer the API's JSON 404.
    pub dir: Option<PathBuf>,
    /// Origins recordings may be played from besides this one (CSP `media-src`), for example
    /// `https://storage.vapi.ai` where Vapi keeps call recordings.
    pub media_sources: Vec<String>,
}

/// Vapi's recording host, the default of `CONSOLE_MEDIA_SOURCES`.
pub const DEFAULT_MEDIA_SOURCE: &str = "https://storage.vapi.ai";

impl ConsoleConfig {
    /// The `Content-Security-Policy` of console responses. Styles allow `'unsafe-inline'`
    /// because Radix's scroll lock inserts a `<style>` element; scripts never do.
    #[must_use]
    pub fn content_security_policy(&self) -> String {
        let media = std::iter::once("'self'")
            .chain(self.media_sources.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; font-src 'self'; connect-src 'self'; media-src {media}; \
             object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        )
    }
}

/// Whether `path` belongs to the API rather than the console.
#[must_use]
pub fn is_api_path(path: &str) -> bool {
    API_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// How a console file is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caching {
    /// Content-hashed: cached for a year.
    Immutable,
    /// Revalidated on every use.
    NoCache,
}

/// What a console path resolves to inside `dir`; `None` when it names a missing asset or
/// is not a safe relative file name.
fn resolve(dir: &Path, path: &str) -> Option<(PathBuf, Caching)> {
    let relative = path.trim_start_matches('/');
    let safe = |name: &str| {
        !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if let Some(asset) = relative.strip_prefix("assets/") {
        let file = dir.join("assets").join(asset);
        return (safe(asset) && file.is_file()).then_some((file, Caching::Immutable));
    }
    if safe(relative) && relative != "index.html" {
        let file = dir.join(relative);
        if file.is_file() {
            return Some((file, Caching::NoCache));
        }
    }
    Some((dir.join("index.html"), Caching::NoCache))
}

/// The build's gzip copy of a hashed asset (`<file>.gz`, written by the console's build) when
/// the browser accepts gzip, typed as the original.
async fn precompressed(
    file: &Path,
    caching: Caching,
    req: &HttpRequest,
) -> Option<actix_files::NamedFile> {
    let accepts_gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if caching != Caching::Immutable || !accepts_gzip {
        return None;
    }
    let extension = file.extension()?.to_str()?;
    let mut gz = file.as_os_str().to_owned();
    gz.push(".gz");
    let named = actix_files::NamedFile::open_async(gz).await.ok()?;
    Some(
        named
            .set_content_type(actix_files::file_extension_to_mime(extension))
            .set_content_encoding(header::ContentEncoding::Gzip),
    )
}

/// Answers a console request, or `None` when `path` is not the console's (a missing asset,
/// or no console configured) so the caller answers its 404.
pub async fn serve(config: &ConsoleConfig, req: &HttpRequest) -> Option<HttpResponse> {
    let dir = config.dir.as_deref()?;
    if is_api_path(req.path()) || !matches!(req.method().as_str(), "GET" | "HEAD") {
        return None;
    }
    let (file, caching) = resolve(dir, req.path())?;
    let named = match precompressed(&file, caching, req).await {
        Some(gzipped) => gzipped,
        None => actix_files::NamedFile::open_async(&file).await.ok()?,
    };
    let mut response = named.into_response(req);
    let headers = response.headers_mut();
    if caching == Caching::Immutable {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    let cache = match caching {
        Caching::Immutable => "public, max-age=31536000, immutable",
        Caching::NoCache => "no-cache",
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(csp) = HeaderValue::from_str(&config.content_security_policy()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_prefixes_are_whole_segments() {
        assert!(is_api_path("/api/calls-dashboard"));
        assert!(is_api_path("/ws"));
        assert!(is_api_path("/healthz"));
        assert!(!is_api_path("/wsx"));
        assert!(!is_api_path("/apix/x"));
        assert!(!is_api_path("/calls/123"));
        assert!(!is_api_path("/"));
    }

    #[test]
    fn unsafe_asset_names_are_refused() {
        let dir = Path::new("/nonexistent");
        assert_eq!(resolve(dir, "/assets/../secret"), None);
        assert_eq!(resolve(dir, "/assets/.env"), None);
        assert_eq!(resolve(dir, "/assets/missing.js"), None);
        assert_eq!(
            resolve(dir, "/../etc/passwd"),
            Some((dir.join("index.html"), Caching::NoCache))
        );
    }

    #[test]
    fn media_sources_are_listed_in_the_policy() {
        let config = ConsoleConfig {
            dir: None,
            media_sources: vec![DEFAULT_MEDIA_SOURCE.to_owned()],
        };
        let csp = config.content_security_policy();
        assert!(csp.contains("media-src 'self' https://storage.vapi.ai;"));
        assert!(csp.contains("script-src 'self';"));
        assert!(csp.contains("connect-src 'self';"));
    }
}
