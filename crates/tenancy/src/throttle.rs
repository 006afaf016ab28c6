//! Sign-in throttling per account and per client address, shared by every gateway instance
//! through the `login_throttle` table. Keys are SHA-256 digests of `account:<email>` and
//! `address:<ip>`, so the table holds no email address. Fixed 15-minute windows: an account is
//! locked after 5 failures, an address after 20 (OWASP Authentication Cheat Sheet, "Account
//! Lockout": lock out after a small number of failures for a limited time).

use std::net::IpAddr;

use db::{Db, DbError, SystemOp};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bytea, Integer};
use diesel_async::RunQueryDsl;

use crate::TenancyError;
use crate::secrets::sha256;

/// Length of a throttling window, in seconds.
pub const WINDOW_SECS: i64 = 15 * 60;
/// Failures per account within a window before it is locked.
pub const ACCOUNT_LIMIT: i32 = 5;
/// Failures per client address within a window before it is locked.
pub const ADDRESS_LIMIT: i32 = 20;

/// The counters one sign-in attempt touches.
pub(crate) struct Subjects {
    keys: Vec<(Vec<u8>, i32)>,
}

impl Subjects {
    pub(crate) fn new(email: &str, address: Option<IpAddr>) -> Self {
        let mut keys = vec![(sha256(format!("account:{email}").as_bytes()), ACCOUNT_LIMIT)];
        if let Some(ip) = address {
            keys.push((sha256(format!("address:{ip}").as_bytes()), ADDRESS_LIMIT));
        }
        Self { keys }
    }

    fn account_key(&self) -> Vec<u8> {
        self.keys[0].0.clone()
    }
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = BigInt)]
    retry_after_secs: i64,
}

/// Fails with [`TenancyError::TooManyAttempts`] when any subject is over its limit.
pub(crate) async fn check(db: &Db, subjects: &Subjects) -> Result<(), TenancyError> {
    let (keys, limits): (Vec<Vec<u8>>, Vec<i32>) = subjects.keys.iter().cloned().unzip();
    let locked: Option<Locked> = db
        .system_read(SystemOp::LoginThrottle, async move |c| {
            diesel::sql_query(
                "SELECT max(ceil(extract(epoch FROM t.window_start + make_interval(secs => $3) - now())))::bigint \
                        AS retry_after_secs \
                   FROM login_throttle t \
                   JOIN unnest($1::bytea[], $2::int[]) AS s(key, max_failures) ON s.key = t.key \
                  WHERE t.window_start > now() - make_interval(secs => $3) \
                    AND t.failures >= s.max_failures \
                 HAVING count(*) > 0",
            )
            .bind::<Array<Bytea>, _>(keys)
            .bind::<Array<Integer>, _>(limits)
            .bind::<diesel::sql_types::Double, _>(WINDOW_SECS as f64)
            .get_result(c)
            .await
            .map(Some)
            .or_else(|e| match e {
                diesel::result::Error::NotFound => Ok(None),
                e => Err(DbError::from(e)),
            })
        })
        .await?;
    match locked {
        Some(l) => Err(TenancyError::TooManyAttempts {
            retry_after_secs: u64::try_from(l.retry_after_secs.max(1)).unwrap_or(1),
        }),
        None => Ok(()),
    }
}

/// Counts one failure against every subject (a new window starts when the old one is over), and
/// prunes counters whose window ended more than a day ago so the table stays small.
pub(crate) async fn record_failure(db: &Db, subjects: &Subjects) -> Result<(), TenancyError> {
    let keys: Vec<Vec<u8>> = subjects.keys.iter().map(|(k, _)| k.clone()).collect();
    db.system(SystemOp::LoginThrottle, async move |c| {
        diesel::sql_query("DELETE FROM login_throttle WHERE window_start < now() - interval '1 day'")
            .execute(c)
            .await?;
        diesel::sql_query(
            "INSERT INTO login_throttle AS t (key, window_start, failures) \
             SELECT k, now(), 1 FROM unnest($1::bytea[]) AS k \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN t.window_start <= now() - make_interval(secs => $2) THEN 1 ELSE t.failures + 1 END, \
               window_start = CASE WHEN t.window_start <= now() - make_interval(secs => $2) THEN now() ELSE t.window_start END",
        )
        .bind::<Array<Bytea>, _>(keys)
        .bind::<diesel::sql_types::Double, _>(WINDOW_SECS as f64)
        .execute(c)
        .await
        .map_err(DbError::from)
    })
    .await?;
    Ok(())
}

/// Clears the account's counter after a successful sign-in (the address counter stays).
pub(crate) async fn clear_account(db: &Db, subjects: &Subjects) -> Result<(), TenancyError> {
    let key = subjects.account_key();
    db.system(SystemOp::LoginThrottle, async move |c| {
        diesel::sql_query("DELETE FROM login_throttle WHERE key = $1")
            .bind::<Bytea, _>(key)
            .execute(c)
            .await
            .map_err(DbError::from)
    })
    .await?;
    Ok(())
}
