//! Google Calendar "Forever-Link" (seed 001; SPEC §2): OAuth 2.0 authorization
//! code flow for a web server application, asking for offline access so that the platform holds
//! a refresh token and never needs the user again.
//!
//! - The consent URL carries `access_type=offline` and `prompt=consent` (so Google returns a
//!   refresh token on every consent, also for a returning user), the calendar and
//!   `userinfo.email` scopes, and a `state` that is an HS256 JWT bound to the organization and
//!   user, expiring after 10 minutes (CSRF protection; RFC 6749 §10.12).
//! - The callback checks the state, exchanges the code at the token endpoint, **requires** a
//!   refresh token, reads the account's email from the userinfo endpoint, and stores both
//!   sealed in the vault.
//! - [`GoogleOAuth::access_token`] turns the refresh token into an access token; when Google
//!   answers `invalid_grant` (revoked or expired consent) the integration is marked `error`.

use std::time::Duration;

use chrono::Utc;
use credentials::{Credential, CredentialService, GoogleCalendarCredentials, Provider};
use db::OrgId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tenancy::audit::{Actor, ChangedBy, RequestOrigin};
use uuid::Uuid;

use crate::{IntegrationError, IntegrationStatus};

/// Scopes requested: the calendar, and the account's email to show which account is linked.
pub const SCOPES: &str =
    "https://www.googleapis.com/auth/calendar https://www.googleapis.com/auth/userinfo.email";
/// How long a consent `state` stays valid, in seconds.
pub const STATE_TTL_SECS: i64 = 600;

/// The platform's Google OAuth client and Google's endpoints. `Debug` hides the secrets.
#[derive(Clone)]
pub struct GoogleOAuthConfig {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: SecretString,
    /// The callback URL registered with Google (this platform's
    /// `/api/integrations/google/oauth/callback`).
    pub redirect_uri: String,
    /// Authorization endpoint, default `https://accounts.google.com/o/oauth2/v2/auth`.
    pub auth_url: String,
    /// Token endpoint, default `https://oauth2.googleapis.com/token`.
    pub token_url: String,
    /// Userinfo endpoint, default `https://openidconnect.googleapis.com/v1/userinfo`.
    pub userinfo_url: String,
}

impl std::fmt::Debug for GoogleOAuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleOAuthConfig")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("auth_url", &self.auth_url)
            .field("token_url", &self.token_url)
            .field("userinfo_url", &self.userinfo_url)
            .finish_non_exhaustive()
    }
}

impl GoogleOAuthConfig {
    /// Google's production endpoints.
    #[must_use]
    pub fn with_google_endpoints(
        client_id: String,
        client_secret: SecretString,
        redirect_uri: String,
    ) -> Self {
        Self {
            client_id,
            client_secret,
            redirect_uri,
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            userinfo_url: "https://openidconnect.googleapis.com/v1/userinfo".into(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct StateClaims {
    /// Purpose marker, so no other token of ours can stand in for a state.
    purpose: String,
    org: Uuid,
    /// The user (or, with `by_key`, the organization API key) that started the consent.
    user: Uuid,
    #[serde(default)]
    by_key: bool,
    nonce: Uuid,
    exp: i64,
}

const STATE_PURPOSE: &str = "google_calendar_oauth";

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    email: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: Option<String>,
}

/// A short-lived access token for the Calendar API.
pub struct AccessToken {
    /// The bearer token.
    pub token: SecretString,
    /// Seconds until it expires, as Google said.
    pub expires_in_secs: i64,
}

/// The Forever-Link flows for one platform OAuth client.
pub struct GoogleOAuth {
    config: GoogleOAuthConfig,
    state_key: SecretString,
    http: reqwest::Client,
}

impl std::fmt::Debug for GoogleOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleOAuth")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn unavailable(detail: impl std::fmt::Display) -> IntegrationError {
    IntegrationError::Unavailable {
        provider: Provider::GoogleCalendar,
        detail: detail.to_string(),
    }
}

fn rejected(message: impl Into<String>) -> IntegrationError {
    IntegrationError::Rejected {
        provider: Provider::GoogleCalendar,
        message: message.into(),
    }
}

impl GoogleOAuth {
    /// The flows for `config`, signing consent states with `state_key` (a server secret).
    #[must_use]
    pub fn new(config: GoogleOAuthConfig, state_key: SecretString) -> Self {
        twilio_client::ensure_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            config,
            state_key,
            http,
        }
    }

    /// The consent URL for a user (or API key) of an organization.
    ///
    /// # Errors
    /// [`IntegrationError::Invalid`] if the state cannot be signed.
    pub fn consent_url(&self, org: OrgId, actor: Actor) -> Result<String, IntegrationError> {
        let claims = StateClaims {
            purpose: STATE_PURPOSE.into(),
            org: org.0,
            user: actor.id().unwrap_or_default(),
            by_key: matches!(actor, Actor::ApiKey(_)),
            nonce: Uuid::new_v4(),
            exp: Utc::now().timestamp() + STATE_TTL_SECS,
        };
        let state = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(self.state_key.expose_secret().as_bytes()),
        )
        .map_err(|_| IntegrationError::Invalid("could not sign the OAuth state".into()))?;
        let query: String = reqwest::Url::parse_with_params(
            &self.config.auth_url,
            &[
                ("client_id", self.config.client_id.as_str()),
                ("redirect_uri", self.config.redirect_uri.as_str()),
                ("response_type", "code"),
                ("scope", SCOPES),
                ("access_type", "offline"),
                ("prompt", "consent"),
                ("include_granted_scopes", "true"),
                ("state", state.as_str()),
            ],
        )
        .map_err(|_| IntegrationError::Invalid("GOOGLE_OAUTH_AUTH_URL is not a URL".into()))?
        .into();
        Ok(query)
    }

    /// Checks a consent `state`: our signature, not expired, our purpose. Returns the
    /// organization and the user (or key) it was issued to.
    ///
    /// # Errors
    /// [`IntegrationError::Invalid`] ("the sign-in link is invalid or has expired").
    pub fn check_state(&self, state: &str) -> Result<(OrgId, Actor), IntegrationError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        let claims = jsonwebtoken::decode::<StateClaims>(
            state,
            &DecodingKey::from_secret(self.state_key.expose_secret().as_bytes()),
            &validation,
        )
        .map_err(|_| {
            IntegrationError::Invalid(
                "the Google sign-in link is invalid or has expired; start again".into(),
            )
        })?
        .claims;
        if claims.purpose != STATE_PURPOSE {
            return Err(IntegrationError::Invalid(
                "the Google sign-in link is invalid; start again".into(),
            ));
        }
        let actor = if claims.by_key {
            Actor::ApiKey(claims.user)
        } else {
            Actor::User(claims.user)
        };
        Ok((OrgId(claims.org), actor))
    }

    async fn token_request(
        &self,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, IntegrationError> {
        let response = self
            .http
            .post(&self.config.token_url)
            .form(form)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url()))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status == 429 || status >= 500 {
            return Err(unavailable(format!(
                "Google token endpoint answered {status}"
            )));
        }
        if !(200..300).contains(&status) {
            let error = serde_json::from_str::<OAuthError>(&body)
                .ok()
                .and_then(|e| e.error);
            return Err(match error.as_deref() {
                Some("invalid_grant") => rejected(
                    "Google access was revoked or has expired; connect Google Calendar again",
                ),
                Some(other) => rejected(format!("Google refused the request ({other})")),
                None => rejected(format!("Google refused the request (HTTP {status})")),
            });
        }
        serde_json::from_str(&body).map_err(|_| unavailable("unreadable token response"))
    }

    /// Completes the consent: checks `state`, exchanges `code`, requires a refresh token, reads
    /// the account's email, and stores both sealed. Returns the new status.
    ///
    /// # Errors
    /// [`IntegrationError::Invalid`] (bad state), [`IntegrationError::Rejected`] (no refresh
    /// token, refused code, no email), [`IntegrationError::Unavailable`], vault errors.
    pub async fn complete(
        &self,
        credentials: &CredentialService,
        state: &str,
        code: &str,
        origin: RequestOrigin,
    ) -> Result<IntegrationStatus, IntegrationError> {
        let (org, actor) = self.check_state(state)?;
        if code.trim().is_empty() {
            return Err(IntegrationError::Invalid(
                "Google returned no authorization code".into(),
            ));
        }
        let tokens = self
            .token_request(&[
                ("code", code),
                ("client_id", &self.config.client_id),
                ("client_secret", self.config.client_secret.expose_secret()),
                ("redirect_uri", &self.config.redirect_uri),
                ("grant_type", "authorization_code"),
            ])
            .await?;
        let refresh_token = tokens.refresh_token.filter(|t| !t.is_empty()).ok_or_else(|| {
            rejected("Google returned no refresh token; remove the platform's access in your Google account settings and connect again")
        })?;
        let response = self
            .http
            .get(&self.config.userinfo_url)
            .bearer_auth(&tokens.access_token)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "Google userinfo answered {}",
                response.status().as_u16()
            )));
        }
        let email = response
            .json::<UserInfo>()
            .await
            .ok()
            .and_then(|u| u.email)
            .ok_or_else(|| rejected("Google did not share the account's email address"))?;
        let credential = Credential::GoogleCalendar(GoogleCalendarCredentials {
            refresh_token: SecretString::from(refresh_token),
            email,
        });
        let record = credentials
            .store(org, &credential, true, &ChangedBy { actor, origin })
            .await?;
        tracing::info!(org_id = %org, "Google Calendar connected");
        Ok(IntegrationStatus::from_record(
            Provider::GoogleCalendar,
            Some(record),
        ))
    }

    /// A fresh access token from the organization's refresh token. When Google answers
    /// `invalid_grant`, the integration is marked `error` (the user must reconnect).
    ///
    /// # Errors
    /// [`IntegrationError::Rejected`] (revoked), [`IntegrationError::Unavailable`], vault errors
    /// (not connected).
    pub async fn access_token(
        &self,
        credentials: &CredentialService,
        org: OrgId,
    ) -> Result<AccessToken, IntegrationError> {
        let stored = credentials.get::<GoogleCalendarCredentials>(org).await?;
        let result = self
            .token_request(&[
                ("refresh_token", stored.refresh_token.expose_secret()),
                ("client_id", &self.config.client_id),
                ("client_secret", self.config.client_secret.expose_secret()),
                ("grant_type", "refresh_token"),
            ])
            .await;
        match result {
            Ok(tokens) => Ok(AccessToken {
                token: SecretString::from(tokens.access_token),
                expires_in_secs: tokens.expires_in.unwrap_or(3600),
            }),
            Err(IntegrationError::Rejected { provider, message }) => {
                credentials
                    .record_verification(
                        org,
                        Provider::GoogleCalendar,
                        Err(message.clone()),
                        &ChangedBy::system(),
                    )
                    .await?;
                Err(IntegrationError::Rejected { provider, message })
            }
            Err(other) => Err(other),
        }
    }
}
