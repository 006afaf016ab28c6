//! Contacts (leads): CRUD, search and pagination, stats (seed 001 §16 Phase 2, "DASHBOARD API
//! FIXES"). Phones are stored in E.164 and are unique per organization.

use crate::schema::contacts;
use chrono::{DateTime, Utc};
use db::{OrgId, TenantTx};
use diesel::dsl::count_star;
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, PgSortExpressionMethods,
    PgTextExpressionMethods, QueryDsl, Queryable, Selectable, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{CrmError, DEFAULT_COUNTRY_CODE, Page, normalize_phone, unique_as};

/// The organization's row `id` of `contacts`, as a query to read, update or delete (the tenant
/// checked by [`db::same_tenant`], so the primary key finds the row: decision 52).
#[diesel::dsl::auto_type(no_type_alias)]
fn one(org: Uuid, id: Uuid) -> _ {
    contacts::table
        .filter(contacts::id.eq(id))
        .filter(db::same_tenant(contacts::org_id, org))
}

/// Pipeline statuses, in order: `new → contacted → booked | lost`.
pub const LEAD_STATUSES: [&str; 4] = ["new", "contacted", "booked", "lost"];
/// Lead temperatures.
pub const TEMPERATURES: [&str; 3] = ["hot", "warm", "cold"];

/// A contact as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = contacts, check_for_backend(diesel::pg::Pg))]
#[schema(as = ContactRecord)]
pub struct Contact {
    /// Id.
    pub id: Uuid,
    /// The organization.
    #[serde(skip)]
    pub org_id: Uuid,
    /// Display name (`contact_name` in responses).
    pub name: String,
    /// E.164 (`phone_number` in responses).
    pub phone: String,
    /// Email, if known.
    pub email: Option<String>,
    /// `new`, `contacted`, `booked` or `lost`.
    pub lead_status: String,
    /// `hot`, `warm` or `cold`.
    pub lead_temperature: String,
    /// 0–100.
    pub lead_score: i32,
    /// Services asked about (`services_interested` in responses).
    #[diesel(deserialize_as = db::arrays::TextList)]
    #[serde(rename = "services_interested")]
    pub service_interests: Vec<String>,
    /// Free notes.
    pub notes: Option<String>,
    /// Company the contact works for (seed 002), 1–200 characters.
    pub company: Option<String>,
    /// Last call or message, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize_opt")]
    pub last_contacted_at: Option<DateTime<Utc>>,
    /// Created, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last changed, RFC 3339 UTC.
    #[serde(serialize_with = "db::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// A contact to create. The phone may be typed in any common form.
#[derive(Debug, Clone, Default)]
pub struct NewContact {
    /// Display name, 1–200 characters.
    pub name: String,
    /// Phone, normalised to E.164 (default country +1).
    pub phone: String,
    /// Email.
    pub email: Option<String>,
    /// Initial status (default `new`).
    pub lead_status: Option<String>,
    /// Temperature (default `warm`).
    pub lead_temperature: Option<String>,
    /// Score 0–100 (default 0).
    pub lead_score: Option<i32>,
    /// Services asked about.
    pub service_interests: Vec<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Company (blank means none).
    pub company: Option<String>,
}

/// Changes to a contact; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    /// New name.
    pub name: Option<String>,
    /// New phone (normalised).
    pub phone: Option<String>,
    /// New email; `Some(None)` clears it.
    pub email: Option<Option<String>>,
    /// New pipeline status (see [`check_transition`]).
    pub lead_status: Option<String>,
    /// New temperature.
    pub lead_temperature: Option<String>,
    /// New score.
    pub lead_score: Option<i32>,
    /// New interests.
    pub service_interests: Option<Vec<String>>,
    /// New notes; `Some(None)` clears them.
    pub notes: Option<Option<String>>,
    /// New company; `Some(None)` or a blank one clears it.
    pub company: Option<Option<String>>,
    /// When last contacted.
    pub last_contacted_at: Option<DateTime<Utc>>,
}

/// Filters of the contact list.
#[derive(Debug, Clone, Default)]
pub struct ContactQuery {
    /// Case-insensitive substring of name, phone or email.
    pub search: Option<String>,
    /// Only this pipeline status.
    pub lead_status: Option<String>,
    /// Only this temperature.
    pub lead_temperature: Option<String>,
}

/// `GET /api/contacts/stats` (seed names `total_leads`, `hot_leads`, `warm_leads`, `cold_leads`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactStats {
    /// All contacts.
    pub total: i64,
    /// Hot.
    pub hot: i64,
    /// Warm.
    pub warm: i64,
    /// Cold.
    pub cold: i64,
}

fn one_of(value: &str, allowed: &[&str], what: &str) -> Result<(), CrmError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(CrmError::Invalid(format!(
            "{what} must be one of {}",
            allowed.join(", ")
        )))
    }
}

fn rank(status: &str) -> u8 {
    match status {
        "new" => 0,
        "contacted" => 1,
        _ => 2,
    }
}

/// The pipeline rule: a lead moves forward only (`new` < `contacted` < `booked` | `lost`);
/// `booked` and `lost` may replace each other (a lost lead books later, a booking is cancelled).
///
/// # Errors
/// [`CrmError::Invalid`] for an unknown status, [`CrmError::InvalidTransition`] for a move back.
pub fn check_transition(from: &str, to: &str) -> Result<(), CrmError> {
    one_of(to, &LEAD_STATUSES, "lead_status")?;
    if rank(to) < rank(from) {
        return Err(CrmError::InvalidTransition {
            from: from.to_owned(),
            to: to.to_owned(),
        });
    }
    Ok(())
}

fn clean_name(name: &str) -> Result<String, CrmError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(CrmError::Invalid("name must be 1-200 characters".into()));
    }
    Ok(name.to_owned())
}

fn clean_email(email: Option<String>) -> Result<Option<String>, CrmError> {
    match email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
    {
        Some(e) if e.find('@').is_some_and(|at| at > 0 && at < e.len() - 1) => Ok(Some(e)),
        Some(_) => Err(CrmError::Invalid("email is not an email address".into())),
        None => Ok(None),
    }
}

fn clean_company(company: Option<String>) -> Result<Option<String>, CrmError> {
    let company = company
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if company.as_ref().is_some_and(|c| c.chars().count() > 200) {
        return Err(CrmError::Invalid(
            "company must be at most 200 characters".into(),
        ));
    }
    Ok(company)
}

fn check_score(score: i32) -> Result<i32, CrmError> {
    if (0..=100).contains(&score) {
        Ok(score)
    } else {
        Err(CrmError::Invalid("lead_score must be 0-100".into()))
    }
}

/// Creates a contact.
///
/// # Errors
/// [`CrmError::Invalid`], [`CrmError::PhoneTaken`], [`CrmError::Db`].
pub async fn create(tx: &mut TenantTx, new: NewContact) -> Result<Contact, CrmError> {
    let org = tx.org();
    let name = clean_name(&new.name)?;
    let phone = normalize_phone(&new.phone, DEFAULT_COUNTRY_CODE)?;
    let email = clean_email(new.email)?;
    let company = clean_company(new.company)?;
    let status = new.lead_status.unwrap_or_else(|| "new".into());
    one_of(&status, &LEAD_STATUSES, "lead_status")?;
    let temperature = new.lead_temperature.unwrap_or_else(|| "warm".into());
    one_of(&temperature, &TEMPERATURES, "lead_temperature")?;
    let score = check_score(new.lead_score.unwrap_or(0))?;
    let created: Contact = diesel::insert_into(contacts::table)
        .values((
            contacts::id.eq(Uuid::new_v4()),
            contacts::org_id.eq(org.0),
            contacts::name.eq(name),
            contacts::phone.eq(phone),
            contacts::email.eq(email),
            contacts::lead_status.eq(status),
            contacts::lead_temperature.eq(temperature),
            contacts::lead_score.eq(score),
            contacts::service_interests.eq(new.service_interests),
            contacts::notes.eq(new.notes),
            contacts::company.eq(company),
        ))
        .returning(Contact::as_returning())
        .get_result(tx)
        .await
        .map_err(|e| unique_as(e, "contacts_org_phone_key", CrmError::PhoneTaken))?;
    emit(tx, "contact.created", &created).await?;
    Ok(created)
}

/// Writes the outbound webhook event `event_type` (`contact.created` or `contact.updated`;
/// issue 23 §2) about `contact` in the caller's transaction.
///
/// # Errors
/// [`CrmError::Db`].
async fn emit(
    tx: &mut TenantTx,
    event_type: &'static str,
    contact: &Contact,
) -> Result<(), CrmError> {
    emit_with(tx, &mut webhooks::Emitter::default(), event_type, contact).await
}

/// [`emit`] through `events`, which reads the organization's subscriptions once for many events.
///
/// # Errors
/// [`CrmError::Db`].
async fn emit_with(
    tx: &mut TenantTx,
    events: &mut webhooks::Emitter,
    event_type: &'static str,
    contact: &Contact,
) -> Result<(), CrmError> {
    let data = serde_json::json!({
        "contact_id": contact.id,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "company": contact.company,
        "status": contact.lead_status,
        "temperature": contact.lead_temperature,
        "lead_score": contact.lead_score,
    });
    events.emit(tx, event_type, data).await?;
    Ok(())
}

/// One contact.
///
/// # Errors
/// [`CrmError::NotFound`], [`CrmError::Db`].
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Contact, CrmError> {
    let org = tx.org();
    one(org.0, id)
        .select(Contact::as_select())
        .first(tx)
        .await
        .optional()?
        .ok_or(CrmError::NotFound("contact"))
}

/// The contact of organization `org` with this E.164 phone, if any, on `conn` by shared
/// reference so that several can be pipelined ([`by_phones`]).
async fn find_by_phone_on(
    mut conn: &diesel_async::AsyncPgConnection,
    org: OrgId,
    phone: &str,
) -> Result<Option<Contact>, CrmError> {
    Ok(contacts::table
        .filter(contacts::org_id.eq(org.0))
        .filter(contacts::phone.eq(phone))
        .select(Contact::as_select())
        .first(&mut conn)
        .await
        .optional()?)
}

/// Name of a contact created for a caller who gave none (seed 001 "Verified working code").
pub const UNKNOWN_CALLER: &str = "Unknown Caller";

/// The contact with this phone, created (status `new`, temperature `warm`) when there is none:
/// how bookings and calls attach to a lead. Safe under concurrency (the phone is unique). A
/// contact still named [`UNKNOWN_CALLER`] takes `name`, and one without an email takes `email`,
/// so a caller who gives their name while booking is no longer anonymous.
///
/// # Errors
/// [`CrmError::Invalid`] for an email that is not one, [`CrmError::Db`].
pub async fn find_or_create(
    tx: &mut TenantTx,
    name: &str,
    phone: &str,
    email: Option<&str>,
) -> Result<Contact, CrmError> {
    let email = clean_email(email.map(str::to_owned))?;
    let caller = Caller {
        name,
        phone,
        email: email.as_deref(),
    };
    let mut events = webhooks::Emitter::default();
    let mut found = find_or_create_many(tx, &mut events, &[caller]).await?;
    found.pop().ok_or(CrmError::NotFound("contact"))
}

/// A caller to find or create as a contact ([`find_or_create_many`]).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The name they gave, or [`UNKNOWN_CALLER`].
    pub name: &'a str,
    /// Their phone, E.164.
    pub phone: &'a str,
    /// Their email, already checked, if they gave one.
    pub email: Option<&'a str>,
}

/// [`find_or_create`] for several callers in order (a batch of post-call analyses; one phone may
/// come several times): the missing contacts are created in one statement and all are read in
/// one, then each caller in turn may teach its contact a name or an email. Returns each
/// caller's contact as it stands after that caller, in order. `contact.created` and
/// `contact.updated` events are written through `events`.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn find_or_create_many(
    tx: &mut TenantTx,
    events: &mut webhooks::Emitter,
    callers: &[Caller<'_>],
) -> Result<Vec<Contact>, CrmError> {
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<&Caller<'_>> = callers.iter().filter(|c| seen.insert(c.phone)).collect();
    let created = insert_missing(tx, &firsts).await?;
    let mut by_phone = by_phones(tx, firsts.iter().map(|c| c.phone)).await?;
    for caller in &firsts {
        let contact = by_phone
            .get(caller.phone)
            .ok_or(CrmError::NotFound("contact"))?;
        if created.contains(&contact.id) {
            emit_with(tx, events, "contact.created", contact).await?;
        }
    }
    let mut out = Vec::with_capacity(callers.len());
    for caller in callers {
        let found = by_phone
            .get_mut(caller.phone)
            .ok_or(CrmError::NotFound("contact"))?;
        if let Some(learned) = learn(tx, events, found, caller).await? {
            *found = learned;
        }
        out.push(found.clone());
    }
    Ok(out)
}

/// Inserts a contact for each of `callers` whose phone has none (one statement); the ids of
/// those created.
async fn insert_missing(
    tx: &mut TenantTx,
    callers: &[&Caller<'_>],
) -> Result<std::collections::HashSet<Uuid>, CrmError> {
    let org = tx.org();
    let rows: Vec<_> = callers
        .iter()
        .map(|c| {
            (
                contacts::id.eq(Uuid::new_v4()),
                contacts::org_id.eq(org.0),
                contacts::name.eq(c.name),
                contacts::phone.eq(c.phone),
                contacts::email.eq(c.email),
            )
        })
        .collect();
    let created: Vec<Uuid> = diesel::insert_into(contacts::table)
        .values(rows)
        .on_conflict((contacts::org_id, contacts::phone))
        .do_nothing()
        .returning(contacts::id)
        .get_results(tx)
        .await?;
    Ok(created.into_iter().collect())
}

/// The contacts with these phones, by phone: one [`find_by_phone_on`] statement per phone, all
/// sent together (diesel-async pipelining), so each keeps its plan through the unique
/// `(org_id, phone)` index (a `phone = ANY($1)` statement can be planned as a scan while the
/// table is young and keep that plan as it grows).
async fn by_phones<'p>(
    tx: &mut TenantTx,
    phones: impl Iterator<Item = &'p str>,
) -> Result<std::collections::HashMap<String, Contact>, CrmError> {
    let org = tx.org();
    let conn: &diesel_async::AsyncPgConnection = tx;
    let reads: Vec<_> = phones.map(|p| find_by_phone_on(conn, org, p)).collect();
    let found = futures_util::future::try_join_all(reads).await?;
    Ok(found
        .into_iter()
        .flatten()
        .map(|c| (c.phone.clone(), c))
        .collect())
}

/// What `caller` teaches `found`: a name for a contact still named [`UNKNOWN_CALLER`], an
/// email for one without; the updated contact (and its `contact.updated` event), `None` when
/// nothing is learned.
async fn learn(
    tx: &mut TenantTx,
    events: &mut webhooks::Emitter,
    found: &Contact,
    caller: &Caller<'_>,
) -> Result<Option<Contact>, CrmError> {
    let name = caller.name.trim();
    let learns_name = found.name == UNKNOWN_CALLER && !name.is_empty() && name != UNKNOWN_CALLER;
    let learns_email = found.email.is_none() && caller.email.is_some();
    if !learns_name && !learns_email {
        return Ok(None);
    }
    let learned: Contact = diesel::update(one(tx.org().0, found.id))
        .set((
            contacts::name.eq(if learns_name { name } else { &found.name }),
            contacts::email.eq(found.email.as_deref().or(caller.email)),
        ))
        .returning(Contact::as_returning())
        .get_result(tx)
        .await?;
    emit_with(tx, events, "contact.updated", &learned).await?;
    Ok(Some(learned))
}

/// Marks a lead `booked` (when the pipeline allows it from its current stage) and contacted at
/// `at`, inside the caller's tenant transaction: what a booking does to its contact.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn mark_booked(
    tx: &mut TenantTx,
    contact: &Contact,
    at: DateTime<Utc>,
) -> Result<(), CrmError> {
    let org = tx.org();
    if check_transition(&contact.lead_status, "booked").is_err() {
        return Ok(());
    }
    let booked: Option<Contact> = diesel::update(one(org.0, contact.id))
        .set((
            contacts::lead_status.eq("booked"),
            contacts::last_contacted_at.eq(at),
        ))
        .returning(Contact::as_returning())
        .get_result(tx)
        .await
        .optional()?;
    if let Some(booked) = booked.filter(|_| contact.lead_status != "booked") {
        emit(tx, "contact.updated", &booked).await?;
    }
    Ok(())
}

fn filtered(org: OrgId, query: &ContactQuery) -> contacts::BoxedQuery<'static, diesel::pg::Pg> {
    let mut q = contacts::table
        .filter(contacts::org_id.eq(org.0))
        .into_boxed();
    if let Some(search) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let pattern = crate::contains_pattern(search);
        q = q.filter(
            contacts::name
                .ilike(pattern.clone())
                .or(contacts::phone.ilike(pattern.clone()))
                .or(contacts::email.ilike(pattern.clone()))
                .or(contacts::company.ilike(pattern)),
        );
    }
    if let Some(status) = &query.lead_status {
        q = q.filter(contacts::lead_status.eq(status.clone()));
    }
    if let Some(temperature) = &query.lead_temperature {
        q = q.filter(contacts::lead_temperature.eq(temperature.clone()));
    }
    q
}

/// A page of contacts, newest first, and the total matching.
///
/// # Errors
/// [`CrmError::Invalid`] for an unknown status or temperature filter, [`CrmError::Db`].
pub async fn list(
    tx: &mut TenantTx,
    query: ContactQuery,
    page: Page,
) -> Result<(Vec<Contact>, i64), CrmError> {
    let org = tx.org();
    if let Some(s) = &query.lead_status {
        one_of(s, &LEAD_STATUSES, "lead_status")?;
    }
    if let Some(t) = &query.lead_temperature {
        one_of(t, &TEMPERATURES, "lead_temperature")?;
    }
    let total: i64 = filtered(org, &query).select(count_star()).first(tx).await?;
    let rows = filtered(org, &query)
        .order((contacts::created_at.desc(), contacts::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .select(Contact::as_select())
        .load(tx)
        .await?;
    Ok((rows, total))
}

/// Applies a patch.
///
/// # Errors
/// [`CrmError::NotFound`], [`CrmError::Invalid`], [`CrmError::InvalidTransition`],
/// [`CrmError::PhoneTaken`], [`CrmError::Db`].
pub async fn update(tx: &mut TenantTx, id: Uuid, patch: ContactPatch) -> Result<Contact, CrmError> {
    let org = tx.org();
    let name = patch.name.as_deref().map(clean_name).transpose()?;
    let phone = patch
        .phone
        .as_deref()
        .map(|p| normalize_phone(p, DEFAULT_COUNTRY_CODE))
        .transpose()?;
    let email = patch.email.map(clean_email).transpose()?;
    let company = patch.company.map(clean_company).transpose()?;
    if let Some(t) = &patch.lead_temperature {
        one_of(t, &TEMPERATURES, "lead_temperature")?;
    }
    let score = patch.lead_score.map(check_score).transpose()?;
    let current = one(org.0, id)
        .select(Contact::as_select())
        .for_update()
        .first(tx)
        .await
        .optional()?
        .ok_or(CrmError::NotFound("contact"))?;
    if let Some(to) = &patch.lead_status {
        check_transition(&current.lead_status, to)?;
    }
    let target = one(org.0, id);
    let updated: Contact = diesel::update(target)
        .set((
            contacts::name.eq(name.unwrap_or(current.name)),
            contacts::phone.eq(phone.unwrap_or(current.phone)),
            contacts::email.eq(email.unwrap_or(current.email)),
            contacts::lead_status.eq(patch.lead_status.unwrap_or(current.lead_status)),
            contacts::lead_temperature
                .eq(patch.lead_temperature.unwrap_or(current.lead_temperature)),
            contacts::lead_score.eq(score.unwrap_or(current.lead_score)),
            contacts::service_interests
                .eq(patch.service_interests.unwrap_or(current.service_interests)),
            contacts::notes.eq(patch.notes.unwrap_or(current.notes)),
            contacts::company.eq(company.unwrap_or(current.company)),
            contacts::last_contacted_at.eq(patch.last_contacted_at.or(current.last_contacted_at)),
        ))
        .returning(Contact::as_returning())
        .get_result(tx)
        .await
        .map_err(|e| unique_as(e, "contacts_org_phone_key", CrmError::PhoneTaken))?;
    emit(tx, "contact.updated", &updated).await?;
    Ok(updated)
}

/// Deletes a contact (its calls, appointments and messages keep their rows, unlinked).
///
/// # Errors
/// [`CrmError::NotFound`], [`CrmError::Db`].
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<(), CrmError> {
    let org = tx.org();
    let n = diesel::delete(one(org.0, id)).execute(tx).await?;
    if n == 0 {
        Err(CrmError::NotFound("contact"))
    } else {
        Ok(())
    }
}

/// Counts by temperature.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn stats(tx: &mut TenantTx) -> Result<ContactStats, CrmError> {
    let org = tx.org();
    let rows: Vec<(String, i64)> = contacts::table
        .filter(contacts::org_id.eq(org.0))
        .group_by(contacts::lead_temperature)
        .select((contacts::lead_temperature, count_star()))
        .load(tx)
        .await?;
    let of = |t: &str| rows.iter().find(|(k, _)| k == t).map_or(0, |(_, n)| *n);
    Ok(ContactStats {
        total: rows.iter().map(|(_, n)| n).sum(),
        hot: of("hot"),
        warm: of("warm"),
        cold: of("cold"),
    })
}

// ── What calls do to their contact (the voice agent's calls and call-backs) ──────────────────

diesel::define_sql_function! {
    /// SQL `lower(text)`.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// The caller of an inbound call, created as a warm lead scoring `new_score` when the number is
/// new (a known caller keeps their score), and marked contacted at `at`.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn touch_caller(
    tx: &mut TenantTx,
    phone: &str,
    name: &str,
    new_score: i32,
    at: DateTime<Utc>,
) -> Result<Contact, CrmError> {
    let org = tx.org();
    // One statement: the insert, or on a known number the mark; `xmax = 0` only on a row this
    // statement inserted (an updated row carries the updating transaction's id).
    let (caller, inserted): (Contact, bool) = diesel::insert_into(contacts::table)
        .values((
            contacts::id.eq(Uuid::new_v4()),
            contacts::org_id.eq(org.0),
            contacts::name.eq(name),
            contacts::phone.eq(phone),
            contacts::lead_temperature.eq("warm"),
            contacts::lead_score.eq(new_score),
            contacts::last_contacted_at.eq(at),
        ))
        .on_conflict((contacts::org_id, contacts::phone))
        .do_update()
        .set(contacts::last_contacted_at.eq(at))
        .returning((
            Contact::as_returning(),
            diesel::dsl::sql::<diesel::sql_types::Bool>("xmax = 0"),
        ))
        .get_result(tx)
        .await?;
    if inserted {
        emit(tx, "contact.created", &caller).await?;
    }
    Ok(caller)
}

/// How a caller is looked up by the agent's `lookupCaller` tool.
#[derive(Debug, Clone)]
pub enum CallerKey {
    /// An E.164 phone (exact).
    Phone(String),
    /// An email (case-insensitive, exact).
    Email(String),
    /// Part of a name (case-insensitive).
    Name(String),
}

/// Up to five contacts matching `key`, most recently contacted first.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn look_up(tx: &mut TenantTx, key: &CallerKey) -> Result<Vec<Contact>, CrmError> {
    let org = tx.org();
    let q = contacts::table
        .filter(contacts::org_id.eq(org.0))
        .into_boxed();
    let q = match key {
        CallerKey::Phone(p) => q.filter(contacts::phone.eq(p.clone())),
        CallerKey::Email(e) => q.filter(lower(contacts::email).eq(e.to_lowercase())),
        CallerKey::Name(n) => q.filter(contacts::name.ilike(crate::contains_pattern(n))),
    };
    Ok(q.order(contacts::last_contacted_at.desc().nulls_last())
        .limit(5)
        .select(Contact::as_select())
        .load(tx)
        .await?)
}

/// Locks the contact's row until the caller's transaction ends (concurrent call-backs to one
/// contact queue here).
///
/// # Errors
/// [`CrmError::NotFound`], [`CrmError::Db`].
pub async fn lock(tx: &mut TenantTx, id: Uuid) -> Result<(), CrmError> {
    let org = tx.org();
    one(org.0, id)
        .select(contacts::id)
        .for_update()
        .first::<Uuid>(tx)
        .await
        .optional()?
        .map(|_| ())
        .ok_or(CrmError::NotFound("contact"))
}

/// A call-back went out to the contact at `at`: a `new` lead becomes `contacted`.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn mark_called_back(
    tx: &mut TenantTx,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), CrmError> {
    let org = tx.org();
    diesel::update(one(org.0, id))
        .set((
            contacts::last_contacted_at.eq(at),
            contacts::lead_status.eq(diesel::dsl::sql::<diesel::sql_types::Text>(
                "CASE WHEN lead_status = 'new' THEN 'contacted' ELSE lead_status END",
            )),
        ))
        .execute(tx)
        .await?;
    Ok(())
}

/// What a finished call says about its lead (seed 001 §16 data flow: booked or lost, the score
/// and the temperature it implies).
#[derive(Debug, Clone, Copy)]
pub struct CallVerdict<'a> {
    /// The call ended in a booking.
    pub booked: bool,
    /// The lead score, 0–100.
    pub score: i32,
    /// `hot`, `warm` or `cold`.
    pub temperature: &'a str,
    /// When the call ended (UTC).
    pub at: DateTime<Utc>,
}

/// Records finished calls on their leads in order (a batch of post-call analyses; one contact
/// may come several times, each call applied after the one before): `booked` when the call
/// booked, else `lost` unless already booked; the score, temperature and last contact. The
/// updates are sent together (diesel-async pipelining, executed in order), then each recorded
/// contact's `contact.updated` event is written through `events`.
///
/// # Errors
/// [`CrmError::Db`].
pub async fn record_calls(
    tx: &mut TenantTx,
    events: &mut webhooks::Emitter,
    calls: &[(Uuid, CallVerdict<'_>)],
) -> Result<(), CrmError> {
    let org = tx.org();
    let conn: &diesel_async::AsyncPgConnection = tx;
    let updates: Vec<_> = calls
        .iter()
        .map(|(id, verdict)| record_call_on(conn, org, *id, verdict))
        .collect();
    let recorded = futures_util::future::try_join_all(updates).await?;
    for contact in recorded.iter().flatten() {
        emit_with(tx, events, "contact.updated", contact).await?;
    }
    Ok(())
}

/// The update of [`record_calls`] for one call, on `conn` by shared reference, so that several
/// can be pipelined on one connection; the contact as recorded, `None` when there is no such
/// contact.
async fn record_call_on(
    mut conn: &diesel_async::AsyncPgConnection,
    org: OrgId,
    id: Uuid,
    verdict: &CallVerdict<'_>,
) -> Result<Option<Contact>, CrmError> {
    Ok(diesel::update(one(org.0, id))
        .set((
            contacts::lead_status.eq(diesel::dsl::sql::<diesel::sql_types::Text>(
                if verdict.booked {
                    "'booked'"
                } else {
                    "CASE WHEN lead_status = 'booked' THEN 'booked' ELSE 'lost' END"
                },
            )),
            contacts::lead_score.eq(verdict.score),
            contacts::lead_temperature.eq(verdict.temperature),
            contacts::last_contacted_at.eq(verdict.at),
        ))
        .returning(Contact::as_returning())
        .get_result(&mut conn)
        .await
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_only_moves_forward() {
        for (from, to) in [
            ("new", "contacted"),
            ("new", "booked"),
            ("contacted", "lost"),
            ("lost", "booked"),
            ("booked", "lost"),
            ("booked", "booked"),
        ] {
            assert!(check_transition(from, to).is_ok(), "{from} -> {to}");
        }
        for (from, to) in [
            ("contacted", "new"),
            ("booked", "contacted"),
            ("lost", "new"),
        ] {
            assert!(
                matches!(
                    check_transition(from, to),
                    Err(CrmError::InvalidTransition { .. })
                ),
                "{from} -> {to}"
            );
        }
        assert!(matches!(
            check_transition("new", "won"),
            Err(CrmError::Invalid(_))
        ));
    }
}
