//! PostgreSQL arrays as Rust lists.

use diesel::deserialize::{FromSql, FromSqlRow};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::{Array, Nullable, Text};

/// Reads a PostgreSQL `text[]` as a list of strings. Diesel types every array element as
/// nullable (`Array<Nullable<Text>>`, since PostgreSQL arrays may hold NULL); the columns read
/// through this carry a `CHECK (array_position(column, NULL) IS NULL)` (migration 000031), so
/// there is none to drop. For a row field: `#[diesel(deserialize_as = db::arrays::TextList)]`
/// on a `Vec<String>`.
#[derive(Debug, FromSqlRow)]
pub struct TextList(Vec<Option<String>>);

impl FromSql<Array<Nullable<Text>>, Pg> for TextList {
    fn from_sql(bytes: PgValue<'_>) -> diesel::deserialize::Result<Self> {
        <Vec<Option<String>> as FromSql<Array<Nullable<Text>>, Pg>>::from_sql(bytes).map(Self)
    }
}

impl From<TextList> for Vec<String> {
    fn from(list: TextList) -> Self {
        list.0.into_iter().flatten().collect()
    }
}
