//! Which scope each route needs from an organization API key (docs/integrating.md, "Scopes").
//!
//! Every route a user reaches with a JWT belongs to an [`Area`] by its path; a `GET` needs the
//! area's read scope and any other method its write scope, except the few `POST`s that only
//! read ([`READS`]). Routes tied to a person (sign-in, the softphone, Google's consent screen)
//! are for users only. A route missing here is refused to keys: deny by default, and a test
//! checks that every route of the OpenAPI document is classified.

use actix_web::http::Method;
use tenancy::scopes::{Area, Scope};

/// Path prefixes and their areas, first match wins.
const AREAS: &[(&str, Area)] = &[
    ("/api/agents", Area::Agents),
    ("/api/voice-settings", Area::Agents),
    ("/api/appointments", Area::Appointments),
    ("/api/availability", Area::Appointments),
    ("/api/scheduling/", Area::Appointments),
    ("/api/apps", Area::Apps),
    ("/internal/apps/", Area::Apps),
    ("/api/calls-dashboard", Area::Calls),
    ("/api/messages", Area::Calls),
    ("/api/contacts", Area::Contacts),
    ("/api/integrations/", Area::Integrations),
    ("/api/knowledge-base/", Area::KnowledgeBase),
    ("/api/services", Area::Services),
    ("/api/telephony/", Area::Telephony),
    ("/api/users", Area::Team),
    ("/api/api-keys", Area::Keys),
    ("/api/audit-log", Area::Audit),
    ("/api/webhooks/", Area::Webhooks),
];

/// Routes only a signed-in user may call (they act as a person; `/ws` takes a user's token or
/// an app's key, not an organization key yet).
const USER_ONLY: &[&str] = &[
    "/ws",
    "/api/auth/",
    "/api/twilio/token",
    "/api/integrations/google/oauth/",
];

/// `POST` routes that only read (a search, an export).
const READS: &[&str] = &[
    "/api/knowledge-base/search",
    "/api/calls-dashboard/{callId}/transcript/export",
];

/// `GET` routes that need the write scope: reading a webhook signing secret lets its holder
/// forge messages, so it takes the same scope as changing the endpoint.
const SECRET_READS: &[&str] = &["/api/webhooks/endpoints/{id}/secret"];

/// Whether `method` may change something (anything but `GET`, `HEAD`, `OPTIONS`): what needs a
/// write scope, is audited when made with a key and may carry an `Idempotency-Key`.
#[must_use]
pub fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The scope a key needs for `method` on the route `pattern` (as actix matched it, for example
/// `/api/contacts/{id}`); `None` when keys may not call it at all.
#[must_use]
pub fn required_scope(method: &Method, pattern: &str) -> Option<Scope> {
    if USER_ONLY.iter().any(|p| pattern.starts_with(p)) {
        return None;
    }
    let area = AREAS
        .iter()
        .find(|(prefix, _)| pattern.starts_with(prefix))
        .map(|(_, area)| *area)?;
    Some(if SECRET_READS.contains(&pattern) {
        Scope::write(area)
    } else if !is_write(method) || READS.contains(&pattern) {
        Scope::read(area)
    } else {
        Scope::write(area)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_their_area_and_access() {
        let scope = |m: Method, p: &str| required_scope(&m, p).map(|s| s.to_string());
        assert_eq!(
            scope(Method::GET, "/api/contacts/{id}").as_deref(),
            Some("contacts:read")
        );
        assert_eq!(
            scope(Method::PATCH, "/api/contacts/{id}").as_deref(),
            Some("contacts:write")
        );
        assert_eq!(
            scope(Method::POST, "/api/knowledge-base/search").as_deref(),
            Some("knowledge_base:read")
        );
        assert_eq!(
            scope(
                Method::DELETE,
                "/internal/apps/{app_id}/voicemails/{voicemail_id}"
            )
            .as_deref(),
            Some("apps:write")
        );
        assert_eq!(scope(Method::GET, "/api/auth/me"), None);
        assert_eq!(
            scope(Method::GET, "/api/integrations/google/oauth/start"),
            None
        );
        assert_eq!(scope(Method::GET, "/api/unknown"), None);
    }
}

#[cfg(test)]
mod coverage {
    /// Every operation a user calls is classified: it needs a scope, or it is one of the few
    /// routes for people. A new route outside every area fails here until it is given one.
    #[test]
    fn every_user_route_has_a_scope_or_is_for_people_only() {
        let doc = serde_json::to_value(crate::app::openapi()).unwrap();
        let mut for_people = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let security = op["security"].as_array().cloned().unwrap_or_default();
                let user = security.iter().any(|s| s.get("bearer").is_some());
                let key = security.iter().any(|s| s.get("org_key").is_some());
                if user && !key {
                    for_people.push(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        for_people.sort();
        assert_eq!(
            for_people,
            [
                "GET /api/auth/me",
                "GET /api/integrations/google/oauth/start",
                "GET /api/twilio/token",
                "GET /ws",
                "POST /api/auth/logout",
            ]
        );
    }
}
