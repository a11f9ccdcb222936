//! Moving money: deposits, withdrawals, transfers.

use actix_web::{web, HttpRequest, HttpResponse};
use service_kit::auth::Caller;
use shared_types::accounts::{
    AccountId, DepositRequest, Direction, Transaction, TransferRequest, WithdrawalRequest,
};
use shared_types::ErrorBody;
use uuid::Uuid;

use super::{parse_post, respond};
use crate::domain::engine::{Command, Notes, Target};
use crate::domain::{Amount, CallerText, Currency, RuleViolation, UserId};
use crate::error::ApiError;
use crate::startup::AppState;

fn notes(description: Option<&str>, reference: Option<&str>) -> Result<Notes, RuleViolation> {
    Ok(Notes {
        description: CallerText::parse("description", description)?,
        reference: CallerText::parse("reference", reference)?,
    })
}

/// Deposit money from outside into an account, or into a user's account of a
/// currency (opened by the first deposit).
#[utoipa::path(
    post, path = "/api/v1/deposits", tag = "money",
    request_body = DepositRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; replays the stored answer")),
    responses(
        (status = 201, description = "The money was deposited", body = Transaction),
        (status = 400, description = "Malformed JSON or wrong types", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "A bad amount, currency or target (ErrorBody)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_deposit(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<DepositRequest>(&req, &body)?;
    let amount = Amount::parse(&request.amount)?;
    let notes = notes(request.description.as_deref(), request.reference.as_deref())?;
    let to = match (request.account_id, request.user_id) {
        (Some(to), None) if request.currency.is_none() => Target::Account(to),
        (Some(_), None) => {
            return Err(RuleViolation::new(
                "invalid_target",
                "currency goes with user_id; an account's currency is its own",
            )
            .into())
        }
        (None, Some(user)) => Target::User {
            user: UserId::parse(user)?,
            currency: Currency::parse_or_default(request.currency.as_deref())?,
            opens: AccountId(Uuid::now_v7()),
        },
        _ => {
            return Err(RuleViolation::new(
                "invalid_target",
                "give exactly one of account_id and user_id",
            )
            .into());
        }
    };
    let command = Command::Deposit { to, amount, notes };
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}

/// Withdraw money from an account to the outside.
#[utoipa::path(
    post, path = "/api/v1/withdrawals", tag = "money",
    request_body = WithdrawalRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; replays the stored answer")),
    responses(
        (status = 201, description = "The money was withdrawn", body = Transaction),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "Refused by the ledger (insufficient_funds): the failed Transaction, which is recorded; or a bad input: an ErrorBody", body = Transaction),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_withdrawal(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<WithdrawalRequest>(&req, &body)?;
    let amount = Amount::parse(&request.amount)?;
    let notes = notes(request.description.as_deref(), request.reference.as_deref())?;
    let command = Command::Withdrawal {
        from: request.account_id,
        amount,
        notes,
    };
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
#[utoipa::path(
    post, path = "/api/v1/transfers", tag = "money",
    request_body = TransferRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1-255 printable ASCII; replays the stored answer")),
    responses(
        (status = 201, description = "The money was transferred", body = Transaction),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "Refused by the ledger (insufficient_funds, currency_mismatch): the failed Transaction, which is recorded; or a bad input (same account, bad amount): an ErrorBody", body = Transaction),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_transfer(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<TransferRequest>(&req, &body)?;
    let amount = Amount::parse(&request.amount)?;
    if request.from_account_id == request.to_account_id {
        return Err(
            RuleViolation::new("same_account", "a transfer needs two different accounts").into(),
        );
    }
    let (from, to) = match request.direction.unwrap_or_default() {
        Direction::Debit => (request.from_account_id, request.to_account_id),
        Direction::Credit => (request.to_account_id, request.from_account_id),
    };
    let notes = notes(request.description.as_deref(), request.reference.as_deref())?;
    let command = Command::Transfer {
        from,
        to,
        amount,
        notes,
    };
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}
