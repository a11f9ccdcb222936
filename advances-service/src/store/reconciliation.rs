//! What reconciliation reads and the reports it keeps.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Numeric, Text, Uuid as SqlUuid};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::reconciliation_reports;
use service_kit::stored::Stored;
use shared_types::advances::{AdvanceStatus, Mismatch, ReconciliationReport};

/// An advance's amount and its payments summed by status.
#[derive(Debug, Clone, QueryableByName)]
pub struct AdvanceSums {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub account_id: Uuid,
    #[diesel(sql_type = Text)]
    pub status: Stored<AdvanceStatus>,
    #[diesel(sql_type = Numeric)]
    pub amount: Decimal,
    /// paid + scheduled + processing
    #[diesel(sql_type = Numeric)]
    pub owed: Decimal,
    #[diesel(sql_type = Numeric)]
    pub paid: Decimal,
    #[diesel(sql_type = Numeric)]
    pub processing: Decimal,
}

impl AdvanceSums {
    pub fn collection(&self) -> crate::domain::Collection {
        crate::domain::Collection {
            paid: self.paid,
            processing: self.processing,
        }
    }
}

/// Every advance's sums, or only those of `only`.
pub fn advance_sums(
    conn: &mut PgConnection,
    only: Option<&[Uuid]>,
) -> QueryResult<Vec<AdvanceSums>> {
    // One snapshot, so a payment moving between statuses is counted once.
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            diesel::sql_query(include_str!("reconciliation/advance_sums.sql"))
                .bind::<Nullable<Array<SqlUuid>>, _>(only)
                .load(conn)
        })
}

pub fn save(conn: &mut PgConnection, report: &ReconciliationReport) -> QueryResult<()> {
    let mismatches = serde_json::to_value(&report.mismatches).unwrap_or_default();
    diesel::insert_into(reconciliation_reports::table)
        .values((
            reconciliation_reports::checked_at.eq(report.checked_at),
            reconciliation_reports::advances_checked.eq(report.advances_checked),
            reconciliation_reports::mismatches.eq(mismatches),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn latest(conn: &mut PgConnection) -> QueryResult<Option<ReconciliationReport>> {
    let row: Option<(DateTime<Utc>, i64, serde_json::Value)> = reconciliation_reports::table
        .order(reconciliation_reports::id.desc())
        .select((
            reconciliation_reports::checked_at,
            reconciliation_reports::advances_checked,
            reconciliation_reports::mismatches,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(checked_at, advances_checked, mismatches)| ReconciliationReport {
            checked_at,
            advances_checked,
            mismatches: serde_json::from_value::<Vec<Mismatch>>(mismatches).unwrap_or_default(),
        },
    ))
}
