//! The job runner: every background queue and periodic task of the platform runs on it
//! (decision 38).
//!
//! - [`enqueue`] writes a job **in the caller's tenant transaction**, so the job exists exactly
//!   when the change that needs it committed. After the commit the caller calls
//!   [`Waker::wake`]: local workers wake at once, other instances through one coalesced
//!   `NOTIFY jobs` (never a `NOTIFY` inside the writing transaction, which would take
//!   PostgreSQL's global notify lock at every commit).
//! - [`Runner`] workers claim due jobs in batches (`jobs_claim`: `FOR UPDATE SKIP LOCKED`, a
//!   lease), run each through the handler registered for its kind, and delete it when done. A
//!   job whose worker died is claimed again when its lease expires: execution is at least once,
//!   so a handler makes its effect idempotent, or records it together with
//!   [`Job::complete`] in one transaction (exactly-once effect).
//! - A kind registered with [`Runner::register_batched`] also has a batch handler: the jobs of
//!   one claim that share its kind and organization run through it together, in enqueue order,
//!   in one transaction that completes them all ([`complete_batch`]); when the batch fails,
//!   each of its jobs runs through the kind's single-job handler, which keeps the retry and
//!   dead-letter policy per job.
//! - Jobs with the same [`NewJob::order_key`] within a kind run one at a time in enqueue order.
//! - A failure is retried after [`RetryPolicy::delay`] until the kind's attempts are used, then
//!   the job stays `dead` with its last error; [`Failure::Permanent`] dead-letters at once.
//! - [`RunnerHandle::shutdown`] stops claiming, lets running jobs finish within a grace period
//!   and releases claimed jobs not yet started.
//! - [`Runner::every`] registers a periodic task; `job_schedule_claim` lets exactly one instance
//!   run each due slot.

mod enqueue;
mod error;
mod job;
mod policy;
mod runner;
mod schedule;
mod schema;
mod waker;

pub use enqueue::{NewJob, enqueue, enqueue_all};
pub use error::JobError;
pub use job::{Done, Failure, Job, complete_batch};
pub use policy::RetryPolicy;
pub use runner::{Runner, RunnerConfig, RunnerHandle};
pub use waker::Waker;

/// The `NOTIFY` channel that wakes the workers of every instance.
pub const CHANNEL: &str = "jobs";
