//! The `revenue_rollup` table: each service's revenue per currency and
//! month, kept by the ledger engine (`batch/write.sql`) with every capture
//! and refund, one row per system-account shard.

use diesel::pg::{PgConnection, PgRowByRowLoadingMode};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Numeric, Text};
use rust_decimal::Decimal;

use crate::domain::Month;

/// One service's revenue in a month.
#[derive(Debug, QueryableByName)]
pub struct RevenueRow {
    #[diesel(sql_type = BigInt)]
    pub service_id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    pub service_name: Option<String>,
    #[diesel(sql_type = Numeric)]
    pub revenue: Decimal,
}

/// Revenue per service in a month, the shards summed (a few rows per
/// service, whatever the month's traffic), read row by row. The name is the
/// latest one a capture gave the service.
pub fn by_service(
    conn: &mut PgConnection,
    currency: &str,
    month: Month,
    mut each: impl FnMut(RevenueRow) -> bool,
) -> QueryResult<()> {
    let rows = diesel::sql_query(include_str!("revenue/revenue_by_service.sql"))
        .bind::<Text, _>(currency)
        .bind::<Date, _>(month.first_day())
        .load_iter::<RevenueRow, PgRowByRowLoadingMode>(conn)?;
    for row in rows {
        if !each(row?) {
            break;
        }
    }
    Ok(())
}
