//! What a command's outcome or refusal answers over HTTP, in one place.

use shared_types::accounts::{
    ReservationStatus, TransactionStatus, TransactionType, TransferBatchAnswer,
};
use shared_types::Named;

use crate::domain::engine::{Outcome, Refusal};
use crate::domain::RuleViolation;
use crate::error::ApiError;
use crate::operations::{reply, Reply};

/// `201` with the new account, transaction or reservation (`422` with the
/// transaction when the ledger refused it), `200` with a captured or released
/// reservation.
pub fn reply_to(outcome: Outcome) -> Result<Reply, ApiError> {
    match outcome {
        Outcome::Opened(account) => reply(201, &account),
        Outcome::Moved {
            record,
            balances_after,
        } => {
            let mut wire = record.to_wire();
            if let Some((from, to)) = balances_after {
                wire.from_balance_after = Some(from);
                wire.to_balance_after = Some(to);
            }
            let status = if record.failure.is_some() { 422 } else { 201 };
            Ok(reply(status, &wire)?.recording(record.kind.name(), record.status().name()))
        }
        Outcome::Batch { atomic, items } => {
            let failed = items.iter().any(|(record, _)| record.failure.is_some());
            let status = match (atomic, failed) {
                (true, false) => 201,
                (true, true) => 422,
                (false, _) => 200,
            };
            let items: Vec<_> = items
                .into_iter()
                .map(|(record, balances)| {
                    let mut wire = record.to_wire();
                    if let Some((from, to)) = balances {
                        wire.from_balance_after = Some(from);
                        wire.to_balance_after = Some(to);
                    }
                    wire
                })
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
            Ok(reply(status, &order.to_wire())?
                .recording(kind.name(), TransactionStatus::Success.name()))
        }
    }
}

/// The error a refusal answers with.
pub fn error(refusal: Refusal) -> ApiError {
    match refusal {
        // One transfer's refusal is the batch's, its message naming the transfer.
        Refusal::InBatch {
            index,
            field,
            refusal,
        } => {
            let at = match field {
                Some(field) => format!("transfers[{index}].{field}"),
                None => format!("transfers[{index}]"),
            };
            match error(*refusal) {
                ApiError::NotFound(message) => ApiError::NotFound(format!("{at}: {message}")),
                ApiError::Rule(mut rule) => {
                    rule.message = format!("{at}: {}", rule.message);
                    ApiError::Rule(rule)
                }
                other => other,
            }
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
        Refusal::Inconsistent(_) => ApiError::internal(refusal.to_string()),
    }
}
