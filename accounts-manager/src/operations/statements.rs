//! An account's statement over a period, as JSON pages with cursors or as
//! one streamed CSV.

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use service_kit::listing::{Key, Position};
use shared_types::accounts::{AccountId, Parts, Statement, StatementLine};
use tokio::sync::mpsc;

use super::accounts::not_found;
use super::{csv, run};
use crate::domain::month::csv_field;
use crate::domain::{RuleViolation, Snapshot};
use crate::error::ApiError;
use crate::store::statements::LineRow;
use crate::store::{self, PgPool};

/// A period: `from < to`.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// Both ends given, `from` before `to` (`422 invalid_period` otherwise).
    pub fn new(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Self, RuleViolation> {
        let invalid = |message: &str| RuleViolation::new("invalid_period", message);
        match (from, to) {
            (Some(from), Some(to)) if from < to => Ok(Self { from, to }),
            (Some(_), Some(_)) => Err(invalid("from must be before to")),
            _ => Err(invalid("a statement needs from and to (RFC 3339)")),
        }
    }

    fn bounds(self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.from, self.to)
    }
}

/// What a statement describes, as its cursors name it.
pub fn listing(account: AccountId, period: Period) -> String {
    format!(
        "statement:{account}:{}:{}",
        period.from.timestamp_micros(),
        period.to.timestamp_micros()
    )
}

fn line(row: &LineRow) -> StatementLine {
    StatementLine {
        transaction: row.transaction.to_wire(),
        balance_after: row.balance_after.unwrap_or_default(),
        reserved_after: row.reserved_after.unwrap_or_default(),
    }
}

/// One page of the statement; its figures and lines read in one snapshot
/// (repeatable read), so that `opening + in - out = closing` holds.
pub async fn page(
    pool: &PgPool,
    account: AccountId,
    period: Period,
    position: Position,
) -> Result<Statement, ApiError> {
    let start = position.start(Key::time_and_id)?;
    run(pool, move |conn| {
        conn.build_transaction()
            .repeatable_read()
            .read_only()
            .run(|conn| {
                let row = store::accounts::find_user_account(conn, account)?
                    .ok_or_else(|| not_found(account))?;
                let snapshot = Snapshot::read_at(conn, position.snapshot.clone(), None)?;
                let opening = parts_at(conn, account, period.from)?;
                let closing = parts_at(conn, account, period.to)?;
                let totals = store::statements::totals(
                    conn,
                    account,
                    &snapshot.pg_snapshot,
                    period.bounds(),
                    opening.balance,
                )?;
                let rows = store::statements::page(
                    conn,
                    account,
                    &snapshot.pg_snapshot,
                    period.bounds(),
                    start,
                    position.limit,
                )?;
                let items = rows.iter().map(line).collect();
                let page = position.page(items, totals.count, &snapshot, |l: &StatementLine| {
                    Key::of_time_and_id(l.transaction.created_at, l.transaction.transaction_id.0)
                });
                Ok(Statement {
                    account_id: account,
                    currency: row.currency,
                    from: period.from,
                    to: period.to,
                    opening,
                    closing,
                    money_in: totals.money_in,
                    money_out: totals.money_out,
                    count: totals.count,
                    items: page.items,
                    next: page.next,
                })
            })
    })
    .await
}

/// The account's parts at `at`, in constant time (the balance-at reading).
fn parts_at(
    conn: &mut diesel::PgConnection,
    account: AccountId,
    at: DateTime<Utc>,
) -> Result<Parts, ApiError> {
    let (balance, reserved) = store::accounts::parts_at(conn, account, at)?;
    Ok(Parts { balance, reserved })
}

/// The CSV's header row.
pub const CSV_HEADER: &str =
    "created_at,transaction_id,type,status,reason,amount,balance_after,reserved_after,reference,description";

/// How many lines one read of the CSV takes.
const CSV_BATCH: i64 = 1000;

/// Every line of the period as CSV, streamed: read in keyset batches inside
/// one repeatable-read transaction. The first item is an error when the
/// account does not exist or the query could not run.
pub fn csv(
    pool: &PgPool,
    account: AccountId,
    period: Period,
) -> mpsc::Receiver<Result<Bytes, ApiError>> {
    use shared_types::Named;
    csv::stream(pool, CSV_HEADER, move |conn, rows| {
        conn.build_transaction()
            .repeatable_read()
            .read_only()
            .run(|conn| {
                store::accounts::find_user_account(conn, account)?
                    .ok_or_else(|| not_found(account))?;
                let snapshot = Snapshot::read_at(conn, None, None)?;
                let mut start = service_kit::listing::Start::Offset(0);
                loop {
                    let batch = store::statements::page(
                        conn,
                        account,
                        &snapshot.pg_snapshot,
                        period.bounds(),
                        start,
                        CSV_BATCH,
                    )?;
                    for row in &batch {
                        let t = &row.transaction;
                        let text = |value: Option<&str>| value.map(csv_field).unwrap_or_default();
                        let line = format!(
                            "{},{},{},{},{},{:.2},{:.2},{:.2},{},{}",
                            shared_types::time::format(&t.created_at),
                            t.id,
                            t.kind.0.name(),
                            t.status.0.name(),
                            text(t.reason.as_deref()),
                            t.amount,
                            row.balance_after.unwrap_or_default(),
                            row.reserved_after.unwrap_or_default(),
                            text(t.reference.as_deref()),
                            csv_field(&t.description),
                        );
                        if !rows.row(&line) {
                            return Ok(());
                        }
                    }
                    match batch.last() {
                        Some(last) if batch.len() as i64 == CSV_BATCH => {
                            start = service_kit::listing::Start::After((
                                last.transaction.created_at,
                                last.transaction.id,
                            ));
                        }
                        _ => return Ok(()),
                    }
                }
            })
    })
}
