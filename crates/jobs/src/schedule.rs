//! Periodic tasks: run once per slot across instances.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use db::{Db, DbError, SystemOp};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Double, Text};
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

/// The runner's view of a periodic task: any `Fn() -> impl Future<Output = Result<(), String>>`.
pub(crate) trait Task: Send + Sync {
    fn run(&self) -> BoxFuture<'static, Result<(), String>>;
}

impl<F, Fut> Task for F
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    fn run(&self) -> BoxFuture<'static, Result<(), String>> {
        Box::pin(self())
    }
}

pub(crate) struct Schedule {
    pub(crate) name: &'static str,
    pub(crate) period: Duration,
    pub(crate) task: Box<dyn Task>,
}

#[derive(QueryableByName)]
struct Slot {
    #[diesel(sql_type = Bool)]
    due: bool,
}

impl Schedule {
    /// Takes the schedule's slot if it is due (moving the next run one period on) and runs the
    /// task; another instance seeing the same slot gets `false` and does nothing.
    pub(crate) async fn run_if_due(&self, db: &Db) {
        let (name, every) = (self.name, self.period.as_secs_f64());
        let slot: Result<Slot, DbError> = db
            .system(SystemOp::JobSchedule, async move |c| {
                diesel::sql_query("SELECT job_schedule_claim($1, $2) AS due")
                    .bind::<Text, _>(name)
                    .bind::<Double, _>(every)
                    .get_result(c)
                    .await
                    .map_err(DbError::Query)
            })
            .await;
        match slot {
            Ok(Slot { due: true }) => {}
            Ok(Slot { due: false }) => return,
            Err(e) => {
                tracing::warn!(schedule = name, error = %e, "cannot check a periodic task");
                return;
            }
        }
        let outcome = AssertUnwindSafe(self.task.run())
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err("the task panicked".into()));
        match outcome {
            Ok(()) => tracing::info!(schedule = name, "periodic task ran"),
            Err(e) => tracing::error!(schedule = name, error = %e, "periodic task failed"),
        }
    }
}
