//! Counting a request's round trips to PostgreSQL (`pg_stat_statements`), for issue 22's
//! per-request budgets.

use gateway::test_support::TestGateway;

/// The request's own statements in this test's database since the last reset, counting
/// `BEGIN` with the tenant setting sent in the same round trip as one (`pg_stat_statements`,
/// top level). Excluded: this query itself, the fan-out's and listeners' reads, the coalesced
/// cross-instance wake-ups (`pg_notify('jobs')`, `NOTIFY`: at most one per 5-10 ms per
/// instance, sent by a spawned task after the commit, not per request). A SQL function's body
/// (`kb_keyword_hits`) is a nested statement, not a round trip: `toplevel` leaves it out.
pub fn round_trips_since_reset(gw: &TestGateway) -> i64 {
    let out = gw.database.psql_superuser(
        "SELECT coalesce(sum(calls) - sum(calls) FILTER (WHERE query ILIKE 'begin'), 0) \
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
            AND toplevel AND query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%realtime_events_%' \
            AND query NOT ILIKE 'LISTEN%' AND query <> 'SELECT $1' \
            AND query NOT ILIKE '%pg_notify%' AND query NOT ILIKE 'NOTIFY%'",
    );
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {out}"))
}

/// The statements counted by [`round_trips_since_reset`], for a failure message.
pub fn statements_since_reset(gw: &TestGateway) -> String {
    gw.database.psql_superuser(
        "SELECT calls || ' × ' || left(query, 120) FROM pg_stat_statements \
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
            AND toplevel AND query NOT ILIKE '%pg_stat_statements%'",
    )
}

pub fn reset_statements(gw: &TestGateway) {
    gw.database.psql_superuser(
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; \
         SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)",
    );
}

/// The measurement with the fewest round trips of several requests of one kind: on a loaded
/// machine one request may also pay for what a budget does not cover (a 1 s routing cache
/// expiring while the statistics are reset, the pool opening a connection), while a path that
/// always takes more still shows it.
pub fn fewest(measured: Vec<(i64, String)>) -> (i64, String) {
    measured
        .into_iter()
        .min_by_key(|m| m.0)
        .expect("at least one measurement")
}
