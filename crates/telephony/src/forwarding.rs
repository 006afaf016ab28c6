//! Forwarding configurations (seed 001 §17.4 endpoints 4–7).

use crate::schema::hybrid_forwarding_configs as configs;
use chrono::{DateTime, Utc};
use db::OrgId;
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable,
    SelectableHelper,
};
use diesel_async::RunQueryDsl;
use telephony_gsm::{Carrier, E164, ForwardingMode};
use uuid::Uuid;

use crate::{Telephony, TelephonyError};

/// A stored forwarding configuration.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = configs, check_for_backend(diesel::pg::Pg))]
pub struct ForwardingConfig {
    /// Id.
    pub id: Uuid,
    /// The verified number it belongs to.
    pub verified_caller_id: Uuid,
    /// The mobile number forwarded, E.164.
    pub sim_phone_number: String,
    /// `total_ai` or `safety_net`.
    pub forwarding_type: String,
    /// Carrier profile.
    pub carrier: String,
    /// Where calls go: the organization's Twilio number, E.164.
    pub twilio_forwarding_number: String,
    /// Ring time set, in seconds (GSM safety net only).
    pub ring_time_seconds: Option<i32>,
    /// Codes to dial, in order.
    #[diesel(deserialize_as = db::arrays::TextList)]
    pub generated_activation_codes: Vec<String>,
    /// The code that removes forwarding from the phone.
    pub generated_deactivation_code: String,
    /// Codes that show each leg's state (GSM interrogation codes).
    #[diesel(deserialize_as = db::arrays::TextList)]
    pub check_codes: Vec<String>,
    /// `pending_setup`, `active` or `disabled`.
    pub status: String,
    /// Whether the person confirmed dialling the codes.
    pub user_confirmed_setup: bool,
    /// When they confirmed (UTC).
    pub confirmed_at: Option<DateTime<Utc>>,
}

/// A configuration request.
#[derive(Debug, Clone)]
pub struct NewForwarding {
    /// The verified number to forward.
    pub verified_caller_id: Uuid,
    /// `total_ai` or `safety_net`.
    pub forwarding_type: String,
    /// Carrier profile name.
    pub carrier: String,
    /// Ring time for a GSM safety net (5–30 s in steps of 5; default 25).
    pub ring_time_seconds: Option<u32>,
}

impl Telephony {
    /// The configuration of a verified number, if any.
    ///
    /// # Errors
    /// [`TelephonyError::NotFound`] (404), [`TelephonyError::Db`].
    pub async fn forwarding_for(
        &self,
        org: OrgId,
        verified_caller_id: Uuid,
    ) -> Result<ForwardingConfig, TelephonyError> {
        self.db
            .tenant(org, async move |tx| {
                configs::table
                    .filter(
                        configs::org_id
                            .eq(org.0)
                            .and(configs::verified_caller_id.eq(verified_caller_id)),
                    )
                    .select(ForwardingConfig::as_select())
                    .first(tx)
                    .await
                    .optional()?
                    .ok_or(TelephonyError::NotFound("forwarding configuration"))
            })
            .await
    }

    /// Creates (or replaces) the forwarding configuration of a verified number: the codes for
    /// the carrier and mode, to the organization's Twilio number; status `pending_setup`.
    /// Returns the configuration and the plan's instructions and notes.
    ///
    /// # Errors
    /// [`TelephonyError::Plan`] (unknown carrier or mode, invalid ring time, unsupported
    /// combination: 422), [`TelephonyError::NotFound`], [`TelephonyError::NotVerified`] (409),
    /// Twilio not connected (404).
    pub async fn configure_forwarding(
        &self,
        org: OrgId,
        request: NewForwarding,
    ) -> Result<(ForwardingConfig, Vec<String>, Vec<String>), TelephonyError> {
        let carrier: Carrier = request.carrier.parse()?;
        let mode: ForwardingMode = request.forwarding_type.parse()?;
        let number = self.number(org, request.verified_caller_id).await?;
        if number.status != "verified" {
            return Err(TelephonyError::NotVerified);
        }
        let (_, twilio_number) = self.twilio(org).await?;
        let destination = E164::parse(&twilio_number).map_err(TelephonyError::InvalidPhone)?;
        let plan = telephony_gsm::plan(carrier, mode, &destination, request.ring_time_seconds)?;
        let ring = plan.ring_time_seconds.map(i32::from);
        let (activation, deactivation, checks) = (
            plan.activation_codes.clone(),
            plan.deactivation_code.clone(),
            plan.check_codes.clone(),
        );
        let config = self
            .db
            .tenant(org, async move |tx| {
                diesel::insert_into(configs::table)
                    .values((
                        configs::id.eq(Uuid::new_v4()),
                        configs::org_id.eq(org.0),
                        configs::verified_caller_id.eq(number.id),
                        configs::sim_phone_number.eq(&number.phone_number),
                        configs::forwarding_type.eq(mode.as_str()),
                        configs::carrier.eq(carrier.as_str()),
                        configs::twilio_forwarding_number.eq(destination.as_str()),
                        configs::ring_time_seconds.eq(ring),
                        configs::generated_activation_codes.eq(&activation),
                        configs::generated_deactivation_code.eq(&deactivation),
                        configs::check_codes.eq(&checks),
                    ))
                    .on_conflict((configs::org_id, configs::sim_phone_number))
                    .do_update()
                    .set((
                        configs::verified_caller_id.eq(number.id),
                        configs::forwarding_type.eq(mode.as_str()),
                        configs::carrier.eq(carrier.as_str()),
                        configs::twilio_forwarding_number.eq(destination.as_str()),
                        configs::ring_time_seconds.eq(ring),
                        configs::generated_activation_codes.eq(&activation),
                        configs::generated_deactivation_code.eq(&deactivation),
                        configs::check_codes.eq(&checks),
                        configs::status.eq("pending_setup"),
                        configs::user_confirmed_setup.eq(false),
                        configs::confirmed_at.eq(None::<DateTime<Utc>>),
                    ))
                    .returning(ForwardingConfig::as_returning())
                    .get_result(tx)
                    .await
                    .map_err(TelephonyError::from)
            })
            .await?;
        Ok((config, plan.instructions, plan.notes))
    }

    async fn set_forwarding_status(
        &self,
        org: OrgId,
        id: Uuid,
        status: &'static str,
    ) -> Result<ForwardingConfig, TelephonyError> {
        self.db
            .tenant(org, async move |tx| {
                let confirmed = status == "active";
                diesel::update(
                    configs::table.filter(
                        configs::id
                            .eq(id)
                            .and(db::same_tenant(configs::org_id, org.0)),
                    ),
                )
                .set((
                    configs::status.eq(status),
                    configs::user_confirmed_setup.eq(confirmed),
                    configs::confirmed_at.eq(confirmed.then(Utc::now)),
                ))
                .returning(ForwardingConfig::as_returning())
                .get_result(tx)
                .await
                .optional()?
                .ok_or(TelephonyError::NotFound("forwarding configuration"))
            })
            .await
    }

    /// The person dialled the codes: the configuration becomes `active`.
    ///
    /// # Errors
    /// [`TelephonyError::NotFound`] (404), [`TelephonyError::Db`].
    pub async fn confirm_forwarding(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<ForwardingConfig, TelephonyError> {
        self.set_forwarding_status(org, id, "active").await
    }

    /// Disables forwarding: the configuration becomes `disabled`; the returned configuration's
    /// deactivation code is what the person dials to remove forwarding from the phone.
    ///
    /// # Errors
    /// [`TelephonyError::NotFound`] (404), [`TelephonyError::Db`].
    pub async fn disable_forwarding(
        &self,
        org: OrgId,
        id: Uuid,
    ) -> Result<ForwardingConfig, TelephonyError> {
        self.set_forwarding_status(org, id, "disabled").await
    }
}
