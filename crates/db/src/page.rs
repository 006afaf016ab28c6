//! One page of a list: how many rows and how many skipped.

/// `limit` and `offset` of a page of a list query, checked by the caller (the API allows
/// `limit` 1–500 and `offset` ≥ 0); rows are counted, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}
