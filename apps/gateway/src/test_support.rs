//! A real gateway for tests (feature `test-support`): the production app on a random loopback
//! port, with its own freshly migrated database, and a small JSON client for it. Used by the
//! gateway's own tests and by the workspace contract suite.

use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::HttpServer;
use actix_web::dev::ServerHandle;
use db::test_support::TestDatabase;
use serde_json::{Value, json};

mod vapi_mock;
pub mod ws;

pub use vapi_mock::mock_vapi;

use crate::app::{self, BodyLimits};
use crate::config::LogFormat;
use crate::state::{AppState, AuthKeys};
use crate::telemetry;

/// Log output captured in memory: install it once per test binary (it becomes the process-wide
/// subscriber), then read what was logged.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs a JSON subscriber at `filter` (for example `"debug"`) writing here.
    #[must_use]
    pub fn install(filter: &str) -> Self {
        let captured = Self::default();
        let writer = captured.clone();
        telemetry::init_with_writer(LogFormat::Json, filter, move || writer.clone());
        captured
    }

    /// Everything logged so far.
    ///
    /// # Panics
    /// If a writer panicked while holding the buffer.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("log buffer poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JWT secret test gateways sign with (32 bytes).
pub const TEST_JWT_SECRET: &[u8] = b"test-jwt-secret-0123456789abcdef";
/// The API-key pepper test gateways hash with (32 bytes).
pub const TEST_API_KEY_PEPPER: &[u8] = b"test-api-key-pepper-0123456789ab";

/// The credentials keyring test gateways seal with: one key `test`, 32 zero bytes.
pub const TEST_CREDENTIALS_KEYS: &str = "test:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// The Vapi webhook secret test gateways accept (`x-vapi-secret`).
pub const TEST_VAPI_SECRET: &str = "test-vapi-webhook-secret-0123456789";

/// The public URL of voice test gateways (what Vapi is given).
pub const TEST_PUBLIC_BASE_URL: &str = "https://gw.clinic.test";

/// The platform's Vapi account for tests: key `test-vapi-private-key` at `base_url`, webhook
/// secret [`TEST_VAPI_SECRET`] sent as `x-vapi-secret`.
#[must_use]
pub fn test_vapi_config(base_url: &str) -> crate::config::VapiConfig {
    crate::config::VapiConfig {
        private_key: Some(secrecy::SecretString::from("test-vapi-private-key")),
        base_url: base_url.to_owned(),
        webhook: Some(vapi_client::Scheme::Secret {
            header: "x-vapi-secret".into(),
            secrets: vec![secrecy::SecretString::from(TEST_VAPI_SECRET)],
        }),
        server_auth: Some(voice_agent::ServerAuth::Header {
            name: "x-vapi-secret".into(),
            value: secrecy::SecretString::from(TEST_VAPI_SECRET),
        }),
    }
}

/// Voice settings for tests: retry pauses of 10, 20 and 40 ms, failed links retried after
/// 200 ms.
#[must_use]
pub fn test_voice_config() -> voice_agent::VoiceConfig {
    voice_agent::VoiceConfig {
        retry_delays: vec![
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(20),
            std::time::Duration::from_millis(40),
        ],
        link_retry_after: std::time::Duration::from_millis(200),
        ..voice_agent::VoiceConfig::default()
    }
}

/// State for a test app on `db`, with the test secrets and the providers' public endpoints.
///
/// # Panics
/// Never with the constants above.
#[must_use]
pub fn test_state(db: db::Db) -> AppState {
    test_state_with(db, integrations::ProviderEndpoints::default())
}

/// [`test_state`] with provider endpoints of the test's choosing (mock servers).
///
/// # Panics
/// Never with the constants above.
#[must_use]
pub fn test_state_with(db: db::Db, endpoints: integrations::ProviderEndpoints) -> AppState {
    test_state_full(db, endpoints, None)
}

/// [`test_state_with`] plus a Google OAuth client (pointing at a mock Google).
///
/// # Panics
/// Never with the constants above.
#[must_use]
pub fn test_state_full(
    db: db::Db,
    endpoints: integrations::ProviderEndpoints,
    google: Option<integrations::google::GoogleOAuthConfig>,
) -> AppState {
    test_app_state(db, endpoints, google, None)
}

/// The test secrets, providers at `endpoints`, optional Google and public URL.
fn test_app_state(
    db: db::Db,
    endpoints: integrations::ProviderEndpoints,
    google: Option<integrations::google::GoogleOAuthConfig>,
    public_base_url: Option<String>,
) -> AppState {
    AppState::new(
        db,
        AuthKeys::new(TEST_JWT_SECRET, TEST_API_KEY_PEPPER).expect("test secrets are long enough"),
        credentials::Keyring::from_config(TEST_CREDENTIALS_KEYS, "test").expect("test keyring"),
        endpoints,
        google,
        public_base_url,
    )
    .with_webhooks(&test_webhook_config())
}

/// Webhook delivery for tests: loopback receivers allowed, retries 50 ms apart (five), a 2 s
/// timeout.
#[must_use]
pub fn test_webhook_config() -> crate::config::WebhookConfig {
    crate::config::WebhookConfig {
        delivery: webhooks::DeliveryConfig {
            schedule: webhooks::RetrySchedule(vec![std::time::Duration::from_millis(50); 5]),
            timeout: std::time::Duration::from_secs(2),
            ..webhooks::DeliveryConfig::default()
        },
        allowed_networks: vec!["127.0.0.0/8".parse().expect("a network")],
    }
}

/// An HTTP client for tests (installs the TLS crypto provider reqwest needs first).
#[must_use]
pub fn http_client() -> reqwest::Client {
    twilio_client::ensure_tls_provider();
    reqwest::Client::new()
}

/// A gateway serving on `127.0.0.1:<random port>` with its own migrated database; stopped on
/// drop.
pub struct TestGateway {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The gateway's database (for arranging data and asserting effects).
    pub database: TestDatabase,
    client: reqwest::Client,
    handle: ServerHandle,
    /// This instance's job runner and realtime fan-out (stopped with it).
    _background: crate::background::Background,
    /// The state it serves (its hub shows this instance's WebSocket connections).
    pub state: AppState,
}

/// The job runner for tests: two workers, a short lease and idle poll, so recovery tests
/// finish quickly.
#[must_use]
pub fn test_runner_config() -> jobs::RunnerConfig {
    jobs::RunnerConfig {
        workers: 2,
        lease: std::time::Duration::from_secs(2),
        idle_poll: std::time::Duration::from_millis(200),
        shutdown_grace: std::time::Duration::from_secs(2),
        ..jobs::RunnerConfig::default()
    }
}

/// A response: status and JSON body (`Value::Null` for an empty body, a string for non-JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers (lower-case names).
    pub headers: reqwest::header::HeaderMap,
    /// Parsed body.
    pub body: Value,
}

impl TestGateway {
    /// Starts the gateway with the production limits (256 KiB JSON, 10 MiB other bodies).
    ///
    /// # Panics
    /// When the database or the listener cannot be had.
    pub async fn start() -> Self {
        Self::start_with(integrations::ProviderEndpoints::default()).await
    }

    /// [`TestGateway::start`] with provider endpoints of the test's choosing (mock servers).
    ///
    /// # Panics
    /// As [`TestGateway::start`].
    pub async fn start_with(endpoints: integrations::ProviderEndpoints) -> Self {
        Self::start_full(endpoints, None).await
    }

    /// [`TestGateway::start_with`] plus a Google OAuth client (pointing at a mock Google).
    ///
    /// # Panics
    /// As [`TestGateway::start`].
    pub async fn start_full(
        endpoints: integrations::ProviderEndpoints,
        google: Option<integrations::google::GoogleOAuthConfig>,
    ) -> Self {
        let database = TestDatabase::new().await;
        let state = test_state_full(database.db(), endpoints, google);
        Self::serve_with(database, state, test_runner_config().workers)
    }

    /// [`TestGateway::start`] with per-client limits of the test's choosing.
    ///
    /// # Panics
    /// As [`TestGateway::start`].
    pub async fn start_edge(edge: crate::edge::EdgeConfig) -> Self {
        let database = TestDatabase::new().await;
        let state = test_state(database.db()).with_edge(edge);
        Self::serve_with(database, state, test_runner_config().workers)
    }

    /// [`TestGateway::start`] with request rate limits `limits` and CORS for `cors_origins`.
    ///
    /// # Panics
    /// As [`TestGateway::start`].
    pub async fn start_api_limits(
        limits: crate::rate_limit::RateLimitConfig,
        cors_origins: &[String],
    ) -> Self {
        let database = TestDatabase::new().await;
        let state = test_state(database.db()).with_api_limits(limits, cors_origins);
        Self::serve_with(database, state, test_runner_config().workers)
    }

    /// [`TestGateway::start`] serving the operator console described by `console`.
    ///
    /// # Panics
    /// As [`TestGateway::start`].
    pub async fn start_console(console: crate::console::ConsoleConfig) -> Self {
        let database = TestDatabase::new().await;
        let state = test_state(database.db()).with_console(console);
        Self::serve_with(database, state, test_runner_config().workers)
    }

    /// A gateway with the platform's Vapi account at `vapi_base_url` (a mock), the webhook
    /// secret [`TEST_VAPI_SECRET`] in `x-vapi-secret`, public URL [`TEST_PUBLIC_BASE_URL`], other
    /// providers at `endpoints`, and short retry pauses (10, 20, 40 ms).
    ///
    /// # Panics
    /// As [`TestGateway::start`].
    pub async fn start_voice(
        endpoints: integrations::ProviderEndpoints,
        vapi_base_url: &str,
    ) -> Self {
        Self::start_voice_full(endpoints, vapi_base_url, None).await
    }

    /// [`TestGateway::start_voice`] plus a Google OAuth client (pointing at a mock Google).
    ///
    /// # Panics
    /// As [`TestGateway::start`].
    pub async fn start_voice_full(
        endpoints: integrations::ProviderEndpoints,
        vapi_base_url: &str,
        google: Option<integrations::google::GoogleOAuthConfig>,
    ) -> Self {
        Self::voice(
            endpoints,
            vapi_base_url,
            google,
            test_runner_config().workers,
        )
        .await
    }

    /// [`TestGateway::start_voice`] with no job workers: only the request path touches the
    /// database (for counting a request's round trips).
    ///
    /// # Panics
    /// As [`TestGateway::start`].
    pub async fn start_voice_without_jobs(
        endpoints: integrations::ProviderEndpoints,
        vapi_base_url: &str,
    ) -> Self {
        Self::voice(endpoints, vapi_base_url, None, 0).await
    }

    /// A voice-enabled gateway on a fresh database with `job_workers` job workers.
    async fn voice(
        endpoints: integrations::ProviderEndpoints,
        vapi_base_url: &str,
        google: Option<integrations::google::GoogleOAuthConfig>,
        job_workers: usize,
    ) -> Self {
        let database = TestDatabase::new().await;
        let state = test_app_state(
            database.db(),
            endpoints,
            google,
            Some(TEST_PUBLIC_BASE_URL.into()),
        )
        .with_vapi(&test_vapi_config(vapi_base_url), test_voice_config());
        Self::serve_with(database, state, job_workers)
    }

    /// Another gateway instance on the **same** database (its own pool, hub, `job_workers`
    /// job workers and fan-out), as a second replica behind a load balancer would be.
    ///
    /// # Panics
    /// As [`TestGateway::start`].
    pub async fn second_instance(&self, job_workers: usize) -> Self {
        let database = self.database.share();
        let state = test_state(database.db());
        Self::serve_with(database, state, job_workers)
    }

    fn serve_with(database: TestDatabase, state: AppState, job_workers: usize) -> Self {
        let limits = BodyLimits {
            json: 256 * 1024,
            other: 10 * 1024 * 1024,
        };
        let background = crate::background::Background::start(
            &state,
            jobs::RunnerConfig {
                workers: job_workers,
                ..test_runner_config()
            },
            &format!("test-{}", uuid::Uuid::new_v4()),
        );
        let served = state.clone();
        let server = HttpServer::new(move || app::build(served.clone(), limits))
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .expect("binding a loopback port");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            database,
            client: http_client(),
            handle,
            _background: background,
            state,
        }
    }

    /// Sends a request. `token` goes into `Authorization: Bearer`, `headers` as given, `body` as
    /// JSON.
    ///
    /// # Panics
    /// When the request cannot be sent at all.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        Self::reply(
            req.send()
                .await
                .expect("sending a request to the test gateway"),
        )
        .await
    }

    /// `POST` a raw body of `content_type` with extra headers (webhooks: JWTs, forms).
    ///
    /// # Panics
    /// When the request cannot be sent at all.
    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Self::reply(
            req.send()
                .await
                .expect("sending a request to the test gateway"),
        )
        .await
    }

    /// Reads a response into a [`Reply`] (for requests the helpers here do not build, such as
    /// multipart uploads).
    pub async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `GET` with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send("GET", path, token, &[], None).await
    }

    /// `POST` a JSON body with an optional bearer token.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send("POST", path, token, &[], Some(body)).await
    }

    /// Signs up an organization with slug `slug` and admin `admin@<slug>.example` (password
    /// `"correct horse battery staple"`); returns the admin's session.
    ///
    /// # Panics
    /// When sign-up fails.
    pub async fn signup(&self, slug: &str) -> Session {
        let email = format!("admin@{slug}.example");
        let reply = self
            .post(
                "/api/auth/signup",
                None,
                &json!({
                    "organization_name": format!("Clinic {slug}"),
                    "organization_slug": slug,
                    "name": "Org Admin",
                    "email": email,
                    "password": TEST_PASSWORD,
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "sign-up failed: {:?}", reply.body);
        Session::from_reply(&reply)
    }

    /// Creates a user through the API as `creator` and signs them in.
    ///
    /// # Panics
    /// When creation or sign-in fails.
    pub async fn add_user(&self, creator: &Session, email: &str, role: &str) -> Session {
        let reply = self
            .post(
                "/api/users",
                Some(&creator.token),
                &json!({"name": format!("Member {role}"), "email": email, "password": TEST_PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(
            reply.status, 201,
            "creating {email} failed: {:?}",
            reply.body
        );
        self.login(email).await
    }

    /// Signs in with [`TEST_PASSWORD`].
    ///
    /// # Panics
    /// When sign-in fails.
    pub async fn login(&self, email: &str) -> Session {
        let reply = self
            .post(
                "/api/auth/login",
                None,
                &json!({"email": email, "password": TEST_PASSWORD}),
            )
            .await;
        assert_eq!(
            reply.status, 200,
            "login of {email} failed: {:?}",
            reply.body
        );
        Session::from_reply(&reply)
    }

    /// Creates an app as `admin` and issues its key; returns `(app_id, api_key)`.
    ///
    /// # Panics
    /// When either step fails.
    pub async fn app_with_key(&self, admin: &Session, name: &str) -> (String, String) {
        let reply = self
            .post("/api/apps", Some(&admin.token), &json!({"name": name}))
            .await;
        assert_eq!(reply.status, 201, "creating app failed: {:?}", reply.body);
        let app_id = reply.body["app"]["id"].as_str().expect("app id").to_owned();
        let reply = self
            .post(
                &format!("/internal/apps/{app_id}/api-key"),
                Some(&admin.token),
                &Value::Null,
            )
            .await;
        assert_eq!(reply.status, 200, "issuing key failed: {:?}", reply.body);
        let key = reply.body["api_key"].as_str().expect("api key").to_owned();
        (app_id, key)
    }
}

/// The password every test user gets.
pub const TEST_PASSWORD: &str = "correct horse battery staple";

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    /// Bearer token.
    pub token: String,
    /// User id.
    pub user_id: String,
    /// Organization id.
    pub org_id: String,
}

impl Session {
    fn from_reply(reply: &Reply) -> Self {
        let text = |v: &Value| v.as_str().expect("string field").to_owned();
        Self {
            token: text(&reply.body["token"]),
            user_id: text(&reply.body["user"]["id"]),
            org_id: text(&reply.body["user"]["org_id"]),
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Mounts a Twilio account `account_sid` that is active and owns `number` on a mock server
/// (FetchAccount and ListIncomingPhoneNumber, the telephony contract, B.2).
pub async fn mock_twilio_account(server: &wiremock::MockServer, account_sid: &str, number: &str) {
    use wiremock::matchers::{method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{account_sid}.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sid": account_sid, "friendly_name": "Clinic", "status": "active", "type": "Full"
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json")))
        .and(query_param("PhoneNumber", number))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "incoming_phone_numbers": [{"sid": "PN0123456789abcdef0123456789abcdef", "phone_number": number}],
            "next_page_uri": null
        })))
        .mount(server)
        .await;
}

/// Provider endpoints that all point at one mock server.
#[must_use]
pub fn mock_endpoints(server: &wiremock::MockServer) -> integrations::ProviderEndpoints {
    integrations::ProviderEndpoints {
        twilio: server.uri(),
        resend: server.uri(),
        elevenlabs: server.uri(),
        google_calendar: server.uri(),
    }
}
