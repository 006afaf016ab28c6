//! WebSocket clients of the gateway's `/ws` that record every event they receive.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// A connected client; its reader runs in the background until dropped.
pub struct Listener {
    /// What this client is (printed in the report).
    pub name: String,
    events: Arc<Mutex<Vec<(Instant, Value)>>>,
    reader: tokio::task::JoinHandle<()>,
}

/// A raw client connection.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `url` and waits for the server's `auth_success`.
///
/// # Errors
/// When the connection is refused or the first frame is not `auth_success`.
pub async fn connect(url: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .context("opening the WebSocket")?;
    let hello = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .context("no auth_success within 10 s")?;
    match hello {
        Some(Ok(Message::Text(text))) => {
            let frame: Value = serde_json::from_str(&text).context("auth frame")?;
            if frame["type"] != "auth_success" {
                bail!("WebSocket authentication failed: {frame}");
            }
            Ok(socket)
        }
        other => bail!("WebSocket closed before authenticating: {other:?}"),
    }
}

/// `n` connections to `url`, opened 100 at a time.
///
/// # Errors
/// As [`connect`], for the first one that fails.
pub async fn connect_many(url: &str, n: usize) -> anyhow::Result<Vec<Socket>> {
    let mut sockets = Vec::with_capacity(n);
    while sockets.len() < n {
        let batch = (n - sockets.len()).min(100);
        for socket in futures_util::future::join_all((0..batch).map(|_| connect(url))).await {
            sockets.push(socket?);
        }
    }
    Ok(sockets)
}

/// The JSON of a text frame (`None` for pings, closes and non-JSON).
#[must_use]
pub fn json_of(frame: &Message) -> Option<Value> {
    match frame {
        Message::Text(text) => serde_json::from_str(text).ok(),
        _ => None,
    }
}

impl Listener {
    /// Connects `name` to `url` and records every JSON event from then on.
    ///
    /// # Errors
    /// As [`connect`].
    pub async fn start(name: &str, url: &str) -> anyhow::Result<Self> {
        let mut socket = connect(url).await?;
        let events: Arc<Mutex<Vec<(Instant, Value)>>> = Arc::default();
        let sink = events.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                if let Message::Ping(payload) = &frame {
                    let _ = socket.send(Message::Pong(payload.clone())).await;
                }
                if let Some(event) = json_of(&frame)
                    && let Ok(mut events) = sink.lock()
                {
                    events.push((Instant::now(), event));
                }
            }
        });
        Ok(Self {
            name: name.to_owned(),
            events,
            reader,
        })
    }

    /// Every event received so far, in order.
    #[must_use]
    pub fn events(&self) -> Vec<Value> {
        self.events
            .lock()
            .map(|e| e.iter().map(|(_, v)| v.clone()).collect())
            .unwrap_or_default()
    }

    /// Waits until `done(events)` holds or `timeout` passes; returns whether it held.
    pub async fn wait_until(&self, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> bool {
        let until = Instant::now() + timeout;
        loop {
            if done(&self.events()) {
                return true;
            }
            if Instant::now() > until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
