//! Hostile input decided once, at the edge (`docs/security.md`, "Hostile input"):
//!
//! - [`Json`]: the JSON body of every user-facing route. Besides `web::Json`'s limits and
//!   content type, a NUL character (`\u0000`) anywhere in it, key or value, is refused with 400
//!   `invalid_characters` naming where, since PostgreSQL text cannot store it.
//! - [`refuse_nul_in_url`]: the same for the path and query string (`%00`).
//!
//! Provider payloads (Vapi, Dialpad) are not refused but cleaned, so the provider's message is
//! still recorded: see `routes::vapi` and `event_log::dialpad`.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body of type `T` that holds no NUL character. Extract it after the principal, so
/// that authorization is decided before the body is read.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

fn invalid_characters(where_: &str) -> ApiError {
    ApiError::bad_request(
        "invalid_characters",
        format!("the NUL character is not allowed (at {where_})"),
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            if let Some(pointer) = db::text::find_nul(&value) {
                let at = if pointer.is_empty() { "/" } else { &pointer };
                return Err(invalid_characters(&format!("body {at}")).into());
            }
            serde_json::from_value(value).map(Json).map_err(|e| {
                ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}")).into()
            })
        })
    }
}

/// Middleware: 400 `invalid_characters` for a request whose path or query string holds a NUL
/// character, raw or percent-encoded.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn refuse_nul_in_url(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let holds_nul = |s: &str| s.contains("%00") || db::text::has_nul(s);
    let found = if holds_nul(req.path()) {
        Some("the path")
    } else if holds_nul(req.query_string()) {
        Some("the query string")
    } else {
        None
    };
    if let Some(where_) = found {
        let response = actix_web::ResponseError::error_response(&invalid_characters(where_));
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
