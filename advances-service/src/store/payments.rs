//! The `payments` table: claims with a lease, outcomes, the scheduler's outbox.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text, Uuid as SqlUuid};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::advances::AdvanceRow;
use super::schema::payments;
pub use crate::domain::payments::Refused;
use crate::domain::payments::{self as domain, roll_over, OpenPayment, RollOver};
use crate::domain::{Installments, PlannedPayment};
use service_kit::stored::Stored;
use shared_types::accounts::TransactionId;
use shared_types::advances::{AdvanceId, Payment, PaymentId, PaymentJob, PaymentStatus};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = payments)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct PaymentRow {
    pub id: Uuid,
    pub advance_id: Uuid,
    pub seq: i32,
    pub amount: Decimal,
    pub due_at: DateTime<Utc>,
    pub status: Stored<PaymentStatus>,
    pub attempts: i32,
    pub lease_until: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub retry_after: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub transaction_id: Option<Uuid>,
    pub failure_reason: Option<String>,
}

impl PaymentRow {
    /// A new scheduled payment.
    pub fn scheduled(advance: AdvanceId, seq: i32, amount: Decimal, due_at: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            advance_id: advance.0,
            seq,
            amount,
            due_at,
            status: Stored(PaymentStatus::Scheduled),
            attempts: 0,
            lease_until: None,
            published_at: None,
            retry_after: None,
            paid_at: None,
            transaction_id: None,
            failure_reason: None,
        }
    }

    pub fn id(&self) -> PaymentId {
        PaymentId(self.id)
    }

    pub fn advance(&self) -> AdvanceId {
        AdvanceId(self.advance_id)
    }

    pub fn status(&self) -> PaymentStatus {
        self.status.0
    }

    /// The payment as the rules of payments see it.
    pub fn open(&self) -> OpenPayment {
        OpenPayment {
            id: self.id(),
            seq: self.seq,
            amount: self.amount,
            status: self.status(),
        }
    }

    pub fn to_wire(&self) -> Payment {
        Payment {
            payment_id: self.id(),
            seq: self.seq,
            amount: self.amount,
            due_at: self.due_at,
            status: self.status(),
            attempts: self.attempts,
            paid_at: self.paid_at,
            transaction_id: self.transaction_id.map(TransactionId),
        }
    }
}

pub fn find(conn: &mut PgConnection, id: PaymentId) -> QueryResult<Option<PaymentRow>> {
    payments::table
        .find(id.0)
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()
}

pub fn of_advance(conn: &mut PgConnection, advance: AdvanceId) -> QueryResult<Vec<PaymentRow>> {
    payments::table
        .filter(payments::advance_id.eq(advance.0))
        .order(payments::seq)
        .select(PaymentRow::as_select())
        .load(conn)
}

pub fn of_advances(
    conn: &mut PgConnection,
    advances: &[AdvanceId],
) -> QueryResult<Vec<PaymentRow>> {
    payments::table
        .filter(payments::advance_id.eq_any(advances.iter().map(|id| id.0)))
        .order((payments::advance_id, payments::seq))
        .select(PaymentRow::as_select())
        .load(conn)
}

/// Claims payments for one worker for `lease`: only a due payment of an
/// active advance that is scheduled (and past any retry wait), or whose
/// previous claimant's lease ran out, and only if it belongs to the advance
/// the job names. Of two workers claiming one payment at once, the second
/// waits on the row and then finds it taken. Returns the payments claimed.
pub fn claim_all(
    conn: &mut PgConnection,
    jobs: &[PaymentJob],
    lease: Duration,
) -> QueryResult<Vec<PaymentRow>> {
    let payments: Vec<Uuid> = jobs.iter().map(|job| job.payment_id.0).collect();
    let advances: Vec<Uuid> = jobs.iter().map(|job| job.advance_id.0).collect();
    diesel::sql_query(include_str!("payments/claim_all.sql"))
        .bind::<Array<SqlUuid>, _>(payments)
        .bind::<Array<SqlUuid>, _>(advances)
        .bind::<Double, _>(super::seconds(lease))
        .load(conn)
}

pub fn find_all(conn: &mut PgConnection, ids: &[PaymentId]) -> QueryResult<Vec<PaymentRow>> {
    payments::table
        .filter(payments::id.eq_any(ids.iter().map(|id| id.0)))
        .select(PaymentRow::as_select())
        .load(conn)
}

/// A payment [`mark_all_paid`] marked.
#[derive(QueryableByName)]
pub struct Marked {
    #[diesel(sql_type = SqlUuid)]
    pub advance_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub seq: i32,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub amount: Decimal,
}

/// Records collected payments, each with its accounts-manager transaction; a
/// payment no longer `processing` (another claimant, after our lease ran out,
/// recorded the same withdrawal) is left as it is. Answers the payments it
/// marked.
pub fn mark_all_paid(
    conn: &mut PgConnection,
    paid: &[(PaymentId, TransactionId)],
) -> QueryResult<Vec<Marked>> {
    if paid.is_empty() {
        return Ok(Vec::new());
    }
    let (payments, transactions): (Vec<Uuid>, Vec<Uuid>) = paid
        .iter()
        .map(|(payment, transaction)| (payment.0, transaction.0))
        .unzip();
    diesel::sql_query(include_str!("payments/mark_all_paid.sql"))
        .bind::<Array<SqlUuid>, _>(payments)
        .bind::<Array<SqlUuid>, _>(transactions)
        .load(conn)
}

/// Records a payment the account could not cover, and rolls its amount into
/// the next scheduled payment, or into a new payment one interval from now
/// when none is left. `false` if it was no longer `processing`.
pub fn mark_failed_and_roll_over(
    conn: &mut PgConnection,
    payment: &PaymentRow,
    reason: &str,
    interval: Duration,
) -> QueryResult<bool> {
    let failed = diesel::update(payments::table.find(payment.id))
        .filter(payments::status.eq(Stored(PaymentStatus::Processing)))
        .set((
            payments::status.eq(Stored(PaymentStatus::Failed)),
            payments::failure_reason.eq(reason),
            payments::lease_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)?;
    if failed == 0 {
        return Ok(false);
    }
    let next: Option<Uuid> = payments::table
        .filter(payments::advance_id.eq(payment.advance_id))
        .filter(payments::status.eq(Stored(PaymentStatus::Scheduled)))
        .filter(payments::seq.gt(payment.seq))
        .order(payments::seq)
        .select(payments::id)
        .for_update()
        .first(conn)
        .optional()?;
    let last_seq = last_seq(conn, payment.advance())?;
    match roll_over(
        &payment.open(),
        next.map(PaymentId),
        last_seq,
        Utc::now(),
        interval,
    ) {
        RollOver::Into { payment, amount } => {
            diesel::update(payments::table.find(payment.0))
                .set(payments::amount.eq(payments::amount + amount))
                .execute(conn)?;
        }
        RollOver::Append(planned) => insert(conn, payment.advance(), &planned)?,
    }
    Ok(true)
}

/// Gives a claimed payment back untouched after accounts-manager could not be
/// reached: it is scheduled again, to be published after `wait`.
pub fn release(conn: &mut PgConnection, payment: PaymentId, wait: Duration) -> QueryResult<()> {
    diesel::sql_query(include_str!("payments/release.sql"))
        .bind::<SqlUuid, _>(payment.0)
        .bind::<Double, _>(super::seconds(wait))
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Clone, QueryableByName)]
pub struct DueJob {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub advance_id: Uuid,
    /// The advance's trace context, which the job carries on.
    #[diesel(sql_type = Nullable<Text>)]
    pub traceparent: Option<String>,
}

/// Payments that need a job, locked (skipping rows another scheduler holds)
/// until the caller's transaction ends: due scheduled payments never published
/// or published longer than `republish_after` ago, and processing payments
/// whose claimant's lease ran out since their last job.
pub fn lock_due_for_publishing(
    conn: &mut PgConnection,
    republish_after: Duration,
    limit: i64,
) -> QueryResult<Vec<DueJob>> {
    diesel::sql_query(include_str!("payments/lock_due_for_publishing.sql"))
        .bind::<Double, _>(super::seconds(republish_after))
        .bind::<BigInt, _>(limit)
        .load(conn)
}

#[derive(QueryableByName)]
struct Age {
    #[diesel(sql_type = Double)]
    seconds: f64,
}

/// Seconds since the oldest uncollected due payment of an active advance
/// fell due; 0 when none is due.
pub fn oldest_due_age(conn: &mut PgConnection) -> QueryResult<f64> {
    diesel::sql_query(include_str!("payments/oldest_due_age.sql"))
        .get_result::<Age>(conn)
        .map(|age| age.seconds)
}

/// Notes that the broker confirmed jobs for these payments.
pub fn mark_published(conn: &mut PgConnection, ids: &[PaymentId]) -> QueryResult<()> {
    diesel::sql_query("UPDATE payments SET published_at = now() WHERE id = ANY($1)")
        .bind::<Array<SqlUuid>, _>(ids.iter().map(|id| id.0).collect::<Vec<_>>())
        .execute(conn)
        .map(|_| ())
}

/// An advance's plan as a change of it (payoff, reschedule) sees it, read
/// under the advance's lock (which every writer of its payments takes
/// first): the advance, its open payments, its last payment's number.
struct Plan {
    advance: AdvanceRow,
    open: Vec<OpenPayment>,
    last_seq: Option<i32>,
}

fn lock_plan(conn: &mut PgConnection, advance: AdvanceId) -> QueryResult<Option<Plan>> {
    use super::schema::advances;
    let row: Option<AdvanceRow> = advances::table
        .find(advance.0)
        .select(AdvanceRow::as_select())
        .for_update()
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    // Locked, so that a worker's claim still running (it does not take the
    // advance's lock) is waited for and its `processing` seen: read without
    // the lock, a payment being claimed looks `scheduled` and would be
    // cancelled while its money is withdrawn.
    let open: Vec<OpenPayment> = payments::table
        .filter(payments::advance_id.eq(advance.0))
        .filter(payments::status.eq_any([
            Stored(PaymentStatus::Scheduled),
            Stored(PaymentStatus::Processing),
        ]))
        .select(PaymentRow::as_select())
        .for_update()
        .load(conn)?
        .iter()
        .map(PaymentRow::open)
        .collect();
    let last_seq = last_seq(conn, advance)?;
    Ok(Some(Plan {
        advance: row,
        open,
        last_seq,
    }))
}

/// Cancels these payments if they are still scheduled (under the advance's
/// lock they are); answers how many.
fn cancel(conn: &mut PgConnection, ids: &[PaymentId]) -> QueryResult<usize> {
    diesel::update(
        payments::table
            .filter(payments::id.eq_any(ids.iter().map(|p| p.0)))
            .filter(payments::status.eq(Stored(PaymentStatus::Scheduled))),
    )
    .set(payments::status.eq(Stored(PaymentStatus::Cancelled)))
    .execute(conn)
}

/// Pays an advance off early, inside the caller's transaction, under the
/// advance's lock: its scheduled payments become `cancelled` and one payment
/// of their sum, due now, is appended. Answers how many were cancelled (none
/// when nothing was left scheduled).
pub fn pay_off(conn: &mut PgConnection, advance: AdvanceId) -> QueryResult<Result<usize, Refused>> {
    let Some(plan) = lock_plan(conn, advance)? else {
        return Ok(Err(Refused::NotActive));
    };
    let payoff = match domain::pay_off(plan.advance.status(), &plan.open, plan.last_seq, Utc::now())
    {
        Ok(payoff) => payoff,
        Err(refused) => return Ok(Err(refused)),
    };
    let cancelled = cancel(conn, &payoff.cancel)?;
    if let Some(due) = &payoff.due {
        insert(conn, advance, due)?;
    }
    Ok(Ok(cancelled))
}

/// Re-ages an advance, inside the caller's transaction, under the advance's
/// lock: its scheduled payments become `cancelled`, what they held is split
/// into `installments` new payments from `first_due_at` (or one interval
/// from now), and its missed chain ends. Answers how many were cancelled.
pub fn reschedule(
    conn: &mut PgConnection,
    advance: AdvanceId,
    installments: Installments,
    first_due_at: Option<DateTime<Utc>>,
) -> QueryResult<Result<usize, Refused>> {
    let Some(plan) = lock_plan(conn, advance)? else {
        return Ok(Err(Refused::NotActive));
    };
    let interval = plan.advance.interval();
    let first_due_at = match first_due_at {
        Some(at) => at,
        None => {
            match crate::domain::step(interval).and_then(|step| Utc::now().checked_add_signed(step))
            {
                Some(at) => at,
                None => return Ok(Err(Refused::Plan(crate::domain::past_the_calendar()))),
            }
        }
    };
    let reschedule = match domain::reschedule(
        plan.advance.status(),
        &plan.open,
        plan.last_seq,
        installments,
        first_due_at,
        interval,
    ) {
        Ok(reschedule) => reschedule,
        Err(refused) => return Ok(Err(refused)),
    };
    let cancelled = cancel(conn, &reschedule.cancel)?;
    let rows: Vec<PaymentRow> = reschedule
        .plan
        .iter()
        .map(|p| PaymentRow::scheduled(advance, p.seq, p.amount, p.due_at))
        .collect();
    diesel::insert_into(payments::table)
        .values(&rows)
        .execute(conn)?;
    super::advances::clear_overdue(conn, advance)?;
    Ok(Ok(cancelled))
}

/// The advance's last payment's number, if it has any.
fn last_seq(conn: &mut PgConnection, advance: AdvanceId) -> QueryResult<Option<i32>> {
    payments::table
        .filter(payments::advance_id.eq(advance.0))
        .select(diesel::dsl::max(payments::seq))
        .first(conn)
}

/// Adds a scheduled payment to the advance.
fn insert(
    conn: &mut PgConnection,
    advance: AdvanceId,
    planned: &PlannedPayment,
) -> QueryResult<()> {
    let row = PaymentRow::scheduled(advance, planned.seq, planned.amount, planned.due_at);
    diesel::insert_into(payments::table)
        .values(&row)
        .execute(conn)
        .map(|_| ())
}
