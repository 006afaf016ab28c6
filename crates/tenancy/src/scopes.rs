//! What an organization API key may do: a set of scopes, each `<area>:read` or `<area>:write`
//! (docs/integrating.md, "Scopes"). Every route of the REST API belongs to one area; a `GET`
//! (or a read such as a knowledge-base search) needs the area's read scope, anything else its
//! write scope. `write` includes `read` of the same area. There is no wildcard: the admin areas
//! (`team`, `apps`, `integrations`, `keys`) are only ever granted by naming them.

use std::fmt;
use std::str::FromStr;

use crate::TenancyError;

/// An area of the API, as scopes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    /// Calls, their analysis, transcripts, follow-up messages and shares.
    Calls,
    /// Contacts (leads) and call-backs.
    Contacts,
    /// Appointments, availability and scheduling settings.
    Appointments,
    /// The service catalogue.
    Services,
    /// Knowledge-base documents, search and settings.
    KnowledgeBase,
    /// The voice agents (assistants) and voice settings.
    Agents,
    /// Caller-ID verification and hybrid forwarding.
    Telephony,
    /// Users and roles (admin area).
    Team,
    /// Outbound webhook endpoints.
    Webhooks,
    /// The audit log.
    Audit,
    /// Provider credentials, write-only (admin area).
    Integrations,
    /// Apps, their keys and their CTI data: Dialpad calls, voicemails, user mappings (admin
    /// area).
    Apps,
    /// Organization API keys (admin area).
    Keys,
}

impl Area {
    /// Every area, in the order scopes are listed.
    pub const ALL: [Self; 13] = [
        Self::Calls,
        Self::Contacts,
        Self::Appointments,
        Self::Services,
        Self::KnowledgeBase,
        Self::Agents,
        Self::Telephony,
        Self::Team,
        Self::Webhooks,
        Self::Audit,
        Self::Integrations,
        Self::Apps,
        Self::Keys,
    ];

    /// The area's name in a scope string, for example `knowledge_base`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Calls => "calls",
            Self::Contacts => "contacts",
            Self::Appointments => "appointments",
            Self::Services => "services",
            Self::KnowledgeBase => "knowledge_base",
            Self::Agents => "agents",
            Self::Telephony => "telephony",
            Self::Team => "team",
            Self::Webhooks => "webhooks",
            Self::Audit => "audit",
            Self::Integrations => "integrations",
            Self::Apps => "apps",
            Self::Keys => "keys",
        }
    }

    const fn bit(self, access: Access) -> u32 {
        let base = 1u32 << (2 * self as u32);
        match access {
            Access::Read => base,
            Access::Write => base << 1,
        }
    }
}

/// Read or write access to an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    /// Reading (`GET`, searches, exports).
    Read,
    /// Any change.
    Write,
}

/// One scope: an area and an access, written `<area>:read` or `<area>:write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// The area.
    pub area: Area,
    /// The access.
    pub access: Access,
}

impl Scope {
    /// `area:read`.
    #[must_use]
    pub const fn read(area: Area) -> Self {
        Self {
            area,
            access: Access::Read,
        }
    }

    /// `area:write`.
    #[must_use]
    pub const fn write(area: Area) -> Self {
        Self {
            area,
            access: Access::Write,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = match self.access {
            Access::Read => "read",
            Access::Write => "write",
        };
        write!(f, "{}:{access}", self.area.name())
    }
}

impl FromStr for Scope {
    type Err = TenancyError;

    fn from_str(s: &str) -> Result<Self, TenancyError> {
        let unknown = || TenancyError::Invalid(format!("unknown scope `{s}`"));
        let (area, access) = s.split_once(':').ok_or_else(unknown)?;
        let area = Area::ALL
            .into_iter()
            .find(|a| a.name() == area)
            .ok_or_else(unknown)?;
        let access = match access {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => return Err(unknown()),
        };
        Ok(Self { area, access })
    }
}

/// A set of scopes, two bits per area. `Copy`, so a key's principal carries it freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u32);

impl Scopes {
    /// Parses scope strings; duplicates are kept once.
    ///
    /// # Errors
    /// [`TenancyError::Invalid`] naming the first unknown scope, or when `raw` is empty.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, TenancyError> {
        if raw.is_empty() {
            return Err(TenancyError::Invalid(
                "a key needs at least one scope".into(),
            ));
        }
        raw.iter().try_fold(Self(0), |set, s| {
            let scope: Scope = s.as_ref().parse()?;
            Ok(Self(set.0 | scope.area.bit(scope.access)))
        })
    }

    /// Whether `scope` is granted: `write` of an area also grants its `read`.
    #[must_use]
    pub const fn grants(self, scope: Scope) -> bool {
        let write = scope.area.bit(Access::Write);
        match scope.access {
            Access::Write => self.0 & write != 0,
            Access::Read => self.0 & (scope.area.bit(Access::Read) | write) != 0,
        }
    }

    /// Whether every scope of `self` is granted by `other` (a key may only create or rotate
    /// keys within its own reach).
    #[must_use]
    pub fn within(self, other: Self) -> bool {
        self.list().into_iter().all(|s| other.grants(s))
    }

    /// The scopes, in [`Area::ALL`] order, read before write.
    #[must_use]
    pub fn list(self) -> Vec<Scope> {
        Area::ALL
            .into_iter()
            .flat_map(|a| [Scope::read(a), Scope::write(a)])
            .filter(|s| self.0 & s.area.bit(s.access) != 0)
            .collect()
    }

    /// The scopes as strings, for storage and responses.
    #[must_use]
    pub fn names(self) -> Vec<String> {
        self.list().iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_round_trip_and_write_includes_read() {
        let set = Scopes::parse(&["contacts:write", "calls:read", "calls:read"]).unwrap();
        assert_eq!(set.names(), ["calls:read", "contacts:write"]);
        assert!(set.grants(Scope::read(Area::Contacts)));
        assert!(set.grants(Scope::write(Area::Contacts)));
        assert!(set.grants(Scope::read(Area::Calls)));
        assert!(!set.grants(Scope::write(Area::Calls)));
        assert!(!set.grants(Scope::read(Area::Team)));
        assert_eq!(Scopes::parse(&set.names()).unwrap(), set);
    }

    #[test]
    fn unknown_or_empty_scopes_are_refused() {
        for bad in [
            "contacts",
            "contacts:admin",
            "*:read",
            "everything:write",
            "",
        ] {
            assert!(Scopes::parse(&[bad]).is_err(), "{bad}");
        }
        assert!(Scopes::parse::<&str>(&[]).is_err());
    }

    #[test]
    fn within_compares_reach() {
        let mine = Scopes::parse(&["keys:write", "contacts:write"]).unwrap();
        assert!(Scopes::parse(&["contacts:read"]).unwrap().within(mine));
        assert!(!Scopes::parse(&["team:read"]).unwrap().within(mine));
    }
}
