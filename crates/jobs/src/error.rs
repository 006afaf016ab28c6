//! Errors of the job runner's own operations.

use db::DbError;

/// Why enqueueing, claiming or recording a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The job's lease expired and another worker claimed it; this worker's result must not
    /// commit.
    #[error("the job's lease expired before it was recorded")]
    LeaseLost,
}

impl From<diesel::result::Error> for JobError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}
