//! Reading the ledger: an account's history, the recent-transactions report
//! and the monthly revenue CSV.

use std::time::Duration;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use service_kit::listing::{foreign_snapshot, Key, Position};
use shared_types::accounts::{AccountId, Page, Transaction};
use tokio::sync::mpsc;

use super::accounts::not_found;
use super::{csv, run};
use crate::domain::month::csv_field;
use crate::domain::{Currency, Month, RuleViolation, Snapshot, SortKey, SortOrder};
use crate::error::ApiError;
use crate::store::transactions::{RowKey, Search, Start, TransactionRow};
use crate::store::{self, PgPool};

/// What a listing of transactions is sorted by, as its cursors name it.
pub fn history_listing(account: AccountId, sort: SortKey, order: SortOrder) -> String {
    format!("history:{account}:{sort:?}:{order:?}")
}

pub async fn account_history(
    pool: &PgPool,
    account: AccountId,
    (sort, order): (SortKey, SortOrder),
    position: Position,
) -> Result<Page<Transaction>, ApiError> {
    let start = start(&position)?;
    run(pool, move |conn| {
        store::accounts::find_user_account(conn, account)?.ok_or_else(|| not_found(account))?;
        let snapshot = Snapshot::read_at(conn, position.snapshot.clone(), None)?;
        let rows = store::transactions::account_history(
            conn,
            account,
            &snapshot.pg_snapshot,
            (sort, order),
            start,
            position.limit,
        )?;
        let (total, snapshot) = total_count(snapshot, &format!("history:{account}"), |s| {
            store::transactions::account_history_count(conn, account, s)
        })?;
        Ok(position.page(wire(&rows), total, &snapshot, key))
    })
    .await
}

/// Where a page of transactions starts.
fn start(position: &Position) -> Result<Start, RuleViolation> {
    position.start(|after| {
        Ok(RowKey {
            created_at: after.time(0)?,
            id: after.field(1)?,
            amount: after.field(2)?,
        })
    })
}

/// A transaction's key in every listing of transactions ([`start`] reads it back).
fn key(transaction: &Transaction) -> Key {
    Key::new([
        transaction.created_at.timestamp_micros().to_string(),
        transaction.transaction_id.0.to_string(),
        transaction.amount.to_string(),
    ])
}

/// What the report was asked for.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub status: Option<&'static str>,
    pub position: Position,
}

/// What the report lists, as its cursors name it (the window is in the snapshot).
pub fn report_listing(status: Option<&str>) -> String {
    format!("report:{}", status.unwrap_or("all"))
}

/// The whole ledger between `from` and `to`, oldest first. The first page
/// fixes the window (defaults: the report window back from now, and now) and
/// the snapshot, and counts the rows; all three travel in the `snapshot`
/// token, so later pages see the same set even as time passes and
/// transactions commit, and cost a page, not a count of the window.
pub async fn report(
    pool: &PgPool,
    query: ReportQuery,
    report_window: Duration,
) -> Result<Page<Transaction>, ApiError> {
    let now = Utc::now();
    let start = start(&query.position)?;
    let (window, pinned) = match &query.position.snapshot {
        Some(
            pinned @ Snapshot {
                window: Some((from, to)),
                ..
            },
        ) => {
            if query.from.is_some_and(|f| f != *from) || query.to.is_some_and(|t| t != *to) {
                return Err(RuleViolation::new(
                    "invalid_snapshot",
                    "from and to must be those of the snapshot's first page (or left out)",
                )
                .into());
            }
            ((*from, *to), Some(pinned.clone()))
        }
        Some(Snapshot { window: None, .. }) => return Err(foreign_snapshot().into()),
        None => {
            let earliest =
                now - chrono::Duration::from_std(report_window).map_err(ApiError::internal)?;
            let from = query.from.unwrap_or(earliest);
            let to = query.to.unwrap_or(now);
            if from < earliest {
                return Err(RuleViolation::new(
                    "outside_report_window",
                    format!(
                        "from may be at most {} back ({})",
                        humantime::format_duration(report_window),
                        shared_types::time::format(&earliest)
                    ),
                )
                .into());
            }
            if from > to {
                return Err(
                    RuleViolation::new("invalid_window", "from must not be after to").into(),
                );
            }
            ((from, to), None)
        }
    };
    run(pool, move |conn| {
        let snapshot = Snapshot::read_at(conn, pinned, Some(window))?;
        let filter = store::transactions::ReportFilter {
            window,
            status: query.status,
        };
        let position = &query.position;
        let rows = store::transactions::report(
            conn,
            filter,
            &snapshot.pg_snapshot,
            start,
            position.limit,
        )?;
        // The window is in the token already; the status is not, so it names the count.
        let (total, snapshot) = total_count(snapshot, &report_listing(query.status), |s| {
            store::transactions::report_count(conn, filter, s)
        })?;
        Ok(position.page(wire(&rows), total, &snapshot, key))
    })
    .await
}

/// A search of the whole ledger, newest first, by cursors. The first page
/// counts what it finds (a selective filter finds little).
pub async fn search(
    pool: &PgPool,
    search: Search,
    position: Position,
) -> Result<Page<Transaction>, ApiError> {
    let start = start(&position)?;
    run(pool, move |conn| {
        let snapshot = Snapshot::read_at(conn, position.snapshot.clone(), None)?;
        let rows = store::transactions::search(
            conn,
            &search,
            &snapshot.pg_snapshot,
            start,
            position.limit,
        )?;
        let (total, snapshot) = total_count(snapshot, position.listing(), |s| {
            store::transactions::search_count(conn, &search, s)
        })?;
        Ok(position.page(wire(&rows), total, &snapshot, key))
    })
    .await
}

/// A listing's `total_count` as of its snapshot, and the snapshot carrying
/// it: the count of a snapshot cannot change, so the first page counts
/// (`count`, given the Postgres snapshot) and later pages answer the count
/// their token carries for this listing.
pub(super) fn total_count(
    snapshot: Snapshot,
    listing: &str,
    count: impl FnOnce(&str) -> diesel::QueryResult<i64>,
) -> Result<(i64, Snapshot), ApiError> {
    let total = match snapshot.total_of(listing) {
        Some(total) => total,
        None => count(&snapshot.pg_snapshot)?,
    };
    Ok((total, snapshot.with_total(listing, total)))
}

fn wire(rows: &[TransactionRow]) -> Vec<Transaction> {
    rows.iter().map(TransactionRow::to_wire).collect()
}

/// The revenue CSV of a month, as a stream of chunks, from the revenue
/// rollup the ledger engine keeps up to date with every capture and refund:
/// one row per service and shard, whatever the month's traffic. The first
/// item is an error when the query could not run.
pub fn revenue_csv(
    pool: &PgPool,
    currency: Currency,
    month: Month,
) -> mpsc::Receiver<Result<Bytes, ApiError>> {
    csv::stream(
        pool,
        "service_id,service_name,revenue",
        move |conn, rows| {
            store::revenue::by_service(conn, currency.as_str(), month, |row| {
                let name = row
                    .service_name
                    .as_deref()
                    .map(csv_field)
                    .unwrap_or_default();
                rows.row(&format!("{},{},{:.2}", row.service_id, name, row.revenue))
            })
            .map_err(ApiError::from)
        },
    )
}

/// One transaction, as it stands (with what has been reversed of it).
pub async fn transaction(
    pool: &crate::store::PgPool,
    id: shared_types::accounts::TransactionId,
) -> Result<Transaction, ApiError> {
    run(pool, move |conn| {
        crate::store::transactions::find(conn, id)?
            .map(|row| row.to_wire())
            .ok_or_else(|| ApiError::NotFound(format!("transaction {id} does not exist")))
    })
    .await
}
