//! The `advances` table.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::payments::PaymentRow;
use super::schema::{advances, payments};
use service_kit::listing::Start;
use service_kit::stored::Stored;
use service_kit::trace::TraceParent;
use shared_types::accounts::{AccountId, TransactionId};
use shared_types::advances::{Advance, AdvanceId, AdvanceStatus, Payment, PaymentStatus};

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

    pub fn interval(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.interval_ms).unwrap_or(1))
    }

    /// The wire form, with its payments (ordered by `seq`).
    pub fn to_wire(&self, payments: &[PaymentRow]) -> Advance {
        let paid: Decimal = payments
            .iter()
            .filter(|p| p.status() == PaymentStatus::Paid)
            .map(|p| p.amount)
            .sum();
        Advance {
            advance_id: self.id(),
            account_id: self.account(),
            amount: self.amount,
            currency: self.currency.clone(),
            status: self.status(),
            installments: self.installments,
            created_by: self.created_by.clone(),
            paid,
            outstanding: self.amount - paid,
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
/// two transactions locking several never deadlock. Everything that finishes
/// a payment takes its advance's lock first, so "is it repaid now?" is
/// decided by one of them at a time.
pub fn lock_all(conn: &mut PgConnection, ids: &[AdvanceId]) -> QueryResult<()> {
    advances::table
        .filter(advances::id.eq_any(ids.iter().map(|id| id.0)))
        .order(advances::id)
        .select(advances::id)
        .for_update()
        .load::<Uuid>(conn)
        .map(|_| ())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// One page of an account's advances, newest first, as of a snapshot.
pub fn list_for_account(
    conn: &mut PgConnection,
    account: AccountId,
    snapshot: &str,
    start: Start<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<(Vec<AdvanceRow>, i64)> {
    const FILTER: &str =
        "account_id = $1 AND pg_visible_in_snapshot(xid::text::xid8, $2::pg_snapshot)";
    // $4 rows in, or after the key ($5, $6) of a cursor: the plan is made for
    // the values given, so either is a range of `advances_by_account`.
    let rows = diesel::sql_query(format!(
        "SELECT * FROM advances WHERE {FILTER} \
         AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::uuid)) \
         ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"
    ))
    .bind::<diesel::sql_types::Uuid, _>(account.0)
    .bind::<diesel::sql_types::Text, _>(snapshot)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(start.offset())
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>, _>(
        start.key().map(|k| k.0),
    )
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(start.key().map(|k| k.1))
    .load(conn)?;
    let total = diesel::sql_query(format!("SELECT count(*) AS n FROM advances WHERE {FILTER}"))
        .bind::<diesel::sql_types::Uuid, _>(account.0)
        .bind::<diesel::sql_types::Text, _>(snapshot)
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
