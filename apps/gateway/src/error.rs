//! The one error type of every handler, and its JSON shape:
//! `{"success": false, "error": "<message>", "code": "<code>"}`.
//!
//! Codes are stable, lower snake case, and part of the API contract. Internal errors are logged
//! (inside the request's span, so the log line carries the request id) and answered with a fixed
//! opaque message: no database text, stack trace, secret or other tenant's data ever reaches a
//! response.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// A human-readable message, safe to show.
    pub error: String,
    /// A stable machine-readable code, for example `not_found` or `payload_too_large`.
    pub code: String,
    /// For `slot_taken` only: the next free start times, RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<String>>,
}

/// An error a handler returns. Build it with the constructors; `From` impls map domain errors.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Logged, never sent.
    internal: Option<String>,
    /// One extra response header (`Retry-After`, `WWW-Authenticate`), boxed: errors stay small.
    header: Option<Box<(&'static str, String)>>,
    /// Alternative times offered with `slot_taken`.
    alternatives: Option<Vec<String>>,
}

impl ApiError {
    /// An error with a status, stable code and message shown to the caller as is.
    #[must_use]
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            internal: None,
            header: None,
            alternatives: None,
        }
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.header = Some(Box::new((name, value.into())));
        self
    }

    /// 400 with a caller-facing message.
    #[must_use]
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422 `validation_failed` with a caller-facing message.
    #[must_use]
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
    }

    /// 404 `not_found`. Also the answer for another organization's resources (never 403).
    #[must_use]
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 503 `not_ready` with the reason (no internals).
    #[must_use]
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message)
    }

    /// 500 `internal_error`: `cause` is logged with the request id, the caller sees only
    /// "Internal server error".
    #[must_use]
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal_error",
            message: "Internal server error".into(),
            internal: Some(cause.to_string()),
            header: None,
            alternatives: None,
        }
    }

    /// Attaches a cause that is logged with the request id and never sent.
    #[must_use]
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.internal = Some(cause.to_string());
        self
    }

    /// The stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.internal {
            tracing::error!(code = self.code, cause = %cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status);
        if let Some((name, value)) = self.header.as_deref() {
            response.insert_header((*name, value.as_str()));
        }
        response.json(ErrorBody {
            success: false,
            error: self.message.clone(),
            code: self.code.to_owned(),
            alternatives: self.alternatives.clone(),
        })
    }
}

/// Seconds a client is told to wait (`Retry-After`) while the database is unavailable.
pub const DATABASE_RETRY_AFTER_SECS: u32 = 5;

impl From<db::DbError> for ApiError {
    /// 503 `database_unavailable` with `Retry-After` when the database is out of reach (API
    /// clients and Dialpad retry), else an opaque 500.
    fn from(e: db::DbError) -> Self {
        if e.is_unavailable() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the service cannot reach its database; try again shortly",
            )
            .with_header("retry-after", DATABASE_RETRY_AFTER_SECS.to_string())
            .with_cause(e)
        } else {
            Self::internal(e)
        }
    }
}

impl From<tenancy::TenancyError> for ApiError {
    fn from(e: tenancy::TenancyError) -> Self {
        use tenancy::TenancyError as E;
        let message = e.to_string();
        match e {
            E::Invalid(message) => Self::validation(message),
            E::SlugTaken => Self::new(StatusCode::CONFLICT, "slug_taken", message),
            E::EmailTaken => Self::new(StatusCode::CONFLICT, "email_taken", message),
            E::ExtensionTaken => Self::new(StatusCode::CONFLICT, "extension_taken", message),
            E::InvalidCredentials => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", message)
            }
            E::Unauthenticated => Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
                .with_header("www-authenticate", "Bearer"),
            E::TooManyAttempts { retry_after_secs } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message)
                    .with_header("retry-after", retry_after_secs.to_string())
            }
            E::Forbidden(message) => Self::new(StatusCode::FORBIDDEN, "forbidden", message),
            E::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            E::Db(inner) => inner.into(),
            E::PasswordHash | E::Crypto(_) => Self::internal(e),
        }
    }
}

impl From<credentials::CredentialError> for ApiError {
    fn from(e: credentials::CredentialError) -> Self {
        use credentials::CredentialError as E;
        match e {
            E::NotConnected(_) => Self::new(StatusCode::NOT_FOUND, "not_connected", e.to_string()),
            // Logged as an error where it happened; the message is safe and actionable.
            E::Undecryptable(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "credentials_unreadable",
                e.to_string(),
            ),
            E::Invalid(message) => Self::validation(message),
            E::Db(inner) => inner.into(),
            E::Config(_) | E::UnknownKey(_) | E::Crypto(_) | E::SharedDb(_) => Self::internal(e),
        }
    }
}

impl From<integrations::IntegrationError> for ApiError {
    fn from(e: integrations::IntegrationError) -> Self {
        use integrations::IntegrationError as E;
        let message = e.to_string();
        match e {
            E::Invalid(message) => Self::validation(message),
            E::Rejected { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "credentials_rejected",
                message,
            ),
            E::Unavailable { detail, .. } => {
                Self::new(StatusCode::BAD_GATEWAY, "provider_unavailable", message)
                    .with_cause(detail)
            }
            E::NotDirect(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "connect_via_sign_in",
                message,
            ),
            E::NotConfigured(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_configured", message)
            }
            E::Credential(e) => e.into(),
        }
    }
}

impl From<user_mapping::MappingError> for ApiError {
    fn from(e: user_mapping::MappingError) -> Self {
        use user_mapping::MappingError as E;
        match e {
            E::Invalid(message) => Self::validation(message),
            E::NotFound => Self::not_found("user mapping"),
            E::Db(e) => e.into(),
        }
    }
}

impl From<voicemail::VoicemailError> for ApiError {
    fn from(e: voicemail::VoicemailError) -> Self {
        use voicemail::VoicemailError as E;
        match e {
            E::Invalid(message) => Self::validation(message),
            E::NotFound => Self::not_found("voicemail"),
            E::Db(e) => e.into(),
        }
    }
}

impl From<event_log::EventLogError> for ApiError {
    fn from(e: event_log::EventLogError) -> Self {
        use event_log::EventLogError as E;
        use event_log::dialpad::PayloadError as P;
        let message = e.to_string();
        match e {
            E::Invalid(_) => Self::validation(message),
            E::NotFound(what) => Self::not_found(what),
            E::AppInactive => Self::new(StatusCode::FORBIDDEN, "app_inactive", message),
            E::Payload(P::BadSignature) => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_signature", message)
            }
            E::Payload(P::SignatureRequired) => {
                Self::new(StatusCode::UNAUTHORIZED, "signature_required", message)
            }
            E::Payload(P::NotJson) => Self::bad_request("invalid_payload", message),
            E::Payload(P::Missing(_) | P::OutOfRange(_)) => {
                Self::bad_request("invalid_event", message)
            }
            E::Payload(P::UnreadableClaims) => Self::bad_request("invalid_payload", message),
            E::Voicemail(e) => e.into(),
            E::Crypto(_) | E::LeaseLost => Self::internal(message),
            E::Db(e) => e.into(),
        }
    }
}

impl From<webhooks::WebhookError> for ApiError {
    fn from(e: webhooks::WebhookError) -> Self {
        use webhooks::WebhookError as E;
        let message = e.to_string();
        match e {
            E::NotFound(what) => Self::not_found(what),
            E::Invalid(message) => Self::validation(message),
            E::ForbiddenAddress(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "forbidden_address",
                message,
            ),
            E::Disabled => Self::new(StatusCode::CONFLICT, "endpoint_disabled", message),
            E::Secret(e) => Self::internal(e),
            E::Audit(e) => e.into(),
            E::Db(e) => e.into(),
        }
    }
}

impl From<telephony::TelephonyError> for ApiError {
    fn from(e: telephony::TelephonyError) -> Self {
        use telephony::TelephonyError as E;
        let message = e.to_string();
        let (status, code) = match &e {
            E::InvalidPhone(_) => (StatusCode::BAD_REQUEST, "invalid_phone_number"),
            E::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            E::AlreadyVerified => (StatusCode::CONFLICT, "already_verified"),
            E::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            E::WrongCode { .. } => (StatusCode::BAD_REQUEST, "invalid_code"),
            E::Expired => (StatusCode::GONE, "code_expired"),
            E::Locked => (StatusCode::TOO_MANY_REQUESTS, "verification_locked"),
            E::NotConfirmedByTwilio => (StatusCode::CONFLICT, "not_confirmed_by_twilio"),
            E::NotVerified => (StatusCode::CONFLICT, "not_verified"),
            E::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            E::BadSignature => (StatusCode::FORBIDDEN, "invalid_signature"),
            E::TwilioRejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, "twilio_rejected"),
            E::TwilioUnavailable(detail) => {
                return Self::new(StatusCode::BAD_GATEWAY, "provider_unavailable", message)
                    .with_cause(detail);
            }
            E::Plan(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_forwarding"),
            E::Credential(_) | E::Db(_) => return Self::from_owned_telephony(e),
            E::Hash => return Self::internal(e),
        };
        Self::new(status, code, message)
    }
}

impl ApiError {
    /// The telephony errors that wrap another crate's error, by value.
    fn from_owned_telephony(e: telephony::TelephonyError) -> Self {
        match e {
            telephony::TelephonyError::Credential(inner) => inner.into(),
            telephony::TelephonyError::Db(inner) => inner.into(),
            other => Self::internal(other),
        }
    }
}

impl From<softphone::SoftphoneError> for ApiError {
    fn from(e: softphone::SoftphoneError) -> Self {
        use softphone::SoftphoneError as E;
        let message = e.to_string();
        let (status, code) = match e {
            E::NoExtension => (StatusCode::CONFLICT, "no_extension"),
            E::ApiKeyRequired => (StatusCode::CONFLICT, "twilio_api_key_required"),
            E::BadSignature => (StatusCode::FORBIDDEN, "invalid_signature"),
            E::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            E::UserNotFound => (StatusCode::NOT_FOUND, "not_found"),
            E::Credential(inner) => return inner.into(),
            E::Db(inner) => return inner.into(),
            E::Token(_) | E::Render(_) => return Self::internal(e),
        };
        Self::new(status, code, message)
    }
}

impl From<crm::CrmError> for ApiError {
    fn from(e: crm::CrmError) -> Self {
        use crm::CrmError as E;
        let message = e.to_string();
        match e {
            E::Invalid(_) => Self::validation(message),
            E::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            E::PhoneTaken => Self::new(StatusCode::CONFLICT, "phone_taken", message),
            E::NameTaken => Self::new(StatusCode::CONFLICT, "name_taken", message),
            E::InvalidTransition { .. } => {
                Self::new(StatusCode::CONFLICT, "invalid_transition", message)
            }
            E::Db(inner) => inner.into(),
        }
    }
}

impl From<scheduling::SchedulingError> for ApiError {
    fn from(e: scheduling::SchedulingError) -> Self {
        use scheduling::SchedulingError as E;
        let message = e.to_string();
        match e {
            E::Invalid(_) => Self::validation(message),
            E::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            E::SlotTaken { alternatives } => {
                let mut error = Self::new(StatusCode::CONFLICT, "slot_taken", message);
                error.alternatives =
                    Some(alternatives.into_iter().map(crate::routes::iso).collect());
                error
            }
            E::Unavailable(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "slot_unavailable",
                message,
            ),
            E::InvalidTransition { .. } => {
                Self::new(StatusCode::CONFLICT, "invalid_transition", message)
            }
            E::Calendar(_) => Self::new(
                StatusCode::BAD_GATEWAY,
                "provider_unavailable",
                "Google Calendar could not be reached",
            )
            .with_cause(e),
            E::Crm(inner) => inner.into(),
            E::Credential(inner) => inner.into(),
            E::Step(_) => Self::internal(message),
            E::Db(inner) => inner.into(),
        }
    }
}

impl From<rag::RagError> for ApiError {
    fn from(e: rag::RagError) -> Self {
        use rag::RagError as E;
        let message = e.to_string();
        match e {
            E::Extract(inner) => {
                let status = match inner {
                    rag::ExtractError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    rag::ExtractError::UnsupportedFormat => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                Self::new(status, inner.code(), message)
            }
            E::Invalid(_) => Self::validation(message),
            E::NotFound => Self::not_found("document"),
            E::Duplicate { id } => Self::new(
                StatusCode::CONFLICT,
                "document_exists",
                format!("{message} (document {id})"),
            ),
            // The provider's answer is logged where it happened.
            E::Embed(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "embeddings_unavailable",
                "the embedding provider is unavailable; try again shortly",
            )
            .with_cause(e),
            E::Db(inner) => inner.into(),
            E::IndexLoad => Self::internal(e),
        }
    }
}

impl From<messaging::MessagingError> for ApiError {
    fn from(e: messaging::MessagingError) -> Self {
        use messaging::MessagingError as E;
        let message = e.to_string();
        match e {
            E::Invalid(_) => Self::validation(message),
            E::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            E::NotConnected(_) => Self::new(StatusCode::CONFLICT, "not_connected", message),
            E::RateLimited => Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message),
            // The provider's own error is logged where it happened; the caller gets this only.
            E::ProviderFailed(_) => Self::new(StatusCode::BAD_GATEWAY, "provider_failed", message),
            E::LinkExpired => Self::new(StatusCode::GONE, "link_expired", message),
            E::Crm(inner) => inner.into(),
            E::Scheduling(inner) => inner.into(),
            E::Credential(inner) => inner.into(),
            E::Db(inner) => inner.into(),
        }
    }
}

impl From<voice_agent::VoiceError> for ApiError {
    fn from(e: voice_agent::VoiceError) -> Self {
        use voice_agent::VoiceError as E;
        let message = e.to_string();
        match e {
            E::Invalid(_) => Self::validation(message),
            E::NotFound(_) => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            E::NotReady { code, .. } => Self::new(StatusCode::CONFLICT, code, message),
            E::NotConfigured(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "vapi_not_configured",
                message,
            ),
            // Vapi's own error is logged where it happened; the caller gets this only.
            E::Vapi(_) => Self::new(StatusCode::BAD_GATEWAY, "vapi_unavailable", message),
            E::Crm(inner) => inner.into(),
            E::Scheduling(inner) => inner.into(),
            E::Credential(inner) => inner.into(),
            E::Knowledge(inner) => inner.into(),
            E::Db(inner) => inner.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body(e: &ApiError) -> serde_json::Value {
        let bytes = e
            .error_response()
            .into_body()
            .try_into_bytes()
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[test]
    fn internal_errors_are_opaque() {
        let e = ApiError::internal("relation \"users\" does not exist; password=hunter2");
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        let json = body(&e);
        assert_eq!(
            json,
            serde_json::json!({"success": false, "error": "Internal server error", "code": "internal_error"})
        );
    }

    #[test]
    fn domain_errors_keep_their_code_and_message() {
        let e = ApiError::from(tenancy::TenancyError::EmailTaken);
        assert_eq!(e.status_code(), StatusCode::CONFLICT);
        assert_eq!(body(&e)["code"], "email_taken");
        let e = ApiError::from(db::DbError::Query(diesel::result::Error::NotFound));
        assert_eq!(body(&e)["error"], "Internal server error");
        // An unreachable database is "try again", and still says nothing of the database.
        let e = ApiError::from(db::DbError::Pool("connection refused to 10.0.0.5".into()));
        assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body(&e)["code"], "database_unavailable");
        assert!(!body(&e).to_string().contains("10.0.0.5"));
    }
}
