//! WebSocket clients of a [`TestGateway`]'s `/ws`, for tests.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::TestGateway;

/// A WebSocket client connection.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `ws://…/ws<query>` of a gateway.
#[must_use]
pub fn ws_url(gw: &TestGateway, query: &str) -> String {
    format!("{}/ws{query}", gw.base_url.replacen("http://", "ws://", 1))
}

/// Connects and returns the socket after its `auth_success`.
///
/// # Panics
/// When the connection or its authentication fails.
pub async fn connect(gw: &TestGateway, query: &str, headers: &[(&str, &str)]) -> Ws {
    let mut request = ws_url(gw, query)
        .into_client_request()
        .expect("test WebSocket");
    for (name, value) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
            .expect("test WebSocket");
        request
            .headers_mut()
            .insert(name, value.parse().expect("test WebSocket"));
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("test WebSocket");
    let hello = next_json(&mut ws).await.expect("auth_success");
    assert_eq!(hello["type"], "auth_success", "{hello}");
    ws
}

/// The next JSON text frame within 5 s (`None` on timeout or close).
pub async fn next_json(ws: &mut Ws) -> Option<Value> {
    next_json_within(ws, Duration::from_secs(5)).await
}

/// The next JSON text frame within `wait` (`None` on timeout or close).
///
/// # Panics
/// On a text frame that is not JSON.
pub async fn next_json_within(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        match frame {
            Message::Text(text) => {
                return Some(serde_json::from_str(&text).expect("test WebSocket"));
            }
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// Asserts nothing arrives for a moment.
///
/// # Panics
/// When something arrives.
pub async fn assert_quiet(ws: &mut Ws, who: &str) {
    if let Some(v) = next_json_within(ws, Duration::from_millis(700)).await {
        panic!("{who} received an event not meant for it: {v}");
    }
}
