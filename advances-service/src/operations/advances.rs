//! Advances: create (record, then disburse through accounts-manager), read,
//! and the retries of disbursements accounts-manager did not answer.

use std::time::Duration;

use chrono::Utc;
use diesel::pg::PgConnection;
use diesel::Connection;
use rust_decimal::Decimal;
use service_kit::amount::Amount;
use service_kit::error::{classify, ApiError, DbFailure};
use service_kit::idempotency::{
    run_once, run_once_holding, stored_reply, Idempotency, IdempotencyKey, Reply,
};
use service_kit::idempotency_store;
use service_kit::listing::{Key, Position, Snapshot};
use service_kit::rule::RuleViolation;
use service_kit::stored::Stored;
use shared_types::accounts::AccountId;
use shared_types::accounts::Page;
use shared_types::advances::{Advance, AdvanceEventType, AdvanceId, AdvanceStatus};
use shared_types::error::ErrorBody;
use shared_types::Named;
use tracing::Instrument;
use uuid::Uuid;

use super::{run, run_job};

use crate::clients::accounts::{AccountsError, Movement, Origin};
use crate::context::Context;
use crate::domain::{self, Installments};
use crate::error::JobError;
use crate::store::advances::{self as advances_store, AdvanceRow};
use crate::store::events;
use crate::store::payments::{self as payments_store, PaymentRow, Refused};

/// How long an attempt to disburse keeps others from trying the same advance.
const DISBURSE_LEASE: Duration = Duration::from_secs(30);

/// A validated request for an advance.
pub struct NewAdvance {
    pub account: AccountId,
    pub amount: Amount,
    pub installments: Installments,
    /// The name of the API key that asked for it.
    pub created_by: String,
}

/// The answer to a request for an advance.
pub enum Created {
    /// This request's: `201` once the money is in the account, `202` while
    /// `disbursing`.
    New { status: u16, advance: Advance },
    /// An answer as stored under the request's Idempotency-Key: an earlier
    /// request's, replayed (an advance, or the `422` of one withdrawn since),
    /// or this request's refusal.
    Stored(Reply),
}

/// Creates an advance: `201` once the money is in the account, `202` while it
/// is still `disbursing` (accounts-manager did not answer; a retry will pay it
/// out exactly once). With an Idempotency-Key, a repeat gets the status and
/// body the first request answered, and `409 idempotency_key_in_flight` until
/// then: the advance is stored with its key (as `202`, in flight, in the
/// transaction that records it), and that answer is replaced by the final one
/// once the payout was tried. Should this request die before, a repeat after
/// the first attempt's lease gets the stored `202` (the advance is recorded
/// and its payout retried).
pub async fn create(
    ctx: &Context,
    idempotency: Option<Idempotency>,
    request: NewAdvance,
    origin: Origin<'_>,
) -> Result<Created, ApiError> {
    // A repeat is answered before accounts-manager is asked about the account
    // (whose answer may have changed since, or may be a refusal that was
    // stored).
    if let Some(idem) = idempotency.clone() {
        let stored = run(&ctx.pool, move |conn| stored_reply::<ApiError>(conn, &idem)).await?;
        if let Some(reply) = stored {
            return Ok(Created::Stored(reply));
        }
    }
    let currency = match ctx.accounts.account(request.account, origin).await {
        Ok(Some(account)) => Some(account.currency),
        // Stored under the key like any answer, so a repeat is replayed
        // (and the key not used again for another request).
        Ok(None) => {
            let Some(idem) = idempotency else {
                return Err(unknown_account(request.account).into());
            };
            let account = request.account;
            let reply = run(&ctx.pool, move |conn| {
                run_once(conn, Some(idem), |_| {
                    unknown_account_reply(account).map_err(ApiError::internal)
                })
            })
            .await?;
            return Ok(Created::Stored(reply));
        }
        // Not lost: recorded now, disbursed when accounts-manager answers; the
        // currency is the deposit's, unknown until then.
        Err(AccountsError::Unavailable(why)) => {
            tracing::warn!(account = %request.account, why, "accounts-manager unreachable; the advance will be disbursed later");
            None
        }
        Err(error @ AccountsError::Unexpected { .. }) => return Err(error.into()),
    };
    let created_at = Utc::now();
    let id = AdvanceId(Uuid::now_v7());
    let interval = ctx.settings.installment_interval;
    let plan = domain::schedule(request.amount, request.installments, created_at, interval)?;
    let advance = AdvanceRow {
        id: id.0,
        account_id: request.account.0,
        amount: request.amount.value(),
        currency,
        installments: request.installments.value(),
        status: Stored(AdvanceStatus::Disbursing),
        interval_ms: i64::try_from(interval.as_millis()).unwrap_or(i64::MAX),
        disbursement_transaction_id: None,
        disburse_attempts: 1,
        // The disbursement below is the first attempt; retries wait their turn.
        disburse_after: created_at + chrono::Duration::from_std(DISBURSE_LEASE).unwrap_or_default(),
        created_at,
        updated_at: created_at,
        created_by: request.created_by,
        traceparent: origin.trace.map(|trace| trace.as_str().to_owned()),
        idempotency_key: idempotency
            .as_ref()
            .map(|idem| idem.key.as_str().to_owned()),
        outstanding: request.amount.value(),
        missed_installments: 0,
        overdue_amount: Decimal::ZERO,
        overdue_since: None,
    };
    let schedule: Vec<PaymentRow> = plan
        .iter()
        .map(|p| PaymentRow::scheduled(id, p.seq, p.amount, p.due_at))
        .collect();
    let key = idempotency.as_ref().map(|idem| idem.key.clone());
    // The key stays in flight while the payout below is tried (at most the
    // first attempt's lease, should this request die on the way).
    let reply = run(&ctx.pool, move |conn| {
        run_once_holding(
            conn,
            idempotency,
            Some(DISBURSE_LEASE),
            |conn: &mut PgConnection| {
                advances_store::insert(conn, &advance, &schedule).map_err(
                    |error| match classify(&error) {
                        DbFailure::UniqueViolation => ApiError::Conflict {
                            code: "advance_in_progress",
                            message: format!(
                                "account {} already has an advance being repaid",
                                advance.account()
                            ),
                        },
                        DbFailure::NotFound
                        | DbFailure::CheckViolation(_)
                        | DbFailure::OutOfRange
                        | DbFailure::Unavailable
                        | DbFailure::Other => ApiError::from(error),
                    },
                )?;
                events::record(conn, &[(advance.id(), AdvanceEventType::AdvanceCreated)])?;
                Reply::new(202, &advance.to_wire(&schedule)).map_err(ApiError::internal)
            },
        )
    })
    .await?;
    if reply.replayed {
        return Ok(Created::Stored(reply));
    }
    let stored: Advance = serde_json::from_str(&reply.body).map_err(ApiError::internal)?;
    ctx.metrics.advances.with_label_values(&["created"]).inc();
    let row = run(&ctx.pool, move |conn| {
        Ok(advances_store::find(conn, stored.advance_id)?)
    })
    .await?;
    if let Some(row) = row {
        disburse(ctx, &row, origin).await?;
    }
    let advance = match get(ctx, stored.advance_id).await {
        // Withdrawn by the payout: the account does not exist after all.
        Err(ApiError::NotFound(_)) => return Err(unknown_account(stored.account_id).into()),
        found => found?,
    };
    let status = if advance.status == AdvanceStatus::Disbursing {
        202
    } else {
        201
    };
    if let Some(key) = key {
        let body = serde_json::to_string(&advance).map_err(ApiError::internal)?;
        run(&ctx.pool, move |conn| {
            Ok(idempotency_store::replace_answer(
                conn, &key, status, &body,
            )?)
        })
        .await?;
    }
    Ok(Created::New { status, advance })
}

/// Pays an advance out through a deposit whose Idempotency-Key is derived from
/// the advance, so however often this runs the money moves once. `true` when
/// the advance is now active.
pub async fn disburse(
    ctx: &Context,
    advance: &AdvanceRow,
    origin: Origin<'_>,
) -> Result<bool, JobError> {
    let id = advance.id();
    let key = domain::disbursement_key(id);
    let reference = domain::disbursement_reference(id);
    let description = format!(
        "advance {id} paid out, to be repaid in {} payments",
        advance.installments
    );
    let movement = Movement {
        account: advance.account(),
        amount: advance.amount,
        idempotency_key: &key,
        reference: &reference,
        description: &description,
        origin,
    };
    match ctx.accounts.deposit(&movement).await {
        Ok(transaction) => {
            let currency = transaction.currency.clone();
            let disbursed = run_job(&ctx.pool, move |conn| {
                conn.transaction(|conn| {
                    let disbursed = advances_store::mark_disbursed(
                        conn,
                        id,
                        transaction.transaction_id,
                        &currency,
                    )?;
                    if disbursed.is_some() {
                        events::record(conn, &[(id, AdvanceEventType::AdvanceActive)])?;
                    }
                    Ok(disbursed)
                })
            })
            .await?;
            if disbursed.is_some() {
                tracing::info!(advance_id = %id, "advance disbursed");
            }
            Ok(true)
        }
        Err(AccountsError::Unexpected { status: 404, .. }) => {
            withdraw_unknown(ctx, advance).await?;
            Ok(false)
        }
        Err(error) => {
            let wait = domain::retry_backoff(advance.disburse_attempts);
            match &error {
                AccountsError::Unavailable(_) => {
                    tracing::warn!(advance_id = %id, error = %error, retry_in_s = wait.as_secs(), "disbursement deferred")
                }
                AccountsError::Unexpected { .. } => {
                    tracing::error!(advance_id = %id, error = %error, retry_in_s = wait.as_secs(), "disbursement refused")
                }
            }
            run_job(&ctx.pool, move |conn| {
                Ok(advances_store::retry_disbursement_after(conn, id, wait)?)
            })
            .await?;
            Ok(false)
        }
    }
}

/// Withdraws an advance whose account accounts-manager says does not exist
/// (it was accepted while accounts-manager could not be reached): nothing
/// was paid out, so the advance and its payments go, and a repeat of the
/// request that made it gets the `422 unknown_account` it would have had.
async fn withdraw_unknown(ctx: &Context, advance: &AdvanceRow) -> Result<(), JobError> {
    let (id, account) = (advance.id(), advance.account());
    // A struct of two strings: serializing it cannot fail.
    let body = unknown_account_reply(account)
        .map(|reply| reply.body)
        .unwrap_or_default();
    let key = advance
        .idempotency_key
        .as_deref()
        .and_then(|key| IdempotencyKey::parse(key.as_bytes()).ok());
    let withdrawn = run_job(&ctx.pool, move |conn| {
        conn.transaction(|conn| {
            let withdrawn = advances_store::withdraw_unpaid(conn, id)?;
            if let (Some(_), Some(key)) = (&withdrawn, &key) {
                idempotency_store::replace_answer(conn, key, 422, &body)?;
            }
            Ok(withdrawn)
        })
    })
    .await?;
    if withdrawn.is_some() {
        tracing::error!(advance_id = %id, account = %account, "advance withdrawn: accounts-manager has no such account");
    }
    Ok(())
}

/// The answer stored under the key of a request for an advance whose account
/// does not exist.
fn unknown_account_reply(account: AccountId) -> Result<Reply, serde_json::Error> {
    let refusal = unknown_account(account);
    Reply::new(422, &ErrorBody::new(refusal.code, refusal.message))
}

fn unknown_account(account: AccountId) -> RuleViolation {
    RuleViolation::new(
        "unknown_account",
        format!("accounts-manager has no account {account}"),
    )
}

/// Disburses the advances whose earlier attempts did not get through; returns
/// how many were paid out.
pub async fn retry_disbursements(ctx: &Context) -> Result<usize, JobError> {
    let due = run_job(&ctx.pool, |conn| {
        Ok(advances_store::claim_disbursements(
            conn,
            DISBURSE_LEASE,
            100,
        )?)
    })
    .await?;
    let mut disbursed = 0;
    for advance in &due {
        let trace = advance.trace();
        let (span, trace) = service_kit::continued_span!(trace.as_ref(), "disbursement retry", advance_id = %advance.id);
        let origin = Origin {
            request_id: None,
            trace: trace.as_ref(),
        };
        if disburse(ctx, advance, origin).instrument(span).await? {
            disbursed += 1;
        }
    }
    Ok(disbursed)
}

pub async fn get(ctx: &Context, id: AdvanceId) -> Result<Advance, ApiError> {
    run(&ctx.pool, move |conn| {
        let advance = find_or_404(conn, id)?;
        let payments = payments_store::of_advance(conn, id)?;
        Ok(advance.to_wire(&payments))
    })
    .await
}

/// Which advances a listing shows.
#[derive(Debug, Clone, Copy)]
pub struct Filters {
    pub account: Option<AccountId>,
    /// `true`: only those with a missed installment; `false`: only those without.
    pub overdue: Option<bool>,
}

/// Advances, oldest first, snapshot-stable like every listing.
pub async fn list(
    ctx: &Context,
    filters: Filters,
    position: Position,
) -> Result<Page<Advance>, ApiError> {
    let start = position.start(Key::time_and_id)?;
    run(&ctx.pool, move |conn| {
        let snapshot = Snapshot::read_at(conn, position.snapshot.clone(), None)?;
        let (rows, total) = advances_store::list(
            conn,
            filters.account,
            filters.overdue,
            &snapshot.pg_snapshot,
            start,
            position.limit,
        )?;
        let ids: Vec<AdvanceId> = rows.iter().map(AdvanceRow::id).collect();
        let payments = payments_store::of_advances(conn, &ids)?;
        let items = rows
            .iter()
            .map(|row| {
                let own: Vec<PaymentRow> = payments
                    .iter()
                    .filter(|p| p.advance_id == row.id)
                    .cloned()
                    .collect();
                row.to_wire(&own)
            })
            .collect();
        Ok(position.page(items, total, &snapshot, |advance: &Advance| {
            Key::of_time_and_id(advance.created_at, advance.advance_id.0)
        }))
    })
    .await
}

/// How a change of an advance's plan was refused, as the API answers it.
fn refusal(id: AdvanceId, advance: &AdvanceRow, refused: Refused) -> ApiError {
    match refused {
        Refused::NotActive => ApiError::Conflict {
            code: "advance_not_active",
            message: format!("advance {id} is {}, not active", advance.status().name()),
        },
        Refused::PaymentInProgress => ApiError::Conflict {
            code: "payment_in_progress",
            message: format!(
                "a payment of advance {id} is being collected; try again when it is done"
            ),
        },
        Refused::Plan(rule) => rule.into(),
    }
}

/// Early repayment: the scheduled payments are cancelled and one payment of
/// their sum, due at once, is collected by the workers like any other.
/// `202` with the advance as it then stands.
pub async fn pay_off(
    ctx: &Context,
    idempotency: Option<Idempotency>,
    id: AdvanceId,
) -> Result<Reply, ApiError> {
    run(&ctx.pool, move |conn| {
        run_once(conn, idempotency, |conn: &mut PgConnection| {
            let before = find_or_404(conn, id)?;
            let cancelled =
                payments_store::pay_off(conn, id)?.map_err(|r| refusal(id, &before, r))?;
            events::record(
                conn,
                &vec![(id, AdvanceEventType::PaymentCancelled); cancelled],
            )?;
            let advance = find_or_404(conn, id)?;
            let payments = payments_store::of_advance(conn, id)?;
            Reply::new(202, &advance.to_wire(&payments)).map_err(ApiError::internal)
        })
    })
    .await
}

/// A validated request to re-age an advance.
pub struct Reaging {
    pub installments: Installments,
    /// When the first new payment is due; `None`: one interval from now.
    pub first_due_at: Option<chrono::DateTime<Utc>>,
}

/// Re-aging: the scheduled payments are cancelled, the outstanding amount is
/// split into a new plan and the missed chain ends, under the same locks as
/// a payoff (a payment being collected is waited for, then refused). `200`
/// with the advance as it then stands.
pub async fn reschedule(
    ctx: &Context,
    idempotency: Option<Idempotency>,
    id: AdvanceId,
    reaging: Reaging,
) -> Result<Reply, ApiError> {
    run(&ctx.pool, move |conn| {
        run_once(conn, idempotency, |conn: &mut PgConnection| {
            let before = find_or_404(conn, id)?;
            let cancelled =
                payments_store::reschedule(conn, id, reaging.installments, reaging.first_due_at)?
                    .map_err(|r| refusal(id, &before, r))?;
            let mut changes = vec![(id, AdvanceEventType::PaymentCancelled); cancelled];
            changes.push((id, AdvanceEventType::AdvanceRescheduled));
            events::record(conn, &changes)?;
            let advance = find_or_404(conn, id)?;
            let payments = payments_store::of_advance(conn, id)?;
            Reply::new(200, &advance.to_wire(&payments)).map_err(ApiError::internal)
        })
    })
    .await
}

fn find_or_404(conn: &mut PgConnection, id: AdvanceId) -> Result<AdvanceRow, ApiError> {
    advances_store::find(conn, id)?
        .ok_or_else(|| ApiError::NotFound(format!("advance {id} does not exist")))
}
