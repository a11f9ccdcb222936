//! The `advances` table.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Integer, Nullable, Numeric, Timestamptz};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::payments::PaymentRow;
use super::schema::{advances, payments};
use service_kit::listing::Start;
use service_kit::stored::Stored;
use service_kit::trace::TraceParent;
use shared_types::accounts::{AccountId, TransactionId};
use shared_types::advances::{Advance, AdvanceId, AdvanceStatus, Payment};

use crate::domain::overdue::Overdue;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = advances)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct AdvanceRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub amount: Decimal,
    /// The account's; `None` while accounts-manager has not told it (an
    /// advance made while it could not be reached, not yet paid out).
    pub currency: Option<String>,
    pub installments: i32,
    pub status: Stored<AdvanceStatus>,
    pub interval_ms: i64,
    pub disbursement_transaction_id: Option<Uuid>,
    pub disburse_attempts: i32,
    pub disburse_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The name of the API key that asked for the advance.
    pub created_by: String,
    /// The trace context of the request that made the advance (W3C
    /// `traceparent`), continued by its disbursement retries and payment jobs.
    pub traceparent: Option<String>,
    /// The Idempotency-Key of the request that made it, if it sent one.
    pub idempotency_key: Option<String>,
    /// The amount less its paid payments, kept with each collection.
    pub outstanding: Decimal,
    /// Its missed chain ([`Overdue`]), kept with each outcome.
    pub missed_installments: i32,
    pub overdue_amount: Decimal,
    pub overdue_since: Option<DateTime<Utc>>,
}

impl AdvanceRow {
    pub fn id(&self) -> AdvanceId {
        AdvanceId(self.id)
    }

    pub fn account(&self) -> AccountId {
        AccountId(self.account_id)
    }

    pub fn status(&self) -> AdvanceStatus {
        self.status.0
    }

    /// The trace the advance's later work continues.
    pub fn trace(&self) -> Option<TraceParent> {
        self.traceparent.as_deref().and_then(TraceParent::parse)
    }

    /// Its missed chain.
    pub fn overdue(&self) -> Overdue {
        Overdue {
            missed: self.missed_installments,
            amount: self.overdue_amount,
            since: self.overdue_since,
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.interval_ms).unwrap_or(1))
    }

    /// The wire form, with its payments (ordered by `seq`).
    pub fn to_wire(&self, payments: &[PaymentRow]) -> Advance {
        Advance {
            advance_id: self.id(),
            account_id: self.account(),
            amount: self.amount,
            currency: self.currency.clone(),
            status: self.status(),
            installments: self.installments,
            created_by: self.created_by.clone(),
            paid: self.amount - self.outstanding,
            outstanding: self.outstanding,
            missed_installments: self.missed_installments,
            overdue_amount: self.overdue_amount,
            overdue_since: self.overdue_since,
            created_at: self.created_at,
            payments: payments
                .iter()
                .map(PaymentRow::to_wire)
                .collect::<Vec<Payment>>(),
        }
    }
}

pub fn insert(
    conn: &mut PgConnection,
    advance: &AdvanceRow,
    schedule: &[PaymentRow],
) -> QueryResult<()> {
    diesel::insert_into(advances::table)
        .values(advance)
        .execute(conn)?;
    diesel::insert_into(payments::table)
        .values(schedule)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut PgConnection, id: AdvanceId) -> QueryResult<Option<AdvanceRow>> {
    advances::table
        .find(id.0)
        .select(AdvanceRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_all(conn: &mut PgConnection, ids: &[AdvanceId]) -> QueryResult<Vec<AdvanceRow>> {
    advances::table
        .filter(advances::id.eq_any(ids.iter().map(|id| id.0)))
        .select(AdvanceRow::as_select())
        .load(conn)
}

/// Locks these advances for the rest of the transaction, in id order, so that
/// two transactions locking several never deadlock, and answers them as
/// locked. Everything that finishes a payment takes its advance's lock
/// first, so "is it repaid now?" and the missed chain are decided by one of
/// them at a time (and the portfolio rollup's shard lock, taken by the
/// advance's first change, always after the advances' locks).
pub fn lock_all(conn: &mut PgConnection, ids: &[AdvanceId]) -> QueryResult<Vec<AdvanceRow>> {
    advances::table
        .filter(advances::id.eq_any(ids.iter().map(|id| id.0)))
        .order(advances::id)
        .select(AdvanceRow::as_select())
        .for_update()
        .load(conn)
}

/// What a batch of payment outcomes did to one (locked) advance.
pub struct Figures {
    pub advance: AdvanceId,
    /// What its payments collected.
    pub collected: Decimal,
    /// Its missed chain now.
    pub overdue: Overdue,
}

/// Stores what outcomes did to these advances: their outstanding amount
/// goes down by what was collected and their missed chain is replaced (the
/// portfolio rollup follows by trigger).
pub fn record_figures(conn: &mut PgConnection, figures: &[Figures]) -> QueryResult<()> {
    if figures.is_empty() {
        return Ok(());
    }
    let mut update = RecordFigures::default();
    for f in figures {
        update.ids.push(f.advance.0);
        update.collected.push(f.collected);
        update.missed.push(f.overdue.missed);
        update.overdue.push(f.overdue.amount);
        update.since.push(f.overdue.since);
    }
    update.execute(conn).map(|_| ())
}

service_kit::prepared_statement!(#[derive(Default)] RecordFigures {
    ids: Array<diesel::sql_types::Uuid> => Vec<Uuid>,
    collected: Array<Numeric> => Vec<Decimal>,
    missed: Array<Integer> => Vec<i32>,
    overdue: Array<Numeric> => Vec<Decimal>,
    since: Array<Nullable<Timestamptz>> => Vec<Option<DateTime<Utc>>>,
} = include_str!("advances/record_figures.sql"));

/// Ends an advance's missed chain (a reschedule).
pub fn clear_overdue(conn: &mut PgConnection, id: AdvanceId) -> QueryResult<()> {
    diesel::update(advances::table.find(id.0))
        .set((
            advances::missed_installments.eq(0),
            advances::overdue_amount.eq(Decimal::ZERO),
            advances::overdue_since.eq(None::<DateTime<Utc>>),
            advances::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .map(|_| ())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One page of advances, oldest first, as of a snapshot: an account's
/// (`advances_by_account`) or all (`advances_by_time`), the overdue ones only
/// (`advances_overdue`) or those not overdue.
pub fn list(
    conn: &mut PgConnection,
    account: Option<AccountId>,
    overdue: Option<bool>,
    snapshot: &str,
    start: Start<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<(Vec<AdvanceRow>, i64)> {
    // The account is bound either way (the plan is made for its value, so
    // `$2 IS NULL` folds away); `overdue` is written out, so that the
    // partial index's predicate is the query's own.
    let filter = format!(
        "pg_visible_in_snapshot(xid::text::xid8, $1::pg_snapshot) \
         AND ($2::uuid IS NULL OR account_id = $2){}",
        match overdue {
            Some(true) => " AND missed_installments > 0",
            Some(false) => " AND missed_installments = 0",
            None => "",
        }
    );
    let account = account.map(|a| a.0);
    // $3 rows in, or after the key ($4, $5) of a cursor.
    let rows = diesel::sql_query(format!(
        "SELECT * FROM advances WHERE {filter} \
         AND ($4::timestamptz IS NULL OR (created_at, id) > ($4, $5::uuid)) \
         ORDER BY created_at, id LIMIT $6 OFFSET $3"
    ))
    .bind::<diesel::sql_types::Text, _>(snapshot)
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(account)
    .bind::<BigInt, _>(start.offset())
    .bind::<Nullable<Timestamptz>, _>(start.key().map(|k| k.0))
    .bind::<Nullable<diesel::sql_types::Uuid>, _>(start.key().map(|k| k.1))
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    let total = diesel::sql_query(format!("SELECT count(*) AS n FROM advances WHERE {filter}"))
        .bind::<diesel::sql_types::Text, _>(snapshot)
        .bind::<Nullable<diesel::sql_types::Uuid>, _>(account)
        .get_result::<Count>(conn)?
        .n;
    Ok((rows, total))
}

/// Marks a disbursing advance paid out; `None` when it already was.
pub fn mark_disbursed(
    conn: &mut PgConnection,
    id: AdvanceId,
    transaction_id: TransactionId,
    currency: &str,
) -> QueryResult<Option<AdvanceRow>> {
    diesel::update(advances::table.find(id.0))
        .filter(advances::status.eq(Stored(AdvanceStatus::Disbursing)))
        .set((
            advances::status.eq(Stored(AdvanceStatus::Active)),
            advances::disbursement_transaction_id.eq(transaction_id.0),
            advances::currency.eq(currency),
            advances::updated_at.eq(diesel::dsl::now),
        ))
        .returning(AdvanceRow::as_returning())
        .get_result(conn)
        .optional()
}

/// Removes an advance still `disbursing` and its payments (nothing was paid
/// out or collected): one whose account accounts-manager says does not
/// exist. `None` when it is no longer disbursing.
pub fn withdraw_unpaid(conn: &mut PgConnection, id: AdvanceId) -> QueryResult<Option<AdvanceRow>> {
    let disbursing: Option<Uuid> = advances::table
        .find(id.0)
        .filter(advances::status.eq(Stored(AdvanceStatus::Disbursing)))
        .select(advances::id)
        .for_update()
        .first(conn)
        .optional()?;
    if disbursing.is_none() {
        return Ok(None);
    }
    diesel::delete(payments::table.filter(payments::advance_id.eq(id.0))).execute(conn)?;
    diesel::delete(advances::table.find(id.0))
        .returning(AdvanceRow::as_returning())
        .get_result(conn)
        .optional()
}

/// Takes up to `limit` advances whose disbursement is due for a retry, and
/// leases them for `lease`: another scheduler skips them meanwhile.
pub fn claim_disbursements(
    conn: &mut PgConnection,
    lease: Duration,
    limit: i64,
) -> QueryResult<Vec<AdvanceRow>> {
    diesel::sql_query(include_str!("advances/claim_disbursements.sql"))
        .bind::<Double, _>(super::seconds(lease))
        .bind::<BigInt, _>(limit)
        .load(conn)
}

/// Sets when the next disbursement attempt may run.
pub fn retry_disbursement_after(
    conn: &mut PgConnection,
    id: AdvanceId,
    wait: Duration,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE advances SET disburse_after = now() + make_interval(secs => $2) WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(id.0)
    .bind::<Double, _>(super::seconds(wait))
    .execute(conn)
    .map(|_| ())
}

/// Marks as repaid those of these (locked) advances whose payments are all
/// settled and whose paid payments add up to the advance; returns them.
pub fn mark_repaid_if_complete_all(
    conn: &mut PgConnection,
    ids: &[AdvanceId],
) -> QueryResult<Vec<AdvanceId>> {
    #[derive(QueryableByName)]
    struct Repaid {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let repaid: Vec<Repaid> =
        diesel::sql_query(include_str!("advances/mark_repaid_if_complete_all.sql"))
            .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(
                ids.iter().map(|id| id.0).collect::<Vec<_>>(),
            )
            .load(conn)?;
    Ok(repaid.into_iter().map(|r| AdvanceId(r.id)).collect())
}
