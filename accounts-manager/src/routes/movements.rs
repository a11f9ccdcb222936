//! Moving money: deposits, withdrawals, transfers.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use service_kit::auth::Caller;
use shared_types::accounts::{
    AccountId, DepositRequest, Direction, ReversalRequest, Transaction, TransferBatchAnswer,
    TransferBatchRequest, TransferRequest, WithdrawalRequest,
};
use shared_types::ErrorBody;
use uuid::Uuid;

use super::{parse_post, respond};
use crate::context::Context;
use crate::domain::commands::{
    Command, Deposit, Notes, Reverse, Target, Transfer, TransferBatch, Withdrawal,
};
use crate::domain::{Amount, CallerText, Currency, Metadata, RuleViolation, UserId};
use crate::error::ApiError;
use crate::operations::answers::{at_transfer, Place};

/// The currency of a request's sides named by user (`USD` unless it names
/// one); a currency with no side named by user is `422 invalid_target`, as
/// an account's currency is its own.
pub struct ByUser(Currency);

impl ByUser {
    pub fn parse<const N: usize>(
        currency: Option<&str>,
        users: [Option<i64>; N],
    ) -> Result<Self, ApiError> {
        if currency.is_some() && users.iter().all(Option::is_none) {
            return Err(RuleViolation::new(
                "invalid_target",
                "currency goes with a side named by user; an account's currency is its own",
            )
            .into());
        }
        Ok(Self(Currency::parse_or_default(currency)?))
    }

    /// One side of a request: an account, or a user's oldest account of the
    /// currency; exactly one of the two.
    pub fn target(
        &self,
        account_field: &str,
        user_field: &str,
        account: Option<AccountId>,
        user: Option<i64>,
    ) -> Result<Target, ApiError> {
        match (account, user) {
            (Some(account), None) => Ok(Target::Account(account)),
            (None, Some(user)) => Ok(Target::User(
                UserId::parse_field(user_field, user)?,
                self.0.clone(),
            )),
            _ => Err(RuleViolation::new(
                "invalid_target",
                format!("{account_field} or {user_field}: give exactly one of the two"),
            )
            .into()),
        }
    }
}

/// A request's description, reference and metadata. Every error names its
/// field first (as a batch's answer relies on).
pub(super) fn notes(
    description: Option<&str>,
    reference: Option<&str>,
    metadata: Option<&serde_json::Value>,
) -> Result<Notes, RuleViolation> {
    Ok(Notes {
        description: CallerText::parse("description", description)?,
        reference: CallerText::parse("reference", reference)?,
        metadata: Metadata::parse(metadata)?,
    })
}

/// Deposit money from outside into an account, or into a user's account of a
/// currency (opened by the first deposit).
#[utoipa::path(
    tag = "money",
    request_body = DepositRequest,
    responses(
        (status = 201, description = "The money was deposited", body = Transaction),
        (status = 400, description = "Malformed JSON or wrong types", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "A bad amount, currency or target (ErrorBody)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["money:write"]))
)]
#[post("/deposits")]
pub async fn create_deposit(
    state: web::Data<Context>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<DepositRequest>(&req, &body)?;
    let amount = Amount::parse(&request.amount)?;
    let notes = notes(
        request.description.as_deref(),
        request.reference.as_deref(),
        request.metadata.as_ref(),
    )?;
    let by_user = ByUser::parse(request.currency.as_deref(), [request.user_id])?;
    let to = by_user.target("account_id", "user_id", request.account_id, request.user_id)?;
    let command = Command::Deposit(Deposit {
        to,
        opens: AccountId(Uuid::now_v7()),
        amount,
        notes,
    });
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}

/// Withdraw money from an account to the outside.
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -H 'Content-Type: application/json' -d '{"user_id": 3, "amount": "1.00"}' http://127.0.0.1:8080/api/v1/withdrawals
/// ```
#[utoipa::path(
    tag = "money",
    request_body = WithdrawalRequest,
    responses(
        (status = 201, description = "The money was withdrawn", body = Transaction),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "Refused by the ledger (insufficient_funds): the failed Transaction, which is recorded; or a bad input: an ErrorBody", body = crate::openapi::RefusedOrInvalid),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["money:write"]))
)]
#[post("/withdrawals")]
pub async fn create_withdrawal(
    state: web::Data<Context>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<WithdrawalRequest>(&req, &body)?;
    let amount = Amount::parse(&request.amount)?;
    let notes = notes(
        request.description.as_deref(),
        request.reference.as_deref(),
        request.metadata.as_ref(),
    )?;
    let by_user = ByUser::parse(request.currency.as_deref(), [request.user_id])?;
    let from = by_user.target("account_id", "user_id", request.account_id, request.user_id)?;
    let command = Command::Withdrawal(Withdrawal {
        from,
        amount,
        notes,
    });
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}

/// Transfer money between two accounts of the same currency. `direction`
/// `debit` (the default) moves from `from_account_id` to `to_account_id`,
/// `credit` the other way; the answer's `from_account_id` is always where the
/// money left.
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -H 'Content-Type: application/json' -d '{"from_user_id": 2, "to_user_id": 3, "amount": "5"}' http://127.0.0.1:8080/api/v1/transfers
/// ```
#[utoipa::path(
    tag = "money",
    request_body = TransferRequest,
    responses(
        (status = 201, description = "The money was transferred", body = Transaction),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "Refused by the ledger (insufficient_funds, currency_mismatch): the failed Transaction, which is recorded; or a bad input (same account, bad amount): an ErrorBody", body = crate::openapi::RefusedOrInvalid),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["money:write"]))
)]
#[post("/transfers")]
pub async fn create_transfer(
    state: web::Data<Context>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<TransferRequest>(&req, &body)?;
    let command = Command::Transfer(transfer(&request)?);
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}

/// A transfer as the engine takes it: sides resolved to targets, a `credit`
/// direction turned around.
/// A transfer's request read as a command. Every error names the field it is
/// about first (`amount \"1.001\" is not valid ...`), which a batch's answer
/// relies on ([`Place::NamedInMessage`]).
fn transfer(request: &TransferRequest) -> Result<Transfer, ApiError> {
    let amount = Amount::parse(&request.amount)?;
    let by_user = ByUser::parse(
        request.currency.as_deref(),
        [request.from_user_id, request.to_user_id],
    )?;
    let from = by_user.target(
        "from_account_id",
        "from_user_id",
        request.from_account_id,
        request.from_user_id,
    )?;
    let to = by_user.target(
        "to_account_id",
        "to_user_id",
        request.to_account_id,
        request.to_user_id,
    )?;
    let (from, to) = match request.direction.unwrap_or_default() {
        Direction::Debit => (from, to),
        Direction::Credit => (to, from),
    };
    let notes = notes(
        request.description.as_deref(),
        request.reference.as_deref(),
        request.metadata.as_ref(),
    )?;
    Ok(Transfer {
        from,
        to,
        amount,
        notes,
    })
}

/// The most transfers one batch may carry.
const MAX_BATCH: usize = 1000;

/// A thousand transfers are more than the other routes' 64 KiB: room for all
/// of them with every text at its longest (500 characters), however escaped
/// (up to 12 bytes a character).
const BATCH_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A batch as it arrives, its transfers as JSON: what the idempotency
/// fingerprint is taken of.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    atomic: Option<bool>,
    transfers: Vec<serde_json::Value>,
}

/// A batch's transfers, as the engine reads them.
#[derive(Deserialize)]
struct Transfers {
    transfers: Vec<TransferRequest>,
}

/// Transfers applied in order in one request: all or nothing (`atomic`, the
/// default: `201`, or `422` with every transfer recorded as failed, the ones
/// at fault with their own reason and the others `linked_transfer_failed`),
/// or each on its own (`"atomic": false`: `200`). A malformed transfer or an
/// unknown account refuses the whole request, the message naming its index.
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -H 'Content-Type: application/json' -H 'Idempotency-Key: batch-by-user-1' \
///   -d '{"transfers": [{"from_user_id": 2, "to_user_id": 3, "amount": "1"}, {"from_user_id": 3, "to_user_id": 2, "amount": "2"}]}' \
///   http://127.0.0.1:8080/api/v1/transfers/batch
/// ```
#[utoipa::path(
    tag = "money",
    request_body = TransferBatchRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; one key covers the whole batch")),
    responses(
        (status = 200, description = "Not atomic: each transfer made or recorded as failed", body = TransferBatchAnswer),
        (status = 201, description = "Atomic: every transfer was made", body = TransferBatchAnswer),
        (status = 400, description = "Malformed JSON, a wrong type or an unknown field (the message names the transfer, e.g. transfers[7])", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "An unknown account (the message names the transfer)", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "Atomic and a transfer was refused: every transfer recorded as failed (TransferBatchAnswer); or invalid_batch (none or more than 1000), a bad transfer (transfers[7].amount ...): an ErrorBody, nothing recorded", body = crate::openapi::BatchRefusedOrInvalid),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["money:write"]))
)]
#[post("/transfers/batch")]
pub async fn create_transfer_batch(
    state: web::Data<Context>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = body
        .to_bytes_limited(BATCH_BODY_LIMIT)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?
        .map_err(|e| ApiError::InvalidRequest(format!("the request body was not read: {e}")))?;
    let (request, idempotency) = parse_post::<BatchBody>(&req, &body)?;
    if request.transfers.is_empty() || request.transfers.len() > MAX_BATCH {
        return Err(RuleViolation::new(
            "invalid_batch",
            format!(
                "a batch has 1 to {MAX_BATCH} transfers, not {}",
                request.transfers.len()
            ),
        )
        .into());
    }
    // The transfers again, each as its own type and from the body itself:
    // a JSON number read back from a `serde_json::Value` is not always kept
    // exact, and an error names its transfer and field (`transfers[3].amount: ...`).
    let Transfers { transfers } = service_kit::http::parse_json(&body)?;
    let transfers = transfers
        .iter()
        .enumerate()
        .map(|(index, parsed)| {
            transfer(parsed).map_err(|e| at_transfer(index, Place::NamedInMessage, e))
        })
        .collect::<Result<_, _>>()?;
    let command = Command::TransferBatch(TransferBatch {
        atomic: request.atomic.unwrap_or(true),
        transfers,
    });
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}

/// Move money back the way a successful deposit, withdrawal, transfer,
/// capture or exchange moved it: all that is not reversed yet, or `amount`.
/// A capture's reversal is a refund: negative revenue of its service in the
/// month of the refund. An exchange's is at its own rate (`amount` in its
/// `from` currency, `converted_amount` what its `to` account pays back).
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -H 'Content-Type: application/json' -d '{"amount": "2.00"}' http://127.0.0.1:8080/api/v1/transactions/$TRANSACTION_ID/reversals
/// ```
#[utoipa::path(
    tag = "money",
    request_body(content = Option<ReversalRequest>, description = "Optional: `amount` (default: all that is not reversed yet), `description`, `reference`; an empty body reverses all", content_type = "application/json"),
    params(
        ("transaction_id" = uuid::Uuid, Path, description = "The transaction to reverse"),
    ),
    responses(
        (status = 201, description = "The reversal (`type` reversal, `reverses` the original)", body = Transaction),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such transaction", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "Refused by the ledger (insufficient_funds on the side that pays back): the failed Transaction, which is recorded; or not_reversible, reversal_exceeds_original, a bad amount (or part of an exchange that converts to 0.00: invalid_amount): an ErrorBody, nothing recorded", body = crate::openapi::RefusedOrInvalid),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["money:write"]))
)]
#[post("/transactions/{transaction_id}/reversals")]
pub async fn create_reversal(
    state: web::Data<Context>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let original = super::transaction_id(&path)?;
    let (request, idempotency) =
        service_kit::http::parse_optional_post::<ReversalRequest>(&req, &body)?;
    let amount = request.amount.as_ref().map(Amount::parse).transpose()?;
    let notes = notes(
        request.description.as_deref(),
        request.reference.as_deref(),
        request.metadata.as_ref(),
    )?;
    let command = Command::Reverse(Reverse {
        original,
        amount,
        notes,
    });
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}
