//! Limits per client at the edge (`docs/security.md`, "Hostile input and limits"):
//!
//! - **Body read deadline**: a request body must arrive within [`EdgeConfig::body_timeout`]
//!   of the request head; past it the request is answered 408 `request_timeout` and its
//!   connection closed, so a client trickling a body cannot hold a worker.
//! - **Requests in flight per client**: at most [`EdgeConfig::max_requests_per_client`] at
//!   once (one per HTTP/1.1 connection, so this caps the connections a client keeps busy); the
//!   next is answered 429 `too_many_requests` with `Retry-After: 1`. Idle keep-alive
//!   connections close after the server's keep-alive timeout. A WebSocket counts only while it
//!   is being upgraded, and its message stream has no deadline.
//!
//! The client is the socket peer, or, when the peer is one of [`EdgeConfig::trusted_proxies`]
//! (a load balancer), the right-most `X-Forwarded-For` address that is not a trusted proxy.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_util::Stream;

use crate::error::ApiError;

/// The client of a request as the edge decided it (the peer, or the trusted proxy's
/// `X-Forwarded-For` entry): what rate limits, API keys' last use and the audit trail record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The client address of `req` ([`ClientAddress`]), or its peer when the edge did not run.
#[must_use]
pub fn client_address(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    req.extensions()
        .get::<ClientAddress>()
        .map(|c| c.0)
        .or_else(|| req.peer_addr().map(|a| a.ip()))
}

/// Per-client limits (`HTTP_BODY_TIMEOUT_SECS`, `HTTP_MAX_REQUESTS_PER_CLIENT`,
/// `TRUSTED_PROXIES`).
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// How long a request body may take to arrive, from the end of its head.
    pub body_timeout: Duration,
    /// Requests one client may have in flight at once.
    pub max_requests_per_client: usize,
    /// Peers whose `X-Forwarded-For` names the client (load balancers).
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for EdgeConfig {
    /// 30 s, 256 requests, no trusted proxy.
    fn default() -> Self {
        Self {
            body_timeout: Duration::from_secs(30),
            max_requests_per_client: 256,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The requests in flight per client, shared by every worker of an instance.
#[derive(Debug, Default)]
pub struct ClientLimits {
    config: EdgeConfig,
    in_flight: Mutex<HashMap<IpAddr, usize>>,
}

/// One request counted against its client until dropped.
struct Permit {
    limits: Arc<ClientLimits>,
    client: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut in_flight = self
            .limits
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = in_flight.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                in_flight.remove(&self.client);
            }
        }
    }
}

impl ClientLimits {
    /// Limits as `config` says.
    #[must_use]
    pub fn new(config: EdgeConfig) -> Self {
        Self {
            config,
            in_flight: Mutex::default(),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// The client of a request from `peer` carrying `forwarded_for` (`X-Forwarded-For`).
    #[must_use]
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let trusted = |ip: &IpAddr| self.config.trusted_proxies.contains(ip);
        if !trusted(&peer) {
            return peer;
        }
        forwarded_for
            .into_iter()
            .flat_map(|v| v.rsplit(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .find(|ip| !trusted(ip))
            .unwrap_or(peer)
    }

    fn enter(self: &Arc<Self>, client: IpAddr) -> Option<Permit> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = in_flight.entry(client).or_insert(0);
        if *n >= self.config.max_requests_per_client {
            return None;
        }
        *n += 1;
        Some(Permit {
            limits: self.clone(),
            client,
        })
    }
}

/// A request body that fails with a timeout once its deadline passes.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: Rc<Cell<bool>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if this.expired.get() {
            return Poll::Ready(None);
        }
        match this.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.expired.set(true);
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request body not received in time",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn refuse(req: ServiceRequest, error: &ApiError) -> ServiceResponse<BoxBody> {
    let mut response = actix_web::ResponseError::error_response(error);
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    req.into_response(response)
}

/// Middleware: counts the request against its client and puts a deadline on its body.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn limit_clients(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limits) = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.edge.clone())
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let peer = req
        .peer_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let client = limits.client(peer, forwarded);
    req.extensions_mut().insert(ClientAddress(client));
    let Some(_permit) = limits.enter(client) else {
        let busy = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many requests in flight from this client; slow down",
        )
        .with_header("retry-after", "1");
        return Ok(refuse(req, &busy));
    };
    // A WebSocket's payload is its message stream for as long as it lives: no deadline.
    if req.headers().contains_key(actix_web::http::header::UPGRADE) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let expired = Rc::new(Cell::new(false));
    let body = Deadline {
        inner: req.take_payload(),
        sleep: Box::pin(tokio::time::sleep(limits.config.body_timeout)),
        expired: expired.clone(),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(body),
    });
    let response = next.call(req).await?.map_into_boxed_body();
    if expired.get() {
        let late = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body was not received in time",
        );
        let (http, _) = response.into_parts();
        return Ok(refuse(ServiceRequest::from_request(http), &late));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwards() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let limits = ClientLimits::new(EdgeConfig {
            trusted_proxies: vec![proxy],
            ..EdgeConfig::default()
        });
        let peer = IpAddr::from([203, 0, 113, 9]);
        assert_eq!(limits.client(peer, Some("1.2.3.4")), peer);
        assert_eq!(
            limits.client(proxy, Some("1.2.3.4, 198.51.100.7, 10.0.0.2")),
            IpAddr::from([198, 51, 100, 7])
        );
        assert_eq!(limits.client(proxy, None), proxy);
    }

    #[test]
    fn permits_are_counted_and_returned() {
        let limits = Arc::new(ClientLimits::new(EdgeConfig {
            max_requests_per_client: 2,
            ..EdgeConfig::default()
        }));
        let ip = IpAddr::from([192, 0, 2, 1]);
        let a = limits.enter(ip);
        let b = limits.enter(ip);
        assert!(a.is_some() && b.is_some());
        assert!(limits.enter(ip).is_none());
        assert!(limits.enter(IpAddr::from([192, 0, 2, 2])).is_some());
        drop(a);
        assert!(limits.enter(ip).is_some());
    }
}
