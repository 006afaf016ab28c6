//! A small JSON client for the gateway's public HTTP interface.

use anyhow::Context as _;
use serde_json::Value;

/// The answer to one request: its status and its body (JSON, or the text as a JSON string when
/// it is not JSON, `null` when empty).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Value,
}

/// The gateway's public HTTP interface at `base` (`http://127.0.0.1:<port>`).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    /// A client keeping up to 256 idle connections to the gateway (the load scenarios run
    /// that many requests at once).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: base.to_owned(),
        })
    }

    /// `ws://…/ws<query>`.
    #[must_use]
    pub fn ws_url(&self, query: &str) -> String {
        format!("{}/ws{query}", self.base.replacen("http://", "ws://", 1))
    }

    /// Sends `method path` with an optional bearer token, extra headers and a JSON body.
    ///
    /// # Errors
    /// When the request cannot be sent or its body read (not on error statuses).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> anyhow::Result<Reply> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).context("HTTP method")?;
        let mut req = self.http.request(method, format!("{}{path}", self.base));
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
                .with_context(|| format!("sending {path}"))?,
        )
        .await
    }

    /// `GET path` as `token`.
    ///
    /// # Errors
    /// As [`Api::send`].
    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Reply> {
        self.send("GET", path, Some(token), &[], None).await
    }

    /// `POST path` with a JSON body as `token`.
    ///
    /// # Errors
    /// As [`Api::send`].
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> anyhow::Result<Reply> {
        self.send("POST", path, token, &[], Some(body)).await
    }

    /// `POST path` with a raw body of `content_type` (webhooks: Vapi JSON, Dialpad JWS).
    ///
    /// # Errors
    /// As [`Api::send`].
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Self::reply(
            req.send()
                .await
                .with_context(|| format!("sending {path}"))?,
        )
        .await
    }

    /// Posts a Vapi server `message` to `route` with the webhook `secret` in `x-vapi-secret`;
    /// whether it was answered 200.
    pub async fn vapi(&self, route: &str, secret: &str, message: &Value) -> bool {
        self.post_raw(
            route,
            "application/json",
            message.to_string(),
            &[("x-vapi-secret", secret)],
        )
        .await
        .is_ok_and(|r| r.status == 200)
    }

    /// Uploads `bytes` as the multipart field `file` named `file_name` of type `mime`.
    ///
    /// # Errors
    /// As [`Api::send`].
    pub async fn upload(
        &self,
        path: &str,
        token: &str,
        file_name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Reply> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_owned())
            .mime_str(mime)
            .context("MIME type")?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .multipart(form);
        Self::reply(
            req.send()
                .await
                .with_context(|| format!("sending {path}"))?,
        )
        .await
    }

    async fn reply(res: reqwest::Response) -> anyhow::Result<Reply> {
        let status = res.status().as_u16();
        let text = res.text().await.context("reading a reply")?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Reply { status, body })
    }
}
