//! The success envelope of every JSON answer with a 2xx status: `{ "success": true, …body }`,
//! seed 001's response shape (errors are `{ "success": false, … }`, [`crate::error::ErrorBody`]).
//! A handler answers `reply::ok(AppResponse { app })`; the response types hold only their own
//! fields, and the OpenAPI document names them `Success<AppResponse>`.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

/// `{ "success": true, …T }`: `T`'s fields beside a constant `success`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Success<T> {
    /// Always `true`.
    success: bool,
    /// The answer's own fields, flattened into the envelope.
    #[serde(flatten)]
    body: T,
}

impl<T> Success<T> {
    /// `body` in the envelope.
    pub const fn new(body: T) -> Self {
        Self {
            success: true,
            body,
        }
    }
}

/// 200 OK with `body` in the envelope.
pub fn ok<T: Serialize>(body: T) -> HttpResponse {
    HttpResponse::Ok().json(Success::new(body))
}

/// 201 Created with `body` in the envelope.
pub fn created<T: Serialize>(body: T) -> HttpResponse {
    HttpResponse::Created().json(Success::new(body))
}

/// 202 Accepted with `body` in the envelope.
pub fn accepted<T: Serialize>(body: T) -> HttpResponse {
    HttpResponse::Accepted().json(Success::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Body {
        id: u32,
    }

    #[test]
    fn the_envelope_puts_success_beside_the_bodys_own_fields() {
        let json = serde_json::to_value(Success::new(Body { id: 7 })).unwrap();
        assert_eq!(json, serde_json::json!({ "success": true, "id": 7 }));
    }
}
