//! Connecting an organization's own providers (BYOC; SPEC §2, seed 004
//! "integrations" endpoints): validate the input, test the credentials against the provider,
//! and only then store them through the credentials vault ("test & save"); report the status of
//! every provider; re-verify on demand; disconnect.
//!
//! Vapi is listed in the status as managed by the platform: organizations never hold Vapi
//! credentials (seed 001 overrides seed 004).

pub mod checks;
pub mod google;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use credentials::{
    Credential, CredentialError, CredentialRecord, CredentialService, ElevenLabsCredentials,
    Provider, ResendCredentials, TwilioApiKey, TwilioCredentials,
};
use db::OrgId;
use secrecy::SecretString;
use tenancy::audit::{Actor, ChangedBy, RequestOrigin};

pub use checks::{CheckOutcome, ProviderEndpoints};

/// Errors of the integrations flows. Messages are safe to show: they never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    /// The input breaks a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The provider refused the credentials; nothing was saved.
    #[error("{}: {message}", .provider.display_name())]
    Rejected {
        /// The provider.
        provider: Provider,
        /// Why.
        message: String,
    },
    /// The provider could not be reached; nothing was saved or concluded.
    #[error("{} could not be reached to check the credentials; try again shortly", .provider.display_name())]
    Unavailable {
        /// The provider.
        provider: Provider,
        /// What happened (for the log).
        detail: String,
    },
    /// The provider cannot be connected through this endpoint.
    #[error("{} is connected through its own sign-in flow", .0.display_name())]
    NotDirect(Provider),
    /// The platform has no OAuth client for this provider configured.
    #[error("{} sign-in is not set up on this platform", .0.display_name())]
    NotConfigured(Provider),
    /// A vault error.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

/// A provider's integration state, without secrets.
#[derive(Debug, Clone)]
pub struct IntegrationStatus {
    /// The provider.
    pub provider: Provider,
    /// `connected`, `not_configured` or `error` (the last check failed).
    pub status: &'static str,
    /// Last successful check (UTC).
    pub last_verified_at: Option<DateTime<Utc>>,
    /// The last check's error, if it failed.
    pub last_error: Option<String>,
    /// Non-secret details (Twilio account and number, connected email, sender).
    pub details: serde_json::Value,
    /// When the current credentials were saved (UTC).
    pub connected_at: Option<DateTime<Utc>>,
}

impl IntegrationStatus {
    pub(crate) fn from_record(provider: Provider, record: Option<CredentialRecord>) -> Self {
        match record {
            None => Self {
                provider,
                status: "not_configured",
                last_verified_at: None,
                last_error: None,
                details: serde_json::json!({}),
                connected_at: None,
            },
            Some(r) => Self {
                provider,
                status: if r.verification_error.is_some() {
                    "error"
                } else {
                    "connected"
                },
                last_verified_at: r.last_verified_at,
                last_error: r.verification_error,
                details: r.metadata,
                connected_at: Some(r.created_at),
            },
        }
    }
}

/// What `connect_twilio` needs. Either `auth_token` or both API-key fields.
pub struct TwilioInput {
    /// `AC` + 32 hex.
    pub account_sid: String,
    /// The account auth token.
    pub auth_token: Option<SecretString>,
    /// `SK` + 32 hex (preferred over the auth token: revocable, least privilege).
    pub api_key_sid: Option<String>,
    /// The API key's secret.
    pub api_key_secret: Option<SecretString>,
    /// The organization's Twilio number, E.164.
    pub phone_number: String,
    /// The TwiML application (`AP` + 32 hex) for softphone outgoing calls, optional.
    pub voice_application_sid: Option<String>,
}

fn non_empty(secret: Option<SecretString>, what: &str) -> Result<SecretString, IntegrationError> {
    use secrecy::ExposeSecret;
    secret
        .filter(|s| !s.expose_secret().trim().is_empty())
        .ok_or_else(|| IntegrationError::Invalid(format!("{what} is required")))
}

/// The integrations service: one per process, shared behind an `Arc`.
#[derive(Debug)]
pub struct Integrations {
    credentials: Arc<CredentialService>,
    endpoints: ProviderEndpoints,
    /// One HTTP client for every provider call ([`twilio_client::provider_http_client`]).
    http: reqwest::Client,
    google: Option<google::GoogleOAuth>,
}

impl Integrations {
    /// A service storing through `credentials` and checking against `endpoints`.
    #[must_use]
    pub fn new(credentials: Arc<CredentialService>, endpoints: ProviderEndpoints) -> Self {
        Self {
            credentials,
            endpoints,
            http: twilio_client::provider_http_client().unwrap_or_else(|_| reqwest::Client::new()),
            google: None,
        }
    }

    /// The shared HTTP client for provider calls (rustls, timeouts).
    #[must_use]
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The providers' base URLs.
    #[must_use]
    pub fn endpoints(&self) -> &ProviderEndpoints {
        &self.endpoints
    }

    /// A Twilio client for an organization's stored credentials, on the shared HTTP client.
    ///
    /// # Errors
    /// [`twilio_client::TwilioError::Invalid`] for malformed stored sids.
    pub fn twilio_client(
        &self,
        credential: &TwilioCredentials,
    ) -> Result<twilio_client::TwilioClient, twilio_client::TwilioError> {
        checks::twilio_client(&self.http, &self.endpoints, credential)
    }

    /// Enables the Google Calendar Forever-Link with the platform's OAuth client.
    #[must_use]
    pub fn with_google(mut self, google: google::GoogleOAuth) -> Self {
        self.google = Some(google);
        self
    }

    fn google(&self) -> Result<&google::GoogleOAuth, IntegrationError> {
        self.google
            .as_ref()
            .ok_or(IntegrationError::NotConfigured(Provider::GoogleCalendar))
    }

    /// The Google consent URL for a user of an organization (see [`google`]).
    ///
    /// # Errors
    /// [`IntegrationError::NotConfigured`] without a Google OAuth client.
    pub fn google_consent_url(&self, org: OrgId, actor: Actor) -> Result<String, IntegrationError> {
        self.google()?.consent_url(org, actor)
    }

    /// Completes the Google consent (the callback, arriving from `origin`): see
    /// [`google::GoogleOAuth::complete`].
    ///
    /// # Errors
    /// As [`google::GoogleOAuth::complete`], or [`IntegrationError::NotConfigured`].
    pub async fn google_complete(
        &self,
        state: &str,
        code: &str,
        origin: RequestOrigin,
    ) -> Result<IntegrationStatus, IntegrationError> {
        self.google()?
            .complete(&self.credentials, state, code, origin)
            .await
    }

    /// A fresh Google access token for the organization (see
    /// [`google::GoogleOAuth::access_token`]).
    ///
    /// # Errors
    /// As [`google::GoogleOAuth::access_token`], or [`IntegrationError::NotConfigured`].
    pub async fn google_access_token(
        &self,
        org: OrgId,
    ) -> Result<google::AccessToken, IntegrationError> {
        self.google()?.access_token(&self.credentials, org).await
    }

    async fn check(&self, credential: &Credential) -> CheckOutcome {
        match credential {
            Credential::Twilio(t) => checks::twilio(&self.http, &self.endpoints, t).await,
            Credential::Resend(r) => checks::resend(&self.http, &self.endpoints, &r.api_key).await,
            Credential::ElevenLabs(e) => {
                checks::elevenlabs(&self.http, &self.endpoints, &e.api_key).await
            }
            Credential::GoogleCalendar(_) | Credential::Outlook(_) => {
                CheckOutcome::Rejected("this provider is checked through its sign-in flow".into())
            }
        }
    }

    /// Tests a credential and stores it only if the provider accepts it.
    async fn test_and_save(
        &self,
        org: OrgId,
        credential: Credential,
        by: &ChangedBy,
    ) -> Result<IntegrationStatus, IntegrationError> {
        let provider = credential.provider();
        match self.check(&credential).await {
            CheckOutcome::Accepted => {
                let record = self.credentials.store(org, &credential, true, by).await?;
                Ok(IntegrationStatus::from_record(provider, Some(record)))
            }
            CheckOutcome::Rejected(message) => {
                Err(IntegrationError::Rejected { provider, message })
            }
            CheckOutcome::Unavailable(detail) => {
                Err(IntegrationError::Unavailable { provider, detail })
            }
        }
    }

    /// Connects Twilio (account SID, auth token and/or API key, the number in E.164, optional
    /// TwiML application for softphone outgoing calls).
    ///
    /// # Errors
    /// [`IntegrationError::Invalid`], [`IntegrationError::Rejected`],
    /// [`IntegrationError::Unavailable`], [`IntegrationError::Credential`].
    pub async fn connect_twilio(
        &self,
        org: OrgId,
        input: TwilioInput,
        by: &ChangedBy,
    ) -> Result<IntegrationStatus, IntegrationError> {
        let account_sid = input.account_sid.trim().to_owned();
        if !twilio_client::is_sid(&account_sid, "AC") {
            return Err(IntegrationError::Invalid(
                "account_sid must be AC followed by 32 hex characters".into(),
            ));
        }
        let phone_number = input.phone_number.trim().to_owned();
        if telephony_gsm::E164::parse(&phone_number).is_err() {
            return Err(IntegrationError::Invalid(
                "phone_number must be in E.164 form, for example +15551234567".into(),
            ));
        }
        let api_key = match (input.api_key_sid, input.api_key_secret) {
            (None, None) => None,
            (Some(sid), secret) => {
                let sid = sid.trim().to_owned();
                if !twilio_client::is_sid(&sid, "SK") {
                    return Err(IntegrationError::Invalid(
                        "api_key_sid must be SK followed by 32 hex characters".into(),
                    ));
                }
                Some(TwilioApiKey {
                    sid,
                    secret: non_empty(secret, "api_key_secret")?,
                })
            }
            (None, Some(_)) => {
                return Err(IntegrationError::Invalid(
                    "api_key_secret was given without api_key_sid".into(),
                ));
            }
        };
        let auth_token = match input.auth_token {
            None => None,
            token @ Some(_) => Some(non_empty(token, "auth_token")?),
        };
        if api_key.is_none() && auth_token.is_none() {
            return Err(IntegrationError::Invalid(
                "give auth_token, or api_key_sid with api_key_secret, or both (the auth token checks Twilio's callbacks; the API key signs softphone tokens)".into(),
            ));
        }
        let voice_application_sid = match input.voice_application_sid {
            None => None,
            Some(sid) => {
                let sid = sid.trim().to_owned();
                if !twilio_client::is_sid(&sid, "AP") {
                    return Err(IntegrationError::Invalid(
                        "voice_application_sid must be AP followed by 32 hex characters".into(),
                    ));
                }
                Some(sid)
            }
        };
        let credential = Credential::Twilio(TwilioCredentials {
            account_sid,
            auth_token,
            api_key,
            phone_number,
            voice_application_sid,
        });
        self.test_and_save(org, credential, by).await
    }

    /// Connects Resend (API key, optional sender address).
    ///
    /// # Errors
    /// As [`Integrations::connect_twilio`].
    pub async fn connect_resend(
        &self,
        org: OrgId,
        api_key: Option<SecretString>,
        from_email: Option<String>,
        by: &ChangedBy,
    ) -> Result<IntegrationStatus, IntegrationError> {
        let from_email = from_email
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty());
        if from_email.as_deref().is_some_and(|e| !e.contains('@')) {
            return Err(IntegrationError::Invalid(
                "from_email must be an email address".into(),
            ));
        }
        let credential = Credential::Resend(ResendCredentials {
            api_key: non_empty(api_key, "api_key")?,
            from_email,
        });
        self.test_and_save(org, credential, by).await
    }

    /// Connects ElevenLabs (API key).
    ///
    /// # Errors
    /// As [`Integrations::connect_twilio`].
    pub async fn connect_elevenlabs(
        &self,
        org: OrgId,
        api_key: Option<SecretString>,
        by: &ChangedBy,
    ) -> Result<IntegrationStatus, IntegrationError> {
        let credential = Credential::ElevenLabs(ElevenLabsCredentials {
            api_key: non_empty(api_key, "api_key")?,
        });
        self.test_and_save(org, credential, by).await
    }

    /// Every provider's state, in [`Provider::ALL`] order (Vapi is reported by the caller as
    /// platform-managed).
    ///
    /// # Errors
    /// [`IntegrationError::Credential`].
    pub async fn status(&self, org: OrgId) -> Result<Vec<IntegrationStatus>, IntegrationError> {
        let mut records = self.credentials.list(org).await?;
        Ok(Provider::ALL
            .into_iter()
            .map(|provider| {
                let record = records
                    .iter()
                    .position(|r| r.provider == provider.as_str())
                    .map(|i| records.swap_remove(i));
                IntegrationStatus::from_record(provider, record)
            })
            .collect())
    }

    /// Re-checks the stored credential against its provider and records the result. A provider
    /// outage records nothing.
    ///
    /// # Errors
    /// [`CredentialError::NotConnected`] (as [`IntegrationError::Credential`]),
    /// [`IntegrationError::NotDirect`], [`IntegrationError::Unavailable`].
    pub async fn verify(
        &self,
        org: OrgId,
        provider: Provider,
        by: &ChangedBy,
    ) -> Result<IntegrationStatus, IntegrationError> {
        let outcome = match provider {
            Provider::Twilio => {
                let cred = self.credentials.get::<TwilioCredentials>(org).await?;
                checks::twilio(&self.http, &self.endpoints, &cred).await
            }
            Provider::Resend => {
                let cred = self.credentials.get::<ResendCredentials>(org).await?;
                checks::resend(&self.http, &self.endpoints, &cred.api_key).await
            }
            Provider::ElevenLabs => {
                let cred = self.credentials.get::<ElevenLabsCredentials>(org).await?;
                checks::elevenlabs(&self.http, &self.endpoints, &cred.api_key).await
            }
            Provider::GoogleCalendar => match self.google_access_token(org).await {
                Ok(_) => CheckOutcome::Accepted,
                Err(IntegrationError::Rejected { .. }) => {
                    // The refresh helper has recorded the refusal: report the new state.
                    let record = self.credentials.record(org, provider).await?;
                    return Ok(IntegrationStatus::from_record(provider, record));
                }
                Err(other) => return Err(other),
            },
            Provider::Outlook => return Err(IntegrationError::NotDirect(provider)),
        };
        let result = match outcome {
            CheckOutcome::Accepted => Ok(()),
            CheckOutcome::Rejected(message) => Err(message),
            CheckOutcome::Unavailable(detail) => {
                return Err(IntegrationError::Unavailable { provider, detail });
            }
        };
        let record = self
            .credentials
            .record_verification(org, provider, result, by)
            .await?;
        Ok(IntegrationStatus::from_record(provider, Some(record)))
    }

    /// Disconnects a provider (its credentials are kept as history, unreadable by the API).
    /// Returns whether it was connected.
    ///
    /// # Errors
    /// [`IntegrationError::Credential`].
    pub async fn disconnect(
        &self,
        org: OrgId,
        provider: Provider,
        by: &ChangedBy,
    ) -> Result<bool, IntegrationError> {
        Ok(self.credentials.disconnect(org, provider, by).await?)
    }
}
