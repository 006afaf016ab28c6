//! The browser softphone (SPEC §5; seed 002 "VoIP Calling Features", "Call Flow
//! Architecture"), on the organization's own Twilio account:
//!
//! 1. **Token**: [`Softphone::access_token`] mints a Twilio Voice access token for a signed-in
//!    user whose identity is the user's extension, signed with the organization's API key
//!    (contracts/telephony.md B.3). Incoming calls are always allowed; outgoing calls when the
//!    organization configured a TwiML application (`AP…`).
//! 2. **Routing**: Twilio asks the TwiML application's Voice URL what to do with a call;
//!    [`Softphone::voice`] checks `X-Twilio-Signature` (B.1) with the organization's auth token
//!    and answers TwiML that rings the softphone of the dialled extension ([`routing`]).
//! 3. **Answer events**: each softphone leg reports its progress to
//!    [`Softphone::client_status`], which records the leg in `softphone_calls` and publishes
//!    `call_answered` / `user_call_started` / `user_call_ended` (seed 002 "WebSocket API
//!    Events") to the organization's signed-in users, once per transition, in the same
//!    transaction.
//!
//! Every organization id here comes from the URL Twilio was given; nothing is read or written
//! for it before the request's signature has been checked with that organization's own auth
//! token (only the credential itself is read to check it).

pub mod legs;
pub mod routing;
mod schema;
pub mod twiml;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use credentials::{Cred, CredentialError, CredentialService, TwilioCredentials};
use db::{Db, DbError, OrgId};
use secrecy::ExposeSecret;
use uuid::Uuid;

pub use legs::{LegStatus, LegUpdate};
pub use routing::{CallbackUrls, Member, VoiceCall};

/// Lifetime of a softphone access token, in seconds (the helper libraries' default, 1 hour;
/// the client fetches a new one before it expires).
pub const TOKEN_TTL_SECS: i64 = twilio_client::access_token::DEFAULT_TTL_SECS;

/// Errors of the softphone.
#[derive(Debug, thiserror::Error)]
pub enum SoftphoneError {
    /// The user has no extension, so there is no identity to register the softphone under.
    #[error("you have no extension; ask an administrator to assign one before using the softphone")]
    NoExtension,
    /// The organization's Twilio credential has no API key, which access tokens are signed with.
    #[error(
        "the organization's Twilio connection has no API key; reconnect Twilio with api_key_sid and api_key_secret to use the softphone"
    )]
    ApiKeyRequired,
    /// The request does not carry a valid `X-Twilio-Signature` for this organization (also when
    /// the organization has no Twilio auth token to check it with, or no Twilio at all: the
    /// answer never tells which).
    #[error("invalid Twilio signature")]
    BadSignature,
    /// The request lacks a parameter Twilio always sends or sends a malformed one.
    #[error("{0}")]
    Invalid(String),
    /// No such user in this organization.
    #[error("user not found")]
    UserNotFound,
    /// Reading the organization's credential failed (includes "Twilio is not connected").
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The stored credential could not mint a token.
    #[error("the access token could not be minted: {0}")]
    Token(#[from] twilio_client::access_token::AccessTokenError),
    /// Rendering TwiML failed.
    #[error("rendering TwiML failed")]
    Render(#[source] std::io::Error),
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for SoftphoneError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// A minted Voice access token.
#[derive(Debug, Clone)]
pub struct VoiceToken {
    /// The JWT for `new Twilio.Device(token)`.
    pub token: String,
    /// The client identity: the user's extension.
    pub identity: String,
    /// Lifetime in seconds.
    pub ttl_secs: i64,
    /// When it expires (UTC).
    pub expires_at: DateTime<Utc>,
    /// Whether it may place calls (a TwiML application is configured).
    pub outgoing: bool,
}

/// A form-encoded request from Twilio with what its signature covers.
pub use twilio_client::signature::SignedForm;

/// The softphone service: one per process, shared behind an `Arc`.
#[derive(Debug)]
pub struct Softphone {
    db: Db,
    credentials: Arc<CredentialService>,
}

impl Softphone {
    /// A service over the database and the credential vault.
    #[must_use]
    pub fn new(db: Db, credentials: Arc<CredentialService>) -> Self {
        Self { db, credentials }
    }

    /// Mints a Voice access token for `user_id` of `org` (identity = extension), valid
    /// [`TOKEN_TTL_SECS`] from `now`.
    ///
    /// # Errors
    /// [`SoftphoneError::UserNotFound`], [`SoftphoneError::NoExtension`],
    /// [`SoftphoneError::Credential`] (`NotConnected` when the organization has no Twilio),
    /// [`SoftphoneError::ApiKeyRequired`], [`SoftphoneError::Token`], [`SoftphoneError::Db`].
    pub async fn access_token(
        &self,
        org: OrgId,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<VoiceToken, SoftphoneError> {
        let extension: Option<String> = self
            .db
            .tenant(org, async move |tx| {
                tenancy::users::active_extension(tx, user_id)
                    .await
                    .map_err(SoftphoneError::from)
            })
            .await?
            .ok_or(SoftphoneError::UserNotFound)?;
        let identity = extension.ok_or(SoftphoneError::NoExtension)?;
        let credential = self.credentials.get::<TwilioCredentials>(org).await?;
        let key = credential
            .api_key
            .as_ref()
            .ok_or(SoftphoneError::ApiKeyRequired)?;
        let request = twilio_client::access_token::VoiceTokenRequest {
            account_sid: &credential.account_sid,
            api_key_sid: &key.sid,
            api_key_secret: &key.secret,
            identity: &identity,
            ttl_secs: TOKEN_TTL_SECS,
            voice: twilio_client::access_token::VoiceGrant {
                incoming_allow: true,
                outgoing_application_sid: credential.voice_application_sid.clone(),
                outgoing_params: std::collections::BTreeMap::new(),
            },
        };
        let token = twilio_client::access_token::voice_token(&request, now.timestamp())?;
        Ok(VoiceToken {
            token,
            identity,
            ttl_secs: TOKEN_TTL_SECS,
            expires_at: now + chrono::Duration::seconds(TOKEN_TTL_SECS),
            outgoing: credential.voice_application_sid.is_some(),
        })
    }

    /// Answers Twilio's voice request for `org` with TwiML (see [`routing`]).
    ///
    /// # Errors
    /// [`SoftphoneError::BadSignature`] before anything else is read;
    /// [`SoftphoneError::Invalid`] without `From`; [`SoftphoneError::Db`];
    /// [`SoftphoneError::Render`].
    pub async fn voice(
        &self,
        org: OrgId,
        request: &SignedForm,
        urls: &CallbackUrls,
    ) -> Result<String, SoftphoneError> {
        let credential = self.verify(org, request).await?;
        let call = VoiceCall {
            from: request
                .param("From")
                .ok_or_else(|| SoftphoneError::Invalid("From is required".into()))?
                .to_owned(),
            to: request.param("To").unwrap_or_default().to_owned(),
            digits: request.param("Digits").map(str::to_owned),
        };
        let directory = self.directory(org).await?;
        let verbs = routing::route(&call, &directory, &credential.phone_number, urls);
        twiml::render(&verbs).map_err(SoftphoneError::Render)
    }

    /// Records a softphone leg's status callback for `org` and publishes what changed (see
    /// [`legs`]). Returns the leg's status after the update.
    ///
    /// # Errors
    /// [`SoftphoneError::BadSignature`]; [`SoftphoneError::Invalid`] for a missing or malformed
    /// `CallSid`, `CallStatus` or `To`; [`SoftphoneError::Db`].
    pub async fn client_status(
        &self,
        org: OrgId,
        request: &SignedForm,
    ) -> Result<LegStatus, SoftphoneError> {
        self.verify(org, request).await?;
        let update = LegUpdate::from_request(request)?;
        self.db
            .tenant(org, async move |tx| legs::apply(tx, &update).await)
            .await
    }

    /// The organization's active users with an extension, by extension.
    ///
    /// # Errors
    /// [`SoftphoneError::Db`].
    pub async fn directory(&self, org: OrgId) -> Result<Vec<Member>, SoftphoneError> {
        self.db
            .tenant(org, async move |tx| legs::directory(tx).await)
            .await
    }

    /// Checks the request's signature with the organization's auth token and that it is for the
    /// organization's Twilio account.
    async fn verify(
        &self,
        org: OrgId,
        request: &SignedForm,
    ) -> Result<Cred<TwilioCredentials>, SoftphoneError> {
        let credential = match self.credentials.get::<TwilioCredentials>(org).await {
            Ok(credential) => credential,
            Err(CredentialError::NotConnected(_)) => return Err(SoftphoneError::BadSignature),
            Err(e) => return Err(e.into()),
        };
        let Some(token) = &credential.auth_token else {
            tracing::warn!(%org, "Twilio voice request refused: the org's Twilio credential has no auth token to check signatures with");
            return Err(SoftphoneError::BadSignature);
        };
        if !request.is_signed_by(token.expose_secret()) {
            return Err(SoftphoneError::BadSignature);
        }
        if request
            .param("AccountSid")
            .is_some_and(|sid| sid != credential.account_sid)
        {
            return Err(SoftphoneError::BadSignature);
        }
        Ok(credential)
    }
}
