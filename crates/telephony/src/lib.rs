//! Hybrid telephony: forward a clinic's mobile line to its AI (seed 001 §17, corrected by 3GPP:
//! SPEC §6).
//!
//! 1. **Verify** the mobile number as a caller ID on the organization's own Twilio account:
//!    Twilio calls the number and the person keys in the 6-digit code shown in the dashboard.
//!    The code is kept only as an argon2id hash for 10 minutes; confirming it takes at most 3
//!    attempts, after which the verification is locked; the number is marked verified only once
//!    Twilio lists it as an outgoing caller ID. At most 3 verification calls per number per hour.
//! 2. **Forwarding configuration**: the codes to dial for the carrier and mode
//!    ([`telephony_gsm::plan`]), to the organization's Twilio number; confirmed by the person
//!    once dialled; disabling returns the code that removes forwarding from the phone.
//! 3. **Cleanup**: expired verifications, and failed or expired numbers after a day (unless an
//!    active forwarding uses them).

mod forwarding;
mod schema;
mod verification;

use credentials::{CredentialError, CredentialService, TwilioCredentials};
use db::{Db, DbError, OrgId, SystemOp};
use diesel::QueryableByName;
use diesel::sql_types::Integer;
use diesel_async::RunQueryDsl;
use integrations::Integrations;

pub use forwarding::{ForwardingConfig, NewForwarding};
pub use verification::{Initiated, VerifiedNumber};

/// How long a verification code is valid, in minutes (seed 001 §17.2 RULE 3).
pub const CODE_TTL_MINUTES: i64 = 10;
/// Wrong codes allowed per verification (seed 001 §17.2 RULE 3).
pub const MAX_ATTEMPTS: i32 = 3;
/// Verification calls per phone number per hour (seed 001 §17.4).
pub const MAX_INITIATIONS_PER_HOUR: i64 = 3;

/// Errors of the hybrid-telephony flows, each with the status the seed documents (§17.4).
#[derive(Debug, thiserror::Error)]
pub enum TelephonyError {
    /// The phone number is not E.164 (400).
    #[error("Invalid phone format. Must be E.164: +countrycode+number ({0})")]
    InvalidPhone(telephony_gsm::E164Error),
    /// Other invalid input (422); the message says which.
    #[error("{0}")]
    Invalid(String),
    /// The number is already verified for this organization (409).
    #[error("Phone number already verified for this organization")]
    AlreadyVerified,
    /// Too many verification calls for this number within the hour (429).
    #[error("Too many verification calls for this number; try again within the hour")]
    RateLimited,
    /// Wrong code (400); the message gives the attempts left.
    #[error("Invalid verification code. {remaining} attempt{} remaining.", if *.remaining == 1 { "" } else { "s" })]
    WrongCode {
        /// Attempts left.
        remaining: i32,
    },
    /// The code expired (410).
    #[error("Verification code expired. Please request a new one.")]
    Expired,
    /// Too many wrong codes (429): a new verification call is needed.
    #[error("Too many wrong codes. Please request a new verification call.")]
    Locked,
    /// Twilio does not list the number yet (409): the call was not completed.
    #[error(
        "Twilio has not confirmed this number yet: answer the verification call and key in the code, then try again"
    )]
    NotConfirmedByTwilio,
    /// The number is not verified yet (409).
    #[error("This number is not verified yet")]
    NotVerified,
    /// The callback's `X-Twilio-Signature` does not match (403).
    #[error("invalid Twilio signature")]
    BadSignature,
    /// Not found in the organization (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Twilio refused a request (422).
    #[error("Twilio refused the request: {0}")]
    TwilioRejected(String),
    /// Twilio could not be reached (502).
    #[error("Twilio could not be reached; try again shortly")]
    TwilioUnavailable(String),
    /// The carrier and mode have no plan (422).
    #[error(transparent)]
    Plan(#[from] telephony_gsm::PlanError),
    /// Vault errors (Twilio not connected, …).
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// Hashing failed.
    #[error("hashing the verification code failed")]
    Hash,
    /// A database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for TelephonyError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

impl From<twilio_client::TwilioError> for TelephonyError {
    fn from(e: twilio_client::TwilioError) -> Self {
        if e.is_retryable() {
            Self::TwilioUnavailable(e.to_string())
        } else {
            Self::TwilioRejected(e.to_string())
        }
    }
}

/// The hybrid-telephony service.
pub struct Telephony {
    db: Db,
    credentials: std::sync::Arc<CredentialService>,
    /// Builds the organization's Twilio clients (shared HTTP client and endpoints).
    integrations: std::sync::Arc<Integrations>,
    /// This platform's public base URL, for Twilio's status callbacks (none: no callback).
    public_base_url: Option<String>,
}

impl std::fmt::Debug for Telephony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telephony")
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

impl Telephony {
    /// A service over `db`, reading the organization's Twilio credentials from `credentials`
    /// and reaching Twilio through the clients `integrations` builds.
    #[must_use]
    pub fn new(
        db: Db,
        credentials: std::sync::Arc<CredentialService>,
        integrations: std::sync::Arc<Integrations>,
    ) -> Self {
        Self {
            db,
            credentials,
            integrations,
            public_base_url: None,
        }
    }

    /// Asks Twilio to report each verification's outcome to
    /// `<public_base_url>/webhooks/twilio/caller-id/<verification id>`.
    #[must_use]
    pub fn with_public_base_url(mut self, public_base_url: Option<String>) -> Self {
        self.public_base_url = public_base_url.map(|u| u.trim_end_matches('/').to_owned());
        self
    }

    /// The status callback URL of a verification, when a public base URL is configured.
    #[must_use]
    pub fn status_callback_url(&self, verification_id: uuid::Uuid) -> Option<String> {
        self.public_base_url
            .as_ref()
            .map(|base| format!("{base}/webhooks/twilio/caller-id/{verification_id}"))
    }

    async fn twilio(
        &self,
        org: OrgId,
    ) -> Result<(twilio_client::TwilioClient, String), TelephonyError> {
        let cred = self.credentials.get::<TwilioCredentials>(org).await?;
        let client = self.integrations.twilio_client(&cred)?;
        Ok((client, cred.phone_number.clone()))
    }
}

/// What a cleanup run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct CleanupReport {
    /// Pending verifications whose code expired, now `expired`.
    #[diesel(sql_type = Integer)]
    pub expired: i32,
    /// Failed or expired numbers deleted after 24 hours.
    #[diesel(sql_type = Integer)]
    pub deleted: i32,
    /// Initiation records older than a day removed.
    #[diesel(sql_type = Integer)]
    pub pruned: i32,
}

/// Runs the cleanup for every organization through the narrow `telephony_cleanup()` function
/// (see the migration): expired pending verifications become `expired`; `failed`/`expired`
/// numbers older than 24 hours are deleted unless an active forwarding configuration uses them.
///
/// # Errors
/// [`TelephonyError::Db`].
pub async fn cleanup(db: &Db) -> Result<CleanupReport, TelephonyError> {
    let report: CleanupReport = db
        .system(SystemOp::TelephonyCleanup, async move |c| {
            diesel::sql_query("SELECT expired, deleted, pruned FROM telephony_cleanup()")
                .get_result(c)
                .await
                .map_err(DbError::from)
        })
        .await?;
    tracing::info!(
        expired = report.expired,
        deleted = report.deleted,
        pruned = report.pruned,
        "telephony cleanup"
    );
    Ok(report)
}
