//! Who is calling the REST API: a signed-in user or an organization API key, as one type the
//! gateway's extractors hand to handlers. Everything is done in [`Caller::org_id`]'s tenant.

use db::OrgId;
use uuid::Uuid;

use crate::audit::{Actor, ChangedBy, RequestOrigin};
use crate::org_keys::KeyPrincipal;
use crate::sessions::UserPrincipal;
use crate::users::Role;

/// An authenticated caller of the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The tenant.
    pub org_id: OrgId,
    /// The user's role. A key's reach is its scopes, which the gateway checks per route before
    /// the handler runs; within a route it has an admin's reach.
    pub role: Role,
    /// The user or the key.
    pub actor: Actor,
    /// The user's session; none for a key.
    pub session_id: Option<Uuid>,
}

impl Caller {
    /// The id recorded as "who did it" (`created_by`, `performed_by`, …): the user's or the
    /// key's id (both UUIDv4, so they never collide; [`Caller::actor`] says which).
    #[must_use]
    pub fn actor_id(&self) -> Uuid {
        self.actor.id().unwrap_or_default()
    }

    /// This caller acting from `origin`, as audited operations record it.
    #[must_use]
    pub fn changed_by(&self, origin: RequestOrigin) -> ChangedBy {
        ChangedBy {
            actor: self.actor,
            origin,
        }
    }

    /// The signed-in user, if the caller is one.
    #[must_use]
    pub fn user_id(&self) -> Option<Uuid> {
        match self.actor {
            Actor::User(id) => Some(id),
            _ => None,
        }
    }
}

impl From<UserPrincipal> for Caller {
    fn from(user: UserPrincipal) -> Self {
        Self {
            org_id: user.org_id,
            role: user.role,
            actor: Actor::User(user.user_id),
            session_id: Some(user.session_id),
        }
    }
}

impl From<KeyPrincipal> for Caller {
    fn from(key: KeyPrincipal) -> Self {
        Self {
            org_id: key.org_id,
            role: Role::Admin,
            actor: Actor::ApiKey(key.key_id),
            session_id: None,
        }
    }
}
