//! Caller-ID verification through the organization's Twilio (seed 001 §17.4 endpoints 1–3, 8).

use crate::schema::{
    caller_id_verification_requests as requests, hybrid_forwarding_configs as configs,
    verified_caller_ids as numbers,
};
use chrono::{DateTime, Duration, Utc};
use db::{OrgId, TenantTx};
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable,
    SelectableHelper,
};
use diesel_async::RunQueryDsl;
use telephony_gsm::E164;
use uuid::Uuid;

use crate::{CODE_TTL_MINUTES, MAX_ATTEMPTS, MAX_INITIATIONS_PER_HOUR, Telephony, TelephonyError};

/// A number of the organization and its verification state.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = numbers, check_for_backend(diesel::pg::Pg))]
pub struct VerifiedNumber {
    /// Row id (the `verificationId` of the seed).
    pub id: Uuid,
    /// E.164.
    pub phone_number: String,
    /// Name given.
    pub friendly_name: Option<String>,
    /// `pending`, `verified`, `failed` or `expired`.
    pub status: String,
    /// Twilio's `PN…` once verified.
    pub twilio_caller_id_sid: Option<String>,
    /// When verified (UTC).
    pub verified_at: Option<DateTime<Utc>>,
}

/// A verification call started: show `code` to the person, who keys it in during Twilio's call.
#[derive(Debug)]
pub struct Initiated {
    /// The verification (the seed's `verificationId`).
    pub verification_id: Uuid,
    /// Twilio's call (`CA…`; the seed's `validationId`).
    pub call_sid: String,
    /// The 6-digit code, shown once; only its hash is stored.
    pub code: String,
}

#[derive(diesel::QueryableByName)]
struct OrgLookup {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    org: Option<Uuid>,
}

#[derive(Queryable)]
struct CodeState {
    phone_number: String,
    status: String,
    hash: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    attempts: i32,
}

impl Telephony {
    /// Starts a verification call to `phone_number` (E.164; separators are tolerated).
    ///
    /// # Errors
    /// [`TelephonyError::InvalidPhone`] (400), [`TelephonyError::AlreadyVerified`] (409),
    /// [`TelephonyError::RateLimited`] (429), Twilio not connected (404), Twilio errors.
    pub async fn initiate(
        &self,
        org: OrgId,
        phone_number: &str,
        friendly_name: Option<&str>,
    ) -> Result<Initiated, TelephonyError> {
        let number = E164::normalize(phone_number, None).map_err(TelephonyError::InvalidPhone)?;
        let friendly_name = friendly_name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        if friendly_name
            .as_ref()
            .is_some_and(|n| n.chars().count() > 64)
        {
            return Err(TelephonyError::Invalid(
                "friendlyName must be at most 64 characters".into(),
            ));
        }
        let phone = number.as_str().to_owned();
        // Check, count and create in one transaction, so concurrent calls cannot exceed the limit.
        let p = phone.clone();
        let name = friendly_name.clone();
        let id = self
            .db
            .tenant(org, async move |tx| reserve(tx, &p, name.as_deref()).await)
            .await?;

        let (twilio, _) = self.twilio(org).await?;
        let request = twilio
            .request_caller_id_validation(
                &phone,
                friendly_name.as_deref(),
                self.status_callback_url(id).as_deref(),
            )
            .await?;
        let code = request.validation_code.clone();
        let hash = tenancy::password::hash_secret_off_thread(&code)
            .await
            .map_err(|_| TelephonyError::Hash)?;
        let call_sid = request.call_sid.clone();
        self.store_code(org, id, call_sid, hash).await?;
        tracing::info!(org_id = %org, verification_id = %id, "caller-ID verification call started");
        Ok(Initiated {
            verification_id: id,
            call_sid: request.call_sid,
            code,
        })
    }

    /// Confirms a verification with the code the person was shown, then asks Twilio whether the
    /// number is now a caller ID of the account. Returns the caller ID's `PN…` sid.
    ///
    /// # Errors
    /// [`TelephonyError::NotFound`] (404), [`TelephonyError::AlreadyVerified`] (409),
    /// [`TelephonyError::Expired`] (410), [`TelephonyError::WrongCode`] (400),
    /// [`TelephonyError::Locked`] (429), [`TelephonyError::NotConfirmedByTwilio`] (409).
    pub async fn confirm(
        &self,
        org: OrgId,
        verification_id: Uuid,
        code: &str,
    ) -> Result<String, TelephonyError> {
        let state = self.code_state(org, verification_id).await?;
        match state.status.as_str() {
            "verified" => return Err(TelephonyError::AlreadyVerified),
            "expired" => return Err(TelephonyError::Expired),
            _ => {}
        }
        if state.attempts >= MAX_ATTEMPTS || state.status == "failed" {
            return Err(TelephonyError::Locked);
        }
        let Some(hash) = state.hash else {
            return Err(TelephonyError::Expired);
        };
        if state.expires_at.is_none_or(|t| t < Utc::now()) {
            self.set_status(org, verification_id, "expired").await?;
            return Err(TelephonyError::Expired);
        }
        let code = code.trim();
        let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
        let matches = well_formed && tenancy::password::verify_off_thread(code, hash).await;
        if !matches {
            let attempts = self.count_attempt(org, verification_id).await?;
            let remaining = MAX_ATTEMPTS - attempts;
            if remaining <= 0 {
                self.set_status(org, verification_id, "failed").await?;
                return Err(TelephonyError::Locked);
            }
            return Err(TelephonyError::WrongCode { remaining });
        }

        let (twilio, _) = self.twilio(org).await?;
        let listed = twilio
            .list_outgoing_caller_ids(Some(&state.phone_number))
            .await?;
        let Some(caller_id) = listed
            .into_iter()
            .find(|c| c.phone_number == state.phone_number)
        else {
            return Err(TelephonyError::NotConfirmedByTwilio);
        };
        self.mark_verified(org, verification_id, caller_id.sid.clone())
            .await?;
        tracing::info!(org_id = %org, verification_id = %verification_id, "caller ID verified");
        Ok(caller_id.sid)
    }

    /// Keeps the hash of the code Twilio will read out, with its expiry, on verification `id`.
    async fn store_code(
        &self,
        org: OrgId,
        id: Uuid,
        call_sid: String,
        hash: String,
    ) -> Result<(), TelephonyError> {
        let expires = Utc::now() + Duration::minutes(CODE_TTL_MINUTES);
        self.db
            .tenant(org, async move |tx| {
                diesel::update(
                    numbers::table.filter(
                        numbers::id
                            .eq(id)
                            .and(db::same_tenant(numbers::org_id, org.0)),
                    ),
                )
                .set((
                    numbers::twilio_call_sid.eq(&call_sid),
                    numbers::verification_code_hash.eq(&hash),
                    numbers::verification_code_expires_at.eq(expires),
                    numbers::verification_attempts.eq(0),
                ))
                .execute(tx)
                .await?;
                Ok(())
            })
            .await
    }

    /// The code state of verification `id`.
    async fn code_state(&self, org: OrgId, id: Uuid) -> Result<CodeState, TelephonyError> {
        self.db
            .tenant(org, async move |tx| {
                numbers::table
                    .filter(
                        numbers::id
                            .eq(id)
                            .and(db::same_tenant(numbers::org_id, org.0)),
                    )
                    .select((
                        numbers::phone_number,
                        numbers::status,
                        numbers::verification_code_hash,
                        numbers::verification_code_expires_at,
                        numbers::verification_attempts,
                    ))
                    .first(tx)
                    .await
                    .optional()?
                    .ok_or(TelephonyError::NotFound("verification"))
            })
            .await
    }

    /// Marks verification `id` verified as Twilio's caller ID `sid`; the code is forgotten.
    async fn mark_verified(&self, org: OrgId, id: Uuid, sid: String) -> Result<(), TelephonyError> {
        self.db
            .tenant(org, async move |tx| {
                diesel::update(
                    numbers::table.filter(
                        numbers::id
                            .eq(id)
                            .and(db::same_tenant(numbers::org_id, org.0)),
                    ),
                )
                .set((
                    numbers::status.eq("verified"),
                    numbers::twilio_caller_id_sid.eq(Some(&sid)),
                    numbers::verified_at.eq(Some(Utc::now())),
                    numbers::verification_code_hash.eq(None::<String>),
                    numbers::verification_code_expires_at.eq(None::<DateTime<Utc>>),
                ))
                .execute(tx)
                .await?;
                Ok(())
            })
            .await
    }

    async fn count_attempt(&self, org: OrgId, id: Uuid) -> Result<i32, TelephonyError> {
        self.db
            .tenant(org, async move |tx| {
                diesel::update(
                    numbers::table.filter(
                        numbers::id
                            .eq(id)
                            .and(db::same_tenant(numbers::org_id, org.0)),
                    ),
                )
                .set(numbers::verification_attempts.eq(numbers::verification_attempts + 1))
                .returning(numbers::verification_attempts)
                .get_result::<i32>(tx)
                .await
                .map_err(TelephonyError::from)
            })
            .await
    }

    async fn set_status(
        &self,
        org: OrgId,
        id: Uuid,
        status: &'static str,
    ) -> Result<(), TelephonyError> {
        self.db
            .tenant(org, async move |tx| {
                diesel::update(
                    numbers::table.filter(
                        numbers::id
                            .eq(id)
                            .and(db::same_tenant(numbers::org_id, org.0)),
                    ),
                )
                .set((
                    numbers::status.eq(status),
                    numbers::verification_code_hash.eq(None::<String>),
                ))
                .execute(tx)
                .await
                .map_err(TelephonyError::from)
            })
            .await?;
        Ok(())
    }

    /// Twilio's status callback for a verification call (signature checked): `success` marks the
    /// number verified with its caller-ID sid, `failed` marks it failed. Twilio's parameter names
    /// `VerificationStatus` and `OutgoingCallerIdSid` are not in `contracts/` (unconfirmed); any
    /// other value changes nothing. The signature can only be checked for an organization that
    /// connected Twilio with its auth token: with an API key the callback is refused, and
    /// confirming the code (which asks Twilio directly) remains the way to verify.
    ///
    /// # Errors
    /// [`TelephonyError::NotFound`] (404), [`TelephonyError::BadSignature`] (403).
    pub async fn status_callback(
        &self,
        verification_id: Uuid,
        request: &twilio_client::signature::SignedForm,
    ) -> Result<(), TelephonyError> {
        use secrecy::ExposeSecret;
        let org: OrgLookup = self
            .db
            .system_read(db::SystemOp::TwilioCallbackLookup, async move |c| {
                diesel::sql_query("SELECT telephony_verification_org($1) AS org")
                    .bind::<diesel::sql_types::Uuid, _>(verification_id)
                    .get_result(c)
                    .await
                    .map_err(TelephonyError::from)
            })
            .await?;
        let org = OrgId(org.org.ok_or(TelephonyError::NotFound("verification"))?);
        let credential = self
            .credentials
            .get::<credentials::TwilioCredentials>(org)
            .await?;
        let Some(token) = &credential.auth_token else {
            tracing::warn!(%org, "Twilio callback refused: the org's Twilio credential has no auth token to check signatures with");
            return Err(TelephonyError::BadSignature);
        };
        if !request.is_signed_by(token.expose_secret()) {
            return Err(TelephonyError::BadSignature);
        }
        match request.param("VerificationStatus") {
            Some("success") => {
                let sid = request
                    .param("OutgoingCallerIdSid")
                    .filter(|s| twilio_client::is_sid(s, "PN"))
                    .map(str::to_owned);
                self.db
                    .tenant(org, async move |tx| {
                        diesel::update(
                            numbers::table.filter(
                                numbers::id
                                    .eq(verification_id)
                                    .and(db::same_tenant(numbers::org_id, org.0)),
                            ),
                        )
                        .set((
                            numbers::status.eq("verified"),
                            numbers::twilio_caller_id_sid.eq(sid),
                            numbers::verified_at.eq(Some(Utc::now())),
                            numbers::verification_code_hash.eq(None::<String>),
                        ))
                        .execute(tx)
                        .await
                        .map_err(TelephonyError::from)
                    })
                    .await?;
            }
            Some("failed") => self.set_status(org, verification_id, "failed").await?,
            _ => {}
        }
        tracing::info!(org_id = %org, verification_id = %verification_id, status = ?request.param("VerificationStatus"), "caller-ID status callback");
        Ok(())
    }

    /// One number of the organization.
    ///
    /// # Errors
    /// [`TelephonyError::NotFound`] (404), [`TelephonyError::Db`].
    pub async fn number(&self, org: OrgId, id: Uuid) -> Result<VerifiedNumber, TelephonyError> {
        self.db
            .tenant(org, async move |tx| {
                numbers::table
                    .filter(
                        numbers::id
                            .eq(id)
                            .and(db::same_tenant(numbers::org_id, org.0)),
                    )
                    .select(VerifiedNumber::as_select())
                    .first(tx)
                    .await
                    .optional()?
                    .ok_or(TelephonyError::NotFound("verified number"))
            })
            .await
    }

    /// The organization's numbers with whether each has a forwarding configuration.
    ///
    /// # Errors
    /// [`TelephonyError::Db`].
    pub async fn list_numbers(
        &self,
        org: OrgId,
    ) -> Result<Vec<(VerifiedNumber, bool)>, TelephonyError> {
        self.db
            .tenant(org, async move |tx| {
                let rows: Vec<VerifiedNumber> = numbers::table
                    .filter(numbers::org_id.eq(org.0))
                    .order(numbers::created_at.asc())
                    .select(VerifiedNumber::as_select())
                    .load(tx)
                    .await?;
                let with_config: Vec<Uuid> = configs::table
                    .filter(configs::org_id.eq(org.0))
                    .select(configs::verified_caller_id)
                    .load(tx)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|n| {
                        let has = with_config.contains(&n.id);
                        (n, has)
                    })
                    .collect())
            })
            .await
    }

    /// Removes a number and (by cascade) its forwarding configuration.
    ///
    /// # Errors
    /// [`TelephonyError::NotFound`] (404), [`TelephonyError::Db`].
    pub async fn remove_number(&self, org: OrgId, id: Uuid) -> Result<(), TelephonyError> {
        let deleted = self
            .db
            .tenant(org, async move |tx| {
                diesel::delete(
                    numbers::table.filter(
                        numbers::id
                            .eq(id)
                            .and(db::same_tenant(numbers::org_id, org.0)),
                    ),
                )
                .execute(tx)
                .await
                .map_err(TelephonyError::from)
            })
            .await?;
        if deleted == 0 {
            return Err(TelephonyError::NotFound("verified number"));
        }
        Ok(())
    }
}

/// Under a per-number advisory lock: refuses a number already verified or asked for
/// [`MAX_INITIATIONS_PER_HOUR`] times in the last hour, counts this request, and creates (or
/// resets) the `pending` row the Twilio callback will name. Returns its id.
async fn reserve(
    tx: &mut TenantTx,
    phone: &str,
    name: Option<&str>,
) -> Result<Uuid, TelephonyError> {
    let org = tx.org();
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind::<diesel::sql_types::Text, _>(format!("{}:{phone}", org.0))
        .execute(tx)
        .await?;
    let verified = numbers::table
        .filter(
            numbers::org_id
                .eq(org.0)
                .and(numbers::phone_number.eq(phone)),
        )
        .filter(numbers::status.eq("verified"))
        .count()
        .get_result::<i64>(tx)
        .await?;
    if verified > 0 {
        return Err(TelephonyError::AlreadyVerified);
    }
    let recent = requests::table
        .filter(
            requests::org_id
                .eq(org.0)
                .and(requests::phone_number.eq(phone)),
        )
        .filter(requests::created_at.gt(Utc::now() - Duration::hours(1)))
        .count()
        .get_result::<i64>(tx)
        .await?;
    if recent >= MAX_INITIATIONS_PER_HOUR {
        return Err(TelephonyError::RateLimited);
    }
    diesel::insert_into(requests::table)
        .values((
            requests::id.eq(Uuid::new_v4()),
            requests::org_id.eq(org.0),
            requests::phone_number.eq(phone),
        ))
        .execute(tx)
        .await?;
    // The row exists before Twilio calls, so that the callback can name it.
    let id = diesel::insert_into(numbers::table)
        .values((
            numbers::id.eq(Uuid::new_v4()),
            numbers::org_id.eq(org.0),
            numbers::phone_number.eq(phone),
            numbers::friendly_name.eq(name),
            numbers::status.eq("pending"),
        ))
        .on_conflict((numbers::org_id, numbers::phone_number))
        .do_update()
        .set((
            numbers::friendly_name.eq(name),
            numbers::status.eq("pending"),
            numbers::verification_code_hash.eq(None::<String>),
            numbers::verification_attempts.eq(0),
        ))
        .returning(numbers::id)
        .get_result::<Uuid>(tx)
        .await?;
    Ok(id)
}
