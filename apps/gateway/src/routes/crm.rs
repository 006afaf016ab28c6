//! `/api/contacts` and `/api/services` (seed 001 §16, "DASHBOARD API FIXES"). Contacts carry the
//! seed's field names (`contact_name`, `phone_number`, `services_interested`) and the old ones
//! (`name`, `phone`) for existing clients. Any signed-in user manages contacts; services are
//! changed by managers and admins.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use crm::contacts::{Contact, ContactPatch, ContactQuery, NewContact};
use crm::money::Price;
use crm::services::{NewService, Service, ServicePatch};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{AuthUser, ManagerUser, RoleAtLeast};
use crate::error::{ApiError, ErrorBody};
use crate::input::Json;
use crate::reply::{self, Success};
use crate::routes::{Pagination, page};
use crate::state::AppState;

/// A contact as the API shows it: the stored contact and the seed's names for its name and
/// phone (`contact_name`, `phone_number`; `name` and `phone` stay for older clients).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactBody {
    /// The contact as stored.
    #[serde(flatten)]
    pub contact: Contact,
    /// Name (seed field; `name` holds the same value).
    pub contact_name: String,
    /// E.164 (seed field; `phone` holds the same value).
    pub phone_number: String,
}

impl From<Contact> for ContactBody {
    fn from(contact: Contact) -> Self {
        Self {
            contact_name: contact.name.clone(),
            phone_number: contact.phone.clone(),
            contact,
        }
    }
}

/// `{ "success": true, "contact": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactResponse {
    /// The contact.
    pub contact: ContactBody,
}

/// `{ "success": true, "contacts": [...], "pagination": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactList {
    /// Newest first.
    pub contacts: Vec<ContactBody>,
    /// Page.
    pub pagination: Pagination,
}

/// Body of `POST /api/contacts`. Accepts the seed's and the old field names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// Name.
    #[serde(alias = "contact_name")]
    pub name: String,
    /// Phone in any common form; stored as E.164 (default country +1).
    #[serde(alias = "phone_number")]
    pub phone: String,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Initial status (default `new`).
    #[serde(default)]
    pub lead_status: Option<String>,
    /// Temperature (default `warm`).
    #[serde(default)]
    pub lead_temperature: Option<String>,
    /// Score 0–100.
    #[serde(default)]
    pub lead_score: Option<i32>,
    /// Services asked about.
    #[serde(default, alias = "services_interested")]
    pub service_interests: Vec<String>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Company (seed 002), at most 200 characters.
    #[serde(default)]
    pub company: Option<String>,
}

/// Body of `PATCH /api/contacts/{id}`: fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatchRequest {
    /// Name.
    #[serde(default, alias = "contact_name")]
    pub name: Option<String>,
    /// Phone.
    #[serde(default, alias = "phone_number")]
    pub phone: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Status (forward only: `new → contacted → booked | lost`).
    #[serde(default)]
    pub lead_status: Option<String>,
    /// Temperature.
    #[serde(default)]
    pub lead_temperature: Option<String>,
    /// Score.
    #[serde(default)]
    pub lead_score: Option<i32>,
    /// Services asked about.
    #[serde(default, alias = "services_interested")]
    pub service_interests: Option<Vec<String>>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// Company; an empty string clears it.
    #[serde(default)]
    pub company: Option<String>,
}

/// Query of the contact list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ContactListQuery {
    /// Substring of name, phone, email or company.
    pub search: Option<String>,
    /// Status filter.
    pub lead_status: Option<String>,
    /// Temperature filter.
    pub lead_temperature: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
    /// Default 0.
    pub offset: Option<i64>,
}

/// `GET /api/contacts/stats` (seed names plus the old ones).
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactStatsResponse {
    /// All contacts.
    pub total_leads: i64,
    /// Hot.
    pub hot_leads: i64,
    /// Warm.
    pub warm_leads: i64,
    /// Cold.
    pub cold_leads: i64,
    /// Old name of `total_leads`.
    pub total: i64,
    /// Old name of `hot_leads`.
    pub hot: i64,
    /// Old name of `warm_leads`.
    pub warm: i64,
    /// Old name of `cold_leads`.
    pub cold: i64,
}

/// Lists contacts.
#[utoipa::path(tag = "crm", security(("bearer" = [])), params(ContactListQuery),
    responses((status = 200, body = Success<ContactList>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/api/contacts")]
async fn list_contacts(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    query: web::Query<ContactListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let (limit, offset) = page(q.limit, q.offset, 50)?;
    let contact_query = ContactQuery {
        search: q.search,
        lead_status: q.lead_status,
        lead_temperature: q.lead_temperature,
    };
    let (rows, total) = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::contacts::list(tx, contact_query, db::Page { limit, offset }).await
        })
        .await?;
    Ok(reply::ok(ContactList {
        contacts: rows.into_iter().map(Into::into).collect(),
        pagination: Pagination::new(limit, offset, total),
    }))
}

/// Counts contacts by temperature.
#[utoipa::path(tag = "crm", security(("bearer" = [])), responses((status = 200, body = Success<ContactStatsResponse>)))]
#[get("/api/contacts/stats")]
async fn contact_stats(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let s = state
        .db
        .tenant(user.org_id, async |tx| crm::contacts::stats(tx).await)
        .await?;
    Ok(reply::ok(ContactStatsResponse {
        total_leads: s.total,
        hot_leads: s.hot,
        warm_leads: s.warm,
        cold_leads: s.cold,
        total: s.total,
        hot: s.hot,
        warm: s.warm,
        cold: s.cold,
    }))
}

/// Creates a contact (409 `phone_taken` when the number exists).
#[utoipa::path(tag = "crm", security(("bearer" = [])), request_body = ContactRequest,
    responses((status = 201, body = Success<ContactResponse>), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/contacts")]
async fn create_contact(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    body: Json<ContactRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let new_contact = NewContact {
        name: b.name,
        phone: b.phone,
        email: b.email,
        lead_status: b.lead_status,
        lead_temperature: b.lead_temperature,
        lead_score: b.lead_score,
        service_interests: b.service_interests,
        notes: b.notes,
        company: b.company,
    };
    let contact = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::contacts::create(tx, new_contact).await
        })
        .await?;
    Ok(reply::created(ContactResponse {
        contact: contact.into(),
    }))
}

/// One contact.
#[utoipa::path(tag = "crm", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Success<ContactResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/contacts/{id}")]
async fn get_contact(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let contact = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::contacts::get(tx, id.into_inner()).await
        })
        .await?;
    Ok(reply::ok(ContactResponse {
        contact: contact.into(),
    }))
}

/// Changes a contact.
#[utoipa::path(tag = "crm", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = ContactPatchRequest,
    responses((status = 200, body = Success<ContactResponse>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/api/contacts/{id}")]
async fn update_contact(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
    body: Json<ContactPatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let contact_patch = ContactPatch {
        name: b.name,
        phone: b.phone,
        email: b.email.map(Some),
        lead_status: b.lead_status,
        lead_temperature: b.lead_temperature,
        lead_score: b.lead_score,
        service_interests: b.service_interests,
        notes: b.notes.map(Some),
        company: b.company.map(Some),
        last_contacted_at: None,
    };
    let contact = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::contacts::update(tx, id.into_inner(), contact_patch).await
        })
        .await?;
    Ok(reply::ok(ContactResponse {
        contact: contact.into(),
    }))
}

/// Deletes a contact. Answers 204.
#[utoipa::path(tag = "crm", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
#[delete("/api/contacts/{id}")]
async fn delete_contact(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .db
        .tenant(user.org_id, async |tx| {
            crm::contacts::delete(tx, id.into_inner()).await
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A service as the API shows it: the stored service and its price in major units.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceBody {
    /// The service as stored.
    #[serde(flatten)]
    pub service: Service,
    /// Price in major units of `currency` (dollars for USD, yen for JPY), for display.
    pub price: f64,
}

/// Major units of an amount in minor units (two decimals, as for USD).
#[allow(clippy::cast_precision_loss)]
pub(crate) fn major_units(minor: i64) -> f64 {
    minor as f64 / 100.0
}

impl From<Service> for ServiceBody {
    fn from(service: Service) -> Self {
        Self {
            price: crm::money::to_major(service.price_minor, &service.currency),
            service,
        }
    }
}

/// `{ "success": true, "service": … }`
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceResponse {
    /// The service.
    pub service: ServiceBody,
}

/// `{ "success": true, "services": [...] }`
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceList {
    /// By name.
    pub services: Vec<ServiceBody>,
}

/// Body of `POST /api/services` and `PATCH /api/services/{id}` (all optional on PATCH).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRequest {
    /// Name.
    pub name: Option<String>,
    /// Price in minor units of `currency` (cents for USD, yen for JPY). On POST this or
    /// `price` is required.
    pub price_minor: Option<i64>,
    /// Price in major units of `currency` (the seed's field: 150.00 is $150), at most as many
    /// decimals as the currency has minor units. When sent with `price_minor` both must agree.
    pub price: Option<f64>,
    /// ISO 4217 (default USD).
    pub currency: Option<String>,
    /// Minutes (default 30).
    pub duration_minutes: Option<i32>,
    /// Keywords.
    pub keywords: Option<Vec<String>>,
    /// Offered (PATCH only).
    pub is_active: Option<bool>,
}

/// Lists services.
#[utoipa::path(tag = "crm", security(("bearer" = [])), responses((status = 200, body = Success<ServiceList>)))]
#[get("/api/services")]
async fn list_services(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
) -> Result<HttpResponse, ApiError> {
    let rows = state
        .db
        .tenant(user.org_id, async |tx| crm::services::list(tx).await)
        .await?;
    Ok(reply::ok(ServiceList {
        services: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Creates a service (managers and admins).
#[utoipa::path(tag = "crm", security(("bearer" = [])), request_body = ServiceRequest,
    responses((status = 201, body = Success<ServiceResponse>), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/services")]
async fn create_service(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    body: Json<ServiceRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let Some(name) = b.name else {
        return Err(ApiError::validation("name is required"));
    };
    let new_service = NewService {
        name,
        price: Price {
            minor: b.price_minor,
            major: b.price,
        },
        currency: b.currency,
        duration_minutes: b.duration_minutes,
        keywords: b.keywords.unwrap_or_default(),
    };
    let service = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::services::create(tx, new_service).await
        })
        .await?;
    Ok(reply::created(ServiceResponse {
        service: service.into(),
    }))
}

/// One service.
#[utoipa::path(tag = "crm", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = Success<ServiceResponse>), (status = 404, body = ErrorBody)))]
#[get("/api/services/{id}")]
async fn get_service(
    state: web::Data<AppState>,
    AuthUser(user): AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let service = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::services::get(tx, id.into_inner()).await
        })
        .await?;
    Ok(reply::ok(ServiceResponse {
        service: service.into(),
    }))
}

/// Changes a service (managers and admins).
#[utoipa::path(tag = "crm", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = ServiceRequest,
    responses((status = 200, body = Success<ServiceResponse>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/api/services/{id}")]
async fn update_service(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    id: web::Path<Uuid>,
    body: Json<ServiceRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let service_patch = ServicePatch {
        name: b.name,
        price: Price {
            minor: b.price_minor,
            major: b.price,
        },
        currency: b.currency,
        duration_minutes: b.duration_minutes,
        keywords: b.keywords,
        is_active: b.is_active,
    };
    let service = state
        .db
        .tenant(user.org_id, async |tx| {
            crm::services::update(tx, id.into_inner(), service_patch).await
        })
        .await?;
    Ok(reply::ok(ServiceResponse {
        service: service.into(),
    }))
}

/// Deletes a service (managers and admins). Answers 204.
#[utoipa::path(tag = "crm", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/services/{id}")]
async fn delete_service(
    state: web::Data<AppState>,
    RoleAtLeast(user): ManagerUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .db
        .tenant(user.org_id, async |tx| {
            crm::services::delete(tx, id.into_inner()).await
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    cfg.service(list_contacts)
        .service(contact_stats)
        .service(create_contact)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact)
        .service(list_services)
        .service(create_service)
        .service(get_service)
        .service(update_service)
        .service(delete_service);
}
