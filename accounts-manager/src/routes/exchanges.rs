//! Exchanges between currencies.

use actix_web::{post, web, HttpRequest, HttpResponse};
use service_kit::auth::Caller;
use shared_types::accounts::{ExchangeRequest, Transaction};
use shared_types::ErrorBody;

use super::movements::notes;
use super::{parse_post, respond};
use crate::context::Context;
use crate::domain::commands::{Command, Exchange};
use crate::domain::{Amount, Rate};
use crate::error::ApiError;

/// Exchange money between two accounts of different currencies: `amount`
/// leaves `from_account_id` in its currency, `amount × rate` rounded half to
/// even to cents (`converted_amount`) reaches `to_account_id` in its own
/// (`converted_currency`). Each currency stays balanced through its `fx`
/// system account. The reversal of an exchange (all or part, its amount in
/// the `from` currency) uses the exchange's own rate.
///
/// Example (with `T='Authorization: Bearer dev-token'`):
/// ```sh
/// curl -H "$T" -H 'Content-Type: application/json' -d "{\"from_account_id\": \"$USD\", \"to_account_id\": \"$EUR\", \"amount\": \"100.00\", \"rate\": \"0.9215\"}" http://127.0.0.1:8080/api/v1/exchanges
/// ```
#[utoipa::path(
    tag = "money",
    request_body = ExchangeRequest,
    responses(
        (status = 201, description = "The money was exchanged (`type` exchange, with `rate`, `converted_amount`, `converted_currency`)", body = Transaction),
        (status = 400, description = "Malformed JSON, a wrong type or an unknown field", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key is in flight", body = ErrorBody),
        (status = 422, description = "Refused by the ledger (insufficient_funds, account_frozen, account_closed): the failed Transaction, which is recorded; or same_currency, invalid_amount (a bad amount, or one that converts to 0.00), invalid_rate: an ErrorBody, nothing recorded", body = crate::openapi::RefusedOrInvalid),
        (status = 503, body = ErrorBody),
    ),
    security(("bearer" = ["money:write"]))
)]
#[post("/exchanges")]
pub async fn create_exchange(
    state: web::Data<Context>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (request, idempotency) = parse_post::<ExchangeRequest>(&req, &body)?;
    let command = Command::Exchange(Exchange {
        from: request.from_account_id,
        to: request.to_account_id,
        amount: Amount::parse(&request.amount)?,
        rate: Rate::parse(&request.rate)?,
        notes: notes(
            request.description.as_deref(),
            request.reference.as_deref(),
            request.metadata.as_ref(),
        )?,
    });
    let reply = state
        .ledger
        .submit(command, idempotency, Caller::of(&req).name)
        .await?;
    Ok(respond(&state, reply))
}
