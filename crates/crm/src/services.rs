//! The services pricing engine (seed 001 §16 Phase 3): each organization's services with a
//! price in minor units (cents) and an ISO 4217 currency, a visit duration in minutes, and
//! keywords matched against call transcripts to estimate what a call is worth. Every new
//! organization starts with the seed's seven defaults (a database trigger; see migration 000008).

use crate::schema::services;
use chrono::{DateTime, Utc};
use db::TenantTx;
use diesel::{
    ExpressionMethods, OptionalExtension, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::money::{self, Price};
use crate::{CrmError, unique_as};

/// The organization's row `id` of `services`, as a query to read, update or delete (the tenant
/// checked by [`db::same_tenant`], so the primary key finds the row: decision 52).
#[diesel::dsl::auto_type(no_type_alias)]
fn one(org: Uuid, id: Uuid) -> _ {
    services::table
        .filter(services::id.eq(id))
        .filter(db::same_tenant(services::org_id, org))
}

/// A service as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = services, check_for_backend(diesel::pg::Pg))]
#[schema(as = ServiceRecord)]
pub struct Service {
    /// Id.
    pub id: Uuid,
    /// The organization.
    #[serde(skip)]
    pub org_id: Uuid,
    /// Name, unique per organization (case-insensitive).
    pub name: String,
    /// Price in minor units of `currency` (cents for USD).
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Length of a visit, minutes (5–480).
    pub duration_minutes: i32,
    /// Lower-case words or phrases that mean this service in a transcript.
    #[diesel(deserialize_as = db::arrays::TextList)]
    pub keywords: Vec<String>,
    /// Inactive services are not offered nor matched.
    pub is_active: bool,
    /// Created (UTC).
    #[serde(skip)]
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    #[serde(skip)]
    pub updated_at: DateTime<Utc>,
}

/// A service to create.
#[derive(Debug, Clone, Default)]
pub struct NewService {
    /// Name, 1–200 characters.
    pub name: String,
    /// Price in minor or major units of `currency` (one of them is required).
    pub price: Price,
    /// ISO 4217 code (default `USD`).
    pub currency: Option<String>,
    /// Visit length in minutes (default 30).
    pub duration_minutes: Option<i32>,
    /// Keywords (lower-cased, trimmed, empty ones dropped).
    pub keywords: Vec<String>,
}

/// Changes to a service; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ServicePatch {
    /// New name.
    pub name: Option<String>,
    /// New price in minor or major units of the (new or current) currency; neither field
    /// leaves the price as it is.
    pub price: Price,
    /// New currency.
    pub currency: Option<String>,
    /// New duration, minutes.
    pub duration_minutes: Option<i32>,
    /// New keywords.
    pub keywords: Option<Vec<String>>,
    /// Offered or not.
    pub is_active: Option<bool>,
}

fn clean_keywords(keywords: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = keywords
        .into_iter()
        .map(|k| k.trim().to_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn check(
    name: Option<&str>,
    currency: Option<&str>,
    duration: Option<i32>,
) -> Result<(), CrmError> {
    if let Some(name) = name
        && (name.trim().is_empty() || name.chars().count() > 200)
    {
        return Err(CrmError::Invalid("name must be 1-200 characters".into()));
    }
    if let Some(c) = currency
        && !money::is_currency(c)
    {
        return Err(CrmError::Invalid(
            "currency must be an ISO 4217 code such as USD".into(),
        ));
    }
    if duration.is_some_and(|d| !(5..=480).contains(&d)) {
        return Err(CrmError::Invalid("duration_minutes must be 5-480".into()));
    }
    Ok(())
}

/// The organization's services, by name.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn list(tx: &mut TenantTx) -> Result<Vec<Service>, CrmError> {
    let org = tx.org();
    Ok(services::table
        .filter(services::org_id.eq(org.0))
        .order(services::name.asc())
        .select(Service::as_select())
        .load(tx)
        .await?)
}

/// One service.
///
/// # Errors
/// [`CrmError::NotFound`], [`CrmError::Db`].
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Service, CrmError> {
    let org = tx.org();
    one(org.0, id)
        .select(Service::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(CrmError::NotFound("service"))
}

/// Creates a service.
///
/// # Errors
/// [`CrmError::Invalid`], [`CrmError::NameTaken`], [`CrmError::Db`].
pub async fn create(tx: &mut TenantTx, new: NewService) -> Result<Service, CrmError> {
    let org = tx.org();
    let currency = new.currency.unwrap_or_else(|| "USD".into());
    let duration = new.duration_minutes.unwrap_or(30);
    check(Some(&new.name), Some(&currency), Some(duration))?;
    let price_minor = new.price.resolve(&currency)?.ok_or_else(|| {
        CrmError::Invalid("price_minor (minor units) or price (major units) is required".into())
    })?;
    let keywords = clean_keywords(new.keywords);
    diesel::insert_into(services::table)
        .values((
            services::id.eq(Uuid::new_v4()),
            services::org_id.eq(org.0),
            services::name.eq(new.name.trim()),
            services::price_minor.eq(price_minor),
            services::currency.eq(currency),
            services::duration_minutes.eq(duration),
            services::keywords.eq(keywords),
        ))
        .returning(Service::as_returning())
        .get_result(tx)
        .await
        .map_err(|e| unique_as(e, "services_org_name_key", CrmError::NameTaken))
}

/// Applies a patch.
///
/// # Errors
/// [`CrmError::NotFound`], [`CrmError::Invalid`], [`CrmError::NameTaken`], [`CrmError::Db`].
pub async fn update(tx: &mut TenantTx, id: Uuid, patch: ServicePatch) -> Result<Service, CrmError> {
    let org = tx.org();
    check(
        patch.name.as_deref(),
        patch.currency.as_deref(),
        patch.duration_minutes,
    )?;
    let current = get(tx, id).await?;
    let currency = patch.currency.unwrap_or(current.currency);
    let price_minor = patch.price.resolve(&currency)?;
    diesel::update(one(org.0, id))
        .set((
            services::name.eq(patch.name.map_or(current.name, |n| n.trim().to_owned())),
            services::price_minor.eq(price_minor.unwrap_or(current.price_minor)),
            services::currency.eq(currency),
            services::duration_minutes
                .eq(patch.duration_minutes.unwrap_or(current.duration_minutes)),
            services::keywords.eq(patch.keywords.map_or(current.keywords, clean_keywords)),
            services::is_active.eq(patch.is_active.unwrap_or(current.is_active)),
        ))
        .returning(Service::as_returning())
        .get_result(tx)
        .await
        .map_err(|e| unique_as(e, "services_org_name_key", CrmError::NameTaken))
}

/// Deletes a service (appointments keep its name).
///
/// # Errors
/// [`CrmError::NotFound`], [`CrmError::Db`].
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<(), CrmError> {
    let org = tx.org();
    let n = diesel::delete(one(org.0, id)).execute(tx).await?;
    if n == 0 {
        Err(CrmError::NotFound("service"))
    } else {
        Ok(())
    }
}

/// Whether `phrase` (lower-case words) occurs in `words` as whole consecutive words.
fn contains_phrase(words: &[&str], phrase: &str) -> bool {
    let needle: Vec<&str> = phrase.split_whitespace().collect();
    !needle.is_empty() && words.windows(needle.len()).any(|w| w == needle.as_slice())
}

/// The active services a transcript mentions: a service matches when its name or one of its
/// keywords occurs as whole words, case-insensitively ("botox" matches "Botox?", not
/// "botoxology"). In the order of `services`.
#[must_use]
pub fn match_transcript<'a>(services: &'a [Service], transcript: &str) -> Vec<&'a Service> {
    let lowered = transcript.to_lowercase();
    let words: Vec<&str> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    services
        .iter()
        .filter(|s| s.is_active)
        .filter(|s| {
            contains_phrase(&words, &s.name.to_lowercase())
                || s.keywords.iter().any(|k| contains_phrase(&words, k))
        })
        .collect()
}

/// What a call is worth, in minor units: the price of the **most expensive** service the
/// transcript mentions, 0 when none. The maximum, not the sum: an agent listing the clinic's
/// services to a caller must not multiply the pipeline value.
#[must_use]
pub fn estimate_value(services: &[Service], transcript: &str) -> i64 {
    match_transcript(services, transcript)
        .into_iter()
        .map(|s| s.price_minor)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, price: i64, keywords: &[&str]) -> Service {
        Service {
            id: Uuid::new_v4(),
            org_id: Uuid::nil(),
            name: name.into(),
            price_minor: price,
            currency: "USD".into(),
            duration_minutes: 30,
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            is_active: true,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn whole_words_and_phrases_match_case_insensitively() {
        let services = [
            service("Botox", 40_000, &["botox", "wrinkle"]),
            service("Rhinoplasty", 600_000, &["rhinoplasty", "nose job"]),
            service("Fillers", 50_000, &["filler", "lip filler"]),
        ];
        let names = |t: &str| {
            match_transcript(&services, t)
                .into_iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("Hi, I'd like BOTOX, please."), ["Botox"]);
        assert_eq!(names("Thinking about a nose-job"), ["Rhinoplasty"]);
        assert_eq!(names("the nose is fine, job hunting"), Vec::<&str>::new());
        assert_eq!(names("botoxology"), Vec::<&str>::new());
        assert_eq!(estimate_value(&services, "botox or a nose job?"), 600_000);
        assert_eq!(estimate_value(&services, "just the hours please"), 0);
    }

    #[test]
    fn inactive_services_are_not_matched() {
        let mut s = service("Botox", 40_000, &[]);
        s.is_active = false;
        assert_eq!(estimate_value(&[s], "botox"), 0);
    }
}
