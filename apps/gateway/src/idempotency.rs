//! Middleware: `Idempotency-Key` on write requests made with an organization API key
//! (docs/integrating.md, "Idempotency"). The first answer (any status below 500) is kept for
//! 24 h and given again, with `Idempotent-Replayed: true`, for the same key and the same
//! method, path, query and body; the same key with another request is 409
//! `idempotency_key_reused`, and a repeat while the first still runs 409
//! `idempotency_in_progress`. A 5xx is not kept, so a retry runs again. Users' requests and
//! reads pass through untouched.

use actix_web::body::{BoxBody, MessageBody, to_bytes_limited};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpResponse, web};
use futures_util::StreamExt as _;
use ring::digest;
use tenancy::idempotency::{self, Claim, IdempotentRequest, StoredAnswer};

use crate::auth::authenticated_key;
use crate::error::ApiError;
use crate::state::AppState;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Largest request body read for the hash, and largest answer kept (bytes).
const MAX_BYTES: usize = 32 * 1024 * 1024;

fn conflict(code: &'static str, message: &str) -> actix_web::Error {
    ApiError::new(StatusCode::CONFLICT, code, message).into()
}

/// The idempotency key of `req`, when it is a write made with an organization API key that
/// sent one. A malformed key is refused 400 `invalid_idempotency_key`.
fn presented(
    req: &ServiceRequest,
) -> Result<Option<(String, tenancy::org_keys::KeyPrincipal)>, ApiError> {
    if !crate::access::is_write(req.method()) {
        return Ok(None);
    }
    let (Some(value), Some(key)) = (req.headers().get(HEADER), authenticated_key(req.request()))
    else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default();
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-255 visible ASCII characters",
        ));
    }
    Ok(Some((value.to_owned(), key)))
}

/// Reads the whole body (up to [`MAX_BYTES`]) and puts it back for the handler.
async fn take_body(req: &mut ServiceRequest) -> Result<web::Bytes, actix_web::Error> {
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
            .into());
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    req.set_payload(actix_web::dev::Payload::from(body.clone()));
    Ok(body)
}

fn request_hash(req: &ServiceRequest, body: &[u8]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(req.method().as_str().as_bytes());
    ctx.update(b" ");
    ctx.update(
        req.uri()
            .path_and_query()
            .map_or("", |p| p.as_str())
            .as_bytes(),
    );
    ctx.update(b"\n");
    ctx.update(body);
    ctx.finish().as_ref().to_vec()
}

fn replayed(answer: StoredAnswer) -> HttpResponse {
    let mut res =
        HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK));
    if let Some(kind) = answer.content_type {
        res.insert_header((header::CONTENT_TYPE, kind));
    }
    res.insert_header(("idempotent-replayed", "true"))
        .body(answer.body)
}

/// The middleware (registered inside [`crate::auth::authenticate`], which finds the key).
///
/// # Errors
/// Whatever the inner service returns; 400/409 as described above.
pub async fn replay(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some((key, principal)) = presented(&req)? else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let body = take_body(&mut req).await?;
    let claimed = IdempotentRequest {
        org_id: principal.org_id,
        api_key_id: principal.key_id,
        key,
        request_hash: request_hash(&req, &body),
    };
    match idempotency::claim(&state.db, claimed.clone())
        .await
        .map_err(ApiError::from)?
    {
        Claim::Run => {}
        Claim::Replay(answer) => return Ok(req.into_response(replayed(answer))),
        Claim::Mismatch => {
            return Err(conflict(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            ));
        }
        Claim::InProgress => {
            return Err(conflict(
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still running; retry later",
            ));
        }
    }
    let res = next.call(req).await?;
    let (http_req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = to_bytes_limited(body, MAX_BYTES)
        .await
        .map_err(|_| ApiError::internal("an answer too large to keep for idempotency"))?
        .map_err(|_| ApiError::internal("reading an answer failed"))?;
    let status = head.status();
    let answer = (status.as_u16() < 500).then(|| StoredAnswer {
        status: status.as_u16(),
        content_type: head
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: bytes.to_vec(),
    });
    idempotency::finish(&state.db, claimed, answer)
        .await
        .map_err(ApiError::from)?;
    Ok(ServiceResponse::new(
        http_req,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}
