//! HTTP routes, one module per area. Each module's `configure` registers its handlers with the
//! OpenAPI-collecting service config, so the document always matches the routes.

pub mod agents;
pub mod api_keys;
pub mod apps;
pub mod auth;
pub mod calls_dashboard;
pub mod crm;
pub mod cti;
pub mod health;
pub mod integrations;
pub mod internal;
pub mod knowledge_base;
pub mod messages;
pub mod scheduling;
pub mod softphone;
pub mod telephony;
pub mod users;
pub mod vapi;
pub mod webhook_endpoints;
pub mod webhooks;
pub mod ws;

pub use db::timestamp::iso;
use serde::Serialize;
use utoipa::ToSchema;

/// The seed's pagination block.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    /// Page size used.
    pub limit: i64,
    /// Offset used.
    pub offset: i64,
    /// Items in all.
    pub total: i64,
    /// Whether more items follow this page.
    pub has_more: bool,
}

impl Pagination {
    /// The block for a page of `limit` from `offset` out of `total`.
    #[must_use]
    pub fn new(limit: i64, offset: i64, total: i64) -> Self {
        Self {
            limit,
            offset,
            total,
            has_more: offset + limit < total,
        }
    }
}

/// Registers one area's routes.
pub type Configure = fn(&mut utoipa_actix_web::service_config::ServiceConfig<'_>);

/// Every area, by module name, in registration order. actix-web tries resources in that order
/// and matches each path with a parameter by regular expression, so the areas providers call
/// hundreds of times a second (Vapi, the Dialpad webhook) come first: a request there is
/// matched after a handful of tries instead of after every other area's (about 60 regular
/// expressions, 9% of the gateway's CPU when Dialpad events arrive at 1,500/s). No path of a
/// later area matches theirs, so the order changes nothing else.
pub const AREAS: &[(&str, Configure)] = &[
    ("health", health::configure),
    ("vapi", vapi::configure),
    ("webhooks", webhooks::configure),
    ("auth", auth::configure),
    ("users", users::configure),
    ("apps", apps::configure),
    ("internal", internal::configure),
    ("api_keys", api_keys::configure),
    ("cti", cti::configure),
    ("crm", crm::configure),
    ("scheduling", scheduling::configure),
    ("calls_dashboard", calls_dashboard::configure),
    ("messages", messages::configure),
    ("integrations", integrations::configure),
    ("telephony", telephony::configure),
    ("softphone", softphone::configure),
    ("agents", agents::configure),
    ("knowledge_base", knowledge_base::configure),
    ("webhook_endpoints", webhook_endpoints::configure),
    ("ws", ws::configure),
];

/// Registers every route.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    for (_, area) in AREAS {
        area(cfg);
    }
}

/// `limit` (1–500, default `default`) and `offset` (≥ 0, default 0) of a paged list.
///
/// # Errors
/// 400 `invalid_query` outside those bounds.
pub fn page(
    limit: Option<i64>,
    offset: Option<i64>,
    default: i64,
) -> Result<(i64, i64), crate::error::ApiError> {
    let (limit, offset) = (limit.unwrap_or(default), offset.unwrap_or(0));
    if !(1..=500).contains(&limit) || offset < 0 {
        return Err(crate::error::ApiError::bad_request(
            "invalid_query",
            "limit must be 1-500 and offset at least 0",
        ));
    }
    Ok((limit, offset))
}
