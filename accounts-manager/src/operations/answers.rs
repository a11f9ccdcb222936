//! What a command's outcome or refusal answers over HTTP, in one place: the
//! wire forms of the ledger's records and the status of each answer.

use rust_decimal::Decimal;
use shared_types::accounts::{
    Account, AccountStatus, Reservation, ReservationStatus, Transaction, TransactionStatus,
    TransactionType, TransferBatchAnswer, ACCOUNT_CLOSED, ACCOUNT_FROZEN, ACCOUNT_UNFROZEN,
};
use shared_types::Named;

use crate::domain::commands::Outcome;
use chrono::{DateTime, Utc};

use crate::domain::posting::AccountState;
use crate::domain::records::{Opened, Order, Record};
use crate::domain::refusal::{Party, Refusal};
use crate::domain::RuleViolation;
use crate::error::ApiError;
use crate::operations::{reply, Reply};
use crate::store::books::NewAccountEvent;

/// `201` with the new account, transaction or reservation (`422` with the
/// transaction when the ledger refused it), `200` with a captured or released
/// reservation.
pub fn reply_to(outcome: Outcome) -> Result<Reply, ApiError> {
    match outcome {
        Outcome::Opened(opened) => reply(201, &account(&opened)),
        Outcome::Account(state) => reply(200, &standing(&state)?),
        Outcome::Moved {
            record,
            balances_after,
        } => {
            let status = if record.failure.is_some() { 422 } else { 201 };
            Ok(reply(status, &transaction(&record, balances_after))?
                .recording(record.kind.name(), record.status().name()))
        }
        Outcome::Batch { atomic, items } => {
            let failed = items.iter().any(|(record, _)| record.failure.is_some());
            let status = match (atomic, failed) {
                (true, false) => 201,
                (true, true) => 422,
                (false, _) => 200,
            };
            let items = items
                .iter()
                .map(|(record, balances)| transaction(record, *balances))
                .collect();
            let label = if failed {
                TransactionStatus::Failed
            } else {
                TransactionStatus::Success
            };
            Ok(reply(status, &TransferBatchAnswer { items })?
                .recording(TransactionType::Transfer.name(), label.name()))
        }
        Outcome::Order { order, created } => {
            // The transaction that brought the order where it is.
            let kind = match order.status {
                ReservationStatus::Reserved => TransactionType::Reservation,
                ReservationStatus::Captured => TransactionType::Capture,
                ReservationStatus::Released | ReservationStatus::Expired => {
                    TransactionType::Release
                }
            };
            let status = if created { 201 } else { 200 };
            Ok(reply(status, &reservation(&order))?
                .recording(kind.name(), TransactionStatus::Success.name()))
        }
    }
}

/// The error a refusal answers with.
pub fn error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::InBatch {
            index,
            party,
            refusal,
        } => {
            let place = party.map_or(Place::Transfer, |party| Place::Field(field(party)));
            at_transfer(index, place, error(*refusal))
        }
        Refusal::NoAccount(_)
        | Refusal::NoUserAccount(..)
        | Refusal::NoOrder(_)
        | Refusal::NoTransaction(_) => ApiError::NotFound(refusal.to_string()),
        Refusal::NotReversible { .. } => {
            RuleViolation::new("not_reversible", refusal.to_string()).into()
        }
        Refusal::ReversalExceedsOriginal { .. } => {
            RuleViolation::new("reversal_exceeds_original", refusal.to_string()).into()
        }
        Refusal::SameAccount => RuleViolation::new("same_account", refusal.to_string()).into(),
        Refusal::SameCurrency(_) => RuleViolation::new("same_currency", refusal.to_string()).into(),
        Refusal::InvalidConversion { .. } => {
            RuleViolation::new("invalid_amount", refusal.to_string()).into()
        }
        Refusal::CaptureExceedsReserved { .. } => {
            RuleViolation::new("capture_exceeds_reserved", refusal.to_string()).into()
        }
        Refusal::OrderTaken(_) => ApiError::Conflict {
            code: "order_already_reserved",
            message: refusal.to_string(),
        },
        Refusal::ReservationExpired(_) => ApiError::Conflict {
            code: "reservation_expired",
            message: refusal.to_string(),
        },
        Refusal::NotExpired(_) => ApiError::Conflict {
            code: "reservation_not_expired",
            message: refusal.to_string(),
        },
        Refusal::NotReserved { .. } => ApiError::Conflict {
            code: "reservation_not_reserved",
            message: refusal.to_string(),
        },
        Refusal::Standing { why, .. } => ApiError::Conflict {
            code: why.code(),
            message: refusal.to_string(),
        },
        Refusal::Inconsistent(_) => ApiError::internal(refusal.to_string()),
    }
}

/// Where in a batch's transfer an error is.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    /// The transfer as a whole: `transfers[3]: ...`.
    Transfer,
    /// One of its fields, which the message does not name:
    /// `transfers[3].to_account_id: ...`.
    Field(&'static str),
    /// One of its fields, which the message starts with (the route's reading
    /// of a request): `transfers[3].amount ...`.
    NamedInMessage,
}

/// The request field a party of a transfer is named by.
fn field(party: Party) -> &'static str {
    match party {
        Party::FromAccount => "from_account_id",
        Party::FromUser => "from_user_id",
        Party::ToAccount => "to_account_id",
        Party::ToUser => "to_user_id",
    }
}

/// An error about transfer `index` of a batch, named so at its `place`. The
/// one place a batch's failing transfer is named, whether its input was bad
/// or the ledger refused it.
pub fn at_transfer(index: usize, place: Place, error: ApiError) -> ApiError {
    let at = |message: String| match place {
        Place::Transfer => format!("transfers[{index}]: {message}"),
        Place::Field(field) => format!("transfers[{index}].{field}: {message}"),
        Place::NamedInMessage => format!("transfers[{index}].{message}"),
    };
    match error {
        ApiError::NotFound(message) => ApiError::NotFound(at(message)),
        ApiError::InvalidRequest(message) => ApiError::InvalidRequest(at(message)),
        ApiError::MalformedJson(message) => ApiError::MalformedJson(at(message)),
        ApiError::Rule(mut rule) => {
            rule.message = at(rule.message);
            ApiError::Rule(rule)
        }
        ApiError::Conflict { code, message } => ApiError::Conflict {
            code,
            message: at(message),
        },
        // About the request or the service, not one transfer.
        error @ (ApiError::Unauthorized
        | ApiError::MethodNotAllowed
        | ApiError::PayloadTooLarge
        | ApiError::IdempotencyKeyInFlight
        | ApiError::IdempotencyKeyReused
        | ApiError::Unavailable(_)
        | ApiError::Internal(_)) => error,
    }
}

/// A recorded transaction on the wire; transfers also tell both balances
/// after the move, exchanges (and their reversals) their rate and conversion.
pub fn transaction(record: &Record, balances_after: Option<(Decimal, Decimal)>) -> Transaction {
    Transaction {
        transaction_id: record.id,
        kind: record.kind,
        status: record.status(),
        reason: record.failure.map(|r| r.code().to_owned()),
        amount: record.amount.value(),
        currency: record.currency.as_str().to_owned(),
        from_account_id: record.from,
        to_account_id: record.to,
        order_id: record.order.as_ref().map(|o| o.order_id.value()),
        service_id: record.order.as_ref().map(|o| o.service_id.value()),
        reference: record.reference.clone(),
        description: record.description.clone(),
        reverses: record.reverses,
        // Nothing reverses a transaction in the batch that makes it.
        reversed_amount: Decimal::ZERO,
        created_by: record.created_by.clone(),
        metadata: record.metadata.as_map().clone(),
        created_at: record.created_at,
        from_balance_after: balances_after.map(|(from, _)| from),
        to_balance_after: balances_after.map(|(_, to)| to),
        rate: record.exchange.as_ref().map(|e| e.rate.value()),
        converted_amount: record.exchange.as_ref().map(|e| e.amount.value()),
        converted_currency: record
            .exchange
            .as_ref()
            .map(|e| e.currency.as_str().to_owned()),
    }
}

/// An order's hold on the wire.
pub fn reservation(order: &Order) -> Reservation {
    Reservation {
        order_id: order.order.order_id.value(),
        account_id: order.account,
        service_id: order.order.service_id.value(),
        amount: order.amount.value(),
        captured_amount: order.captured.map(crate::domain::Amount::value),
        currency: order.currency.as_str().to_owned(),
        status: order.status,
        expires_at: order.expires_at,
        created_at: order.created_at,
        updated_at: order.updated_at,
    }
}

/// A user account whose standing changed, on the wire.
fn standing(state: &AccountState) -> Result<Account, ApiError> {
    Ok(Account {
        account_id: state.id,
        user_id: state
            .user_id
            .ok_or_else(|| ApiError::internal(format!("account {} has no user", state.id)))?,
        currency: state.currency.clone(),
        balance: state.balance,
        reserved: state.reserved,
        status: state.status,
        status_reason: state.status_reason.clone(),
        metadata: state.metadata.as_map().clone(),
        created_at: state.created_at,
    })
}

/// The event of an account whose standing a batch changed, at the batch's time.
pub fn account_event(
    at: DateTime<Utc>,
) -> impl Fn(&AccountState) -> Result<NewAccountEvent, ApiError> {
    move |state| {
        let kind = match state.status {
            AccountStatus::Active => ACCOUNT_UNFROZEN,
            AccountStatus::Frozen => ACCOUNT_FROZEN,
            AccountStatus::Closed => ACCOUNT_CLOSED,
        };
        Ok(NewAccountEvent {
            event_id: uuid::Uuid::now_v7(),
            kind,
            occurred_at: at,
            account: serde_json::to_value(standing(state)?).map_err(ApiError::internal)?,
        })
    }
}

/// An account just opened, on the wire.
fn account(opened: &Opened) -> Account {
    Account {
        account_id: opened.id,
        user_id: opened.user.value(),
        currency: opened.currency.as_str().to_owned(),
        balance: Decimal::ZERO,
        reserved: Decimal::ZERO,
        status: AccountStatus::Active,
        status_reason: None,
        metadata: opened.metadata.as_map().clone(),
        created_at: opened.created_at,
    }
}
