//! The double-entry self-check, computed by the database over every account.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Numeric, Text};
use rust_decimal::Decimal;

#[derive(Debug, QueryableByName)]
pub struct CurrencyAuditRow {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Numeric)]
    pub total: Decimal,
    #[diesel(sql_type = BigInt)]
    pub negative_accounts: i64,
    #[diesel(sql_type = BigInt)]
    pub entry_mismatches: i64,
}

pub fn audit(conn: &mut PgConnection) -> QueryResult<Vec<CurrencyAuditRow>> {
    // One consistent snapshot: balances and entries are read as of the same moment.
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| diesel::sql_query(include_str!("audit/audit.sql")).load(conn))
}
