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
    conn.build_transaction().read_only().repeatable_read().run(|conn| {
        diesel::sql_query(
            "WITH posted AS ( \
                 SELECT account_id, \
                        COALESCE(SUM(amount) FILTER (WHERE bucket = 'balance'), 0) AS balance, \
                        COALESCE(SUM(amount) FILTER (WHERE bucket = 'reserved'), 0) AS reserved \
                 FROM entries GROUP BY account_id) \
             SELECT a.currency, \
                    SUM(a.balance + a.reserved) AS total, \
                    COUNT(*) FILTER (WHERE a.kind = 'user' AND (a.balance < 0 OR a.reserved < 0)) AS negative_accounts, \
                    COUNT(*) FILTER (WHERE a.balance <> COALESCE(p.balance, 0) \
                                        OR a.reserved <> COALESCE(p.reserved, 0)) AS entry_mismatches \
             FROM accounts a LEFT JOIN posted p ON p.account_id = a.id \
             GROUP BY a.currency ORDER BY a.currency",
        )
        .load(conn)
    })
}
