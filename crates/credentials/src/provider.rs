//! The providers an organization brings its own credentials for, and their typed credentials.
//!
//! SPEC §2: `provider ∈ {twilio, google_calendar, resend, elevenlabs, outlook}`.
//! Vapi is not among them: the platform holds the one Vapi key (seed 001 overrides seed 004).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::CredentialError;

/// A provider of customer-held credentials. Stored as [`Provider::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Twilio: SMS, caller-ID verification, numbers, softphone tokens.
    Twilio,
    /// Google Calendar (OAuth refresh token, "Forever-Link").
    GoogleCalendar,
    /// Resend: transactional email.
    Resend,
    /// ElevenLabs: voices.
    #[serde(rename = "elevenlabs")]
    ElevenLabs,
    /// Microsoft Outlook calendar (OAuth refresh token).
    Outlook,
}

impl Provider {
    /// Every provider, in display order.
    pub const ALL: [Self; 5] = [
        Self::Twilio,
        Self::GoogleCalendar,
        Self::Resend,
        Self::ElevenLabs,
        Self::Outlook,
    ];

    /// The stored and URL name: `twilio`, `google_calendar`, `resend`, `elevenlabs`, `outlook`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Twilio => "twilio",
            Self::GoogleCalendar => "google_calendar",
            Self::Resend => "resend",
            Self::ElevenLabs => "elevenlabs",
            Self::Outlook => "outlook",
        }
    }

    /// The name shown to people: `Twilio`, `Google Calendar`, …
    #[must_use]
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Twilio => "Twilio",
            Self::GoogleCalendar => "Google Calendar",
            Self::Resend => "Resend",
            Self::ElevenLabs => "ElevenLabs",
            Self::Outlook => "Outlook",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Provider {
    type Err = CredentialError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| CredentialError::Invalid(format!("unknown provider {s:?}")))
    }
}

/// A Twilio standard API key: its sid (`SK` + 32 hex) and secret. Preferred for REST calls: it
/// can be revoked on its own and does not carry account-owner rights (least privilege), and it
/// is what signs softphone access tokens (the telephony contract, B.3).
pub struct TwilioApiKey {
    /// `SK…`.
    pub sid: String,
    /// The key's secret.
    pub secret: SecretString,
}

/// How the platform authenticates one REST call to an organization's Twilio account, borrowed
/// from [`TwilioCredentials::rest_auth`].
#[derive(Clone, Copy)]
pub enum TwilioAuth<'a> {
    /// The account auth token.
    AuthToken(&'a SecretString),
    /// A standard API key.
    ApiKey(&'a TwilioApiKey),
}

/// An organization's Twilio account. At least one of `auth_token` and `api_key` is present
/// (sealing refuses a credential with neither).
pub struct TwilioCredentials {
    /// `AC` + 32 hex.
    pub account_sid: String,
    /// The account auth token. Twilio signs its webhooks (`X-Twilio-Signature`,
    /// contracts B.1) with it, so callbacks and TwiML requests can only be checked when it is
    /// stored.
    pub auth_token: Option<SecretString>,
    /// A standard API key: REST calls prefer it, and softphone tokens need it.
    pub api_key: Option<TwilioApiKey>,
    /// The organization's Twilio number, E.164.
    pub phone_number: String,
    /// The TwiML application (`AP` + 32 hex) that softphone outgoing calls use, if set.
    pub voice_application_sid: Option<String>,
}

impl TwilioCredentials {
    /// The auth for REST calls: the API key when there is one, else the auth token; `None` only
    /// for a credential built by hand with neither.
    #[must_use]
    pub fn rest_auth(&self) -> Option<TwilioAuth<'_>> {
        self.api_key
            .as_ref()
            .map(TwilioAuth::ApiKey)
            .or_else(|| self.auth_token.as_ref().map(TwilioAuth::AuthToken))
    }
}

/// A Google Calendar connection ("Forever-Link", seed 001): offline refresh token and the
/// connected account's email.
pub struct GoogleCalendarCredentials {
    /// OAuth refresh token.
    pub refresh_token: SecretString,
    /// The connected Google account.
    pub email: String,
}

/// A Resend account.
pub struct ResendCredentials {
    /// API key (`re_…`).
    pub api_key: SecretString,
    /// Sender address, if set.
    pub from_email: Option<String>,
}

/// An ElevenLabs account.
pub struct ElevenLabsCredentials {
    /// API key.
    pub api_key: SecretString,
}

/// An Outlook (Microsoft 365) calendar connection.
pub struct OutlookCredentials {
    /// OAuth refresh token.
    pub refresh_token: SecretString,
    /// The connected account.
    pub email: String,
}

/// One provider's credential, decrypted. Secrets are `SecretString`s: zeroed on drop, printed as
/// `[REDACTED]`.
pub enum Credential {
    /// Twilio.
    Twilio(TwilioCredentials),
    /// Google Calendar.
    GoogleCalendar(GoogleCalendarCredentials),
    /// Resend.
    Resend(ResendCredentials),
    /// ElevenLabs.
    ElevenLabs(ElevenLabsCredentials),
    /// Outlook.
    Outlook(OutlookCredentials),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}, [redacted])", self.provider())
    }
}

/// The sealed JSON form. Its strings are zeroed when it is dropped.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(tag = "provider", rename_all = "snake_case")]
enum Wire {
    Twilio {
        account_sid: String,
        auth_token: Option<String>,
        api_key_sid: Option<String>,
        api_key_secret: Option<String>,
        phone_number: String,
        voice_application_sid: Option<String>,
    },
    GoogleCalendar {
        refresh_token: String,
        email: String,
    },
    Resend {
        api_key: String,
        from_email: Option<String>,
    },
    #[serde(rename = "elevenlabs")]
    ElevenLabs { api_key: String },
    Outlook {
        refresh_token: String,
        email: String,
    },
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

impl Credential {
    /// Which provider this credential is for.
    #[must_use]
    pub fn provider(&self) -> Provider {
        match self {
            Self::Twilio(_) => Provider::Twilio,
            Self::GoogleCalendar(_) => Provider::GoogleCalendar,
            Self::Resend(_) => Provider::Resend,
            Self::ElevenLabs(_) => Provider::ElevenLabs,
            Self::Outlook(_) => Provider::Outlook,
        }
    }

    /// Non-secret facts shown in the integrations status: Twilio account sid, number and auth
    /// kind; the connected email; the sender address.
    #[must_use]
    pub fn metadata(&self) -> serde_json::Value {
        match self {
            Self::Twilio(t) => serde_json::json!({
                "account_sid": t.account_sid,
                "phone_number": t.phone_number,
                "auth_token": t.auth_token.is_some(),
                "api_key_sid": t.api_key.as_ref().map(|k| &k.sid),
                "voice_application_sid": t.voice_application_sid,
            }),
            Self::GoogleCalendar(g) => serde_json::json!({ "email": g.email }),
            Self::Outlook(o) => serde_json::json!({ "email": o.email }),
            Self::Resend(r) => serde_json::json!({ "from_email": r.from_email }),
            Self::ElevenLabs(_) => serde_json::json!({}),
        }
    }

    /// The JSON to seal, in memory that is zeroed on drop.
    ///
    /// # Errors
    /// [`CredentialError::Crypto`] if serialisation fails (it does not for these types).
    pub fn to_sealable(&self) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
        let wire = match self {
            Self::Twilio(t) => {
                if t.rest_auth().is_none() {
                    return Err(CredentialError::Invalid(
                        "a Twilio credential needs an auth token or an API key".into(),
                    ));
                }
                Wire::Twilio {
                    account_sid: t.account_sid.clone(),
                    auth_token: t.auth_token.as_ref().map(|s| s.expose_secret().to_owned()),
                    api_key_sid: t.api_key.as_ref().map(|k| k.sid.clone()),
                    api_key_secret: t
                        .api_key
                        .as_ref()
                        .map(|k| k.secret.expose_secret().to_owned()),
                    phone_number: t.phone_number.clone(),
                    voice_application_sid: t.voice_application_sid.clone(),
                }
            }
            Self::GoogleCalendar(g) => Wire::GoogleCalendar {
                refresh_token: g.refresh_token.expose_secret().to_owned(),
                email: g.email.clone(),
            },
            Self::Resend(r) => Wire::Resend {
                api_key: r.api_key.expose_secret().to_owned(),
                from_email: r.from_email.clone(),
            },
            Self::ElevenLabs(e) => Wire::ElevenLabs {
                api_key: e.api_key.expose_secret().to_owned(),
            },
            Self::Outlook(o) => Wire::Outlook {
                refresh_token: o.refresh_token.expose_secret().to_owned(),
                email: o.email.clone(),
            },
        };
        serde_json::to_vec(&wire)
            .map(Zeroizing::new)
            .map_err(|_| CredentialError::Crypto("serialising a credential"))
    }

    /// Reads the sealed JSON back.
    ///
    /// # Errors
    /// [`CredentialError::Crypto`] when the JSON is not a credential.
    pub fn from_sealable(bytes: &[u8]) -> Result<Self, CredentialError> {
        let wire: Wire = serde_json::from_slice(bytes)
            .map_err(|_| CredentialError::Crypto("decrypted credential is malformed"))?;
        Ok(match &wire {
            Wire::Twilio {
                account_sid,
                auth_token,
                api_key_sid,
                api_key_secret,
                phone_number,
                voice_application_sid,
            } => {
                let api_key = match (api_key_sid, api_key_secret) {
                    (Some(sid), Some(secret_value)) => Some(TwilioApiKey {
                        sid: sid.clone(),
                        secret: secret(secret_value),
                    }),
                    _ => None,
                };
                if api_key.is_none() && auth_token.is_none() {
                    return Err(CredentialError::Crypto(
                        "decrypted Twilio credential has no secret",
                    ));
                }
                Self::Twilio(TwilioCredentials {
                    account_sid: account_sid.clone(),
                    auth_token: auth_token.as_deref().map(secret),
                    api_key,
                    phone_number: phone_number.clone(),
                    voice_application_sid: voice_application_sid.clone(),
                })
            }
            Wire::GoogleCalendar {
                refresh_token,
                email,
            } => Self::GoogleCalendar(GoogleCalendarCredentials {
                refresh_token: secret(refresh_token),
                email: email.clone(),
            }),
            Wire::Resend {
                api_key,
                from_email,
            } => Self::Resend(ResendCredentials {
                api_key: secret(api_key),
                from_email: from_email.clone(),
            }),
            Wire::ElevenLabs { api_key } => Self::ElevenLabs(ElevenLabsCredentials {
                api_key: secret(api_key),
            }),
            Wire::Outlook {
                refresh_token,
                email,
            } => Self::Outlook(OutlookCredentials {
                refresh_token: secret(refresh_token),
                email: email.clone(),
            }),
        })
    }
}

/// A typed view of one provider's credential, for [`crate::CredentialService::get`].
pub trait ProviderCredential: Send + Sync + 'static {
    /// The provider.
    const PROVIDER: Provider;
    /// This provider's credential inside a [`Credential`], if it is one.
    fn extract(credential: &Credential) -> Option<&Self>;
}

macro_rules! provider_credential {
    ($ty:ty, $variant:ident) => {
        impl ProviderCredential for $ty {
            const PROVIDER: Provider = Provider::$variant;
            fn extract(credential: &Credential) -> Option<&Self> {
                match credential {
                    Credential::$variant(c) => Some(c),
                    _ => None,
                }
            }
        }
    };
}

provider_credential!(TwilioCredentials, Twilio);
provider_credential!(GoogleCalendarCredentials, GoogleCalendar);
provider_credential!(ResendCredentials, Resend);
provider_credential!(ElevenLabsCredentials, ElevenLabs);
provider_credential!(OutlookCredentials, Outlook);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_round_trip_their_names() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        assert!(
            "vapi".parse::<Provider>().is_err(),
            "Vapi is platform-level, never BYOC"
        );
    }

    #[test]
    fn credentials_survive_the_sealable_form_and_never_print() {
        let cred = Credential::Twilio(TwilioCredentials {
            account_sid: format!("AC{}", "a".repeat(32)),
            auth_token: None,
            api_key: Some(TwilioApiKey {
                sid: format!("SK{}", "b".repeat(32)),
                secret: SecretString::from("s3cr3t-value".to_owned()),
            }),
            phone_number: "+15551234567".into(),
            voice_application_sid: None,
        });
        assert!(!format!("{cred:?}").contains("s3cr3t"));
        assert!(!cred.metadata().to_string().contains("s3cr3t"));
        let back = Credential::from_sealable(&cred.to_sealable().unwrap()).unwrap();
        match back {
            Credential::Twilio(TwilioCredentials {
                api_key: Some(TwilioApiKey { secret, .. }),
                auth_token: None,
                ..
            }) => {
                assert_eq!(secret.expose_secret(), "s3cr3t-value");
            }
            other => panic!("{other:?}"),
        }
    }
}
