//! What handlers share.

/// Application state, one per worker (cheap clones).
#[derive(Debug, Clone)]
pub struct AppState {
    /// Pool as the runtime role.
    pub db: db::Db,
}
