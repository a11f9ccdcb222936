//! Columns that hold a [`Named`] enum as text, mapped in this one place:
//! a row field of type `Stored<T>` reads and writes `T` by its name, and a
//! name `T` does not know is an error (a corrupt row), never a default.

use std::io::Write;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use shared_types::Named;

#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Stored<T: Named>(pub T);

impl<T: Named> FromSql<Text, Pg> for Stored<T> {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        let name = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
        T::from_name(&name).map(Stored).ok_or_else(|| {
            format!(
                "{name:?} is not a {} this service knows",
                std::any::type_name::<T>()
            )
            .into()
        })
    }
}

impl<T: Named + std::fmt::Debug> ToSql<Text, Pg> for Stored<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.name().as_bytes())?;
        Ok(IsNull::No)
    }
}
