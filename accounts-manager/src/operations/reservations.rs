//! Holds for orders: reserve (balance → reserved), capture (reserved →
//! revenue), release (reserved → balance). The reservation row is the state
//! machine; its row lock decides between a concurrent capture and release.

use shared_types::accounts::{AccountId, Reservation, ReservationStatus, TransactionType};

use super::accounts::not_found;
use super::movements::{execute, system_account, Notes, Transfer};
use super::{idempotent, reply, run, Idempotency, Reply};
use crate::domain::ledger::{AccountKind, Bucket};
use crate::domain::{Amount, OrderId, OrderRef, ServiceId};
use crate::error::ApiError;
use crate::store::reservations::ReservationRow;
use crate::store::{self, PgPool};

pub async fn reserve(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    account: AccountId,
    order: OrderRef,
    amount: Amount,
) -> Result<Reply, ApiError> {
    idempotent(pool, idempotency, move |conn| {
        if store::reservations::find(conn, order.order_id.value())?.is_some() {
            return Err(order_exists(order.order_id));
        }
        store::accounts::find_user_account(conn, account)?.ok_or_else(|| not_found(account))?;
        let outcome = execute(
            conn,
            Transfer {
                kind: TransactionType::Reservation,
                source: (account, Bucket::Balance),
                destination: (account, Bucket::Reserved),
                shown: (Some(account), None),
                amount,
                notes: &Notes::default(),
                order: Some(&order),
            },
        )?;
        if outcome.failed() {
            // Recorded as failed; the order id stays free for a later attempt.
            return outcome.reply(false);
        }
        let created_at = outcome.transaction.created_at;
        let row = ReservationRow {
            order_id: order.order_id.value(),
            account_id: account.0,
            service_id: order.service_id.value(),
            service_name: order.service_name.clone(),
            amount: amount.value(),
            currency: outcome.transaction.currency.clone(),
            status: store::reservations::status_str(ReservationStatus::Reserved).to_owned(),
            created_at,
            updated_at: created_at,
        };
        // A concurrent reservation of the same order waits here for ours and
        // then finds the row: the loser rolls back everything it did.
        let inserted =
            store::reservations::insert(conn, &row)?.ok_or_else(|| order_exists(order.order_id))?;
        Ok(reply(201, &inserted.to_wire())?.recording("reservation", "success"))
    })
    .await
}

pub async fn capture(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    order_id: OrderId,
) -> Result<Reply, ApiError> {
    finish(pool, idempotency, order_id, ReservationStatus::Captured).await
}

pub async fn release(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    order_id: OrderId,
) -> Result<Reply, ApiError> {
    finish(pool, idempotency, order_id, ReservationStatus::Released).await
}

pub async fn get(pool: &PgPool, order_id: OrderId) -> Result<Reservation, ApiError> {
    run(pool, move |conn| {
        let row = store::reservations::find(conn, order_id.value())?
            .ok_or_else(|| no_reservation(order_id))?;
        Ok(row.to_wire())
    })
    .await
}

/// Captures or releases a `reserved` order; anything else is `409`.
async fn finish(
    pool: &PgPool,
    idempotency: Option<Idempotency>,
    order_id: OrderId,
    target: ReservationStatus,
) -> Result<Reply, ApiError> {
    idempotent(pool, idempotency, move |conn| {
        let row = store::reservations::lock(conn, order_id.value())?
            .ok_or_else(|| no_reservation(order_id))?;
        if row.status() != ReservationStatus::Reserved {
            return Err(ApiError::Conflict {
                code: "reservation_not_reserved",
                message: format!("order {order_id} is already {}", row.status),
            });
        }
        let account = AccountId(row.account_id);
        let amount = Amount::try_from(row.amount).map_err(ApiError::internal)?;
        let order = OrderRef {
            order_id,
            service_id: ServiceId::parse(row.service_id)?,
            service_name: row.service_name.clone(),
        };
        let (kind, destination, shown) = match target {
            ReservationStatus::Captured => (
                TransactionType::Capture,
                (
                    system_account(conn, AccountKind::Revenue, &row.currency, account)?,
                    Bucket::Balance,
                ),
                (Some(account), None),
            ),
            ReservationStatus::Released | ReservationStatus::Reserved => (
                TransactionType::Release,
                (account, Bucket::Balance),
                (None, Some(account)),
            ),
        };
        let outcome = execute(
            conn,
            Transfer {
                kind,
                source: (account, Bucket::Reserved),
                destination,
                shown,
                amount,
                notes: &Notes::default(),
                order: Some(&order),
            },
        )?;
        if outcome.failed() {
            // The reserved part always covers a reserved order; if it does not,
            // the books are wrong and nobody should be told "done".
            return Err(ApiError::internal(format!(
                "order {order_id}: the reserved part of account {account} does not cover {amount}"
            )));
        }
        let updated = store::reservations::finish(conn, order_id.value(), target)?;
        let kind = store::transactions::kind_str(kind);
        Ok(reply(200, &updated.to_wire())?.recording(kind, "success"))
    })
    .await
}

fn order_exists(order_id: OrderId) -> ApiError {
    ApiError::Conflict {
        code: "order_already_reserved",
        message: format!("order {order_id} already has a reservation"),
    }
}

fn no_reservation(order_id: OrderId) -> ApiError {
    ApiError::NotFound(format!("order {order_id} has no reservation"))
}
