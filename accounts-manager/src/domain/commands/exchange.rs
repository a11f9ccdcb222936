//! Exchanges: money from an account of one currency into an account of
//! another at the caller's rate, and the way their reversals move it back.
//! Each currency stays balanced on its own: the money goes through the `fx`
//! system account of each currency (`from` → `fx` of its currency; `fx` of
//! the other currency → `to`), both legs in one transaction.

use shared_types::accounts::{AccountId, TransactionId, TransactionType};

use super::{moved, Names, Notes, Outcome, Rule};
use crate::domain::books::{Books, Lock, Maker};
use crate::domain::movement::{Conversion, Movement};
use crate::domain::posting::{AccountKind, Bucket};
use crate::domain::records::Original;
use crate::domain::refusal::Refusal;
use crate::domain::{Amount, Currency, Rate};

/// `amount` out of `from` in its currency, `amount × rate` (rounded half to
/// even to cents) into `to` in its own.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Amount,
    pub rate: Rate,
    pub notes: Notes,
}

impl Rule for Exchange {
    fn names(&self, _: &mut Names) {
        // Both sides are named by account: nothing to read by name first.
    }

    fn plan(&self, _: &mut Books) -> Vec<Lock> {
        locks(self.from, self.to)
    }

    /// Refused outright, recording nothing, when both accounts hold one
    /// currency or the converted amount is no amount (`0.00`); refused for
    /// funds or standing like any movement (recorded as failed).
    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let movement = movement(
            books,
            (self.from, self.to),
            (self.amount, self.rate),
            &self.notes,
            Way::Forth,
        )?;
        Ok(moved(books.post(&movement, maker)?, None))
    }
}

/// What an exchange between two accounts (or its reversal) locks: both, and
/// the `fx` account of each one's currency.
pub(super) fn locks(from: AccountId, to: AccountId) -> Vec<Lock> {
    vec![
        Lock::Account(from),
        Lock::Account(to),
        Lock::SystemOf(AccountKind::Fx, from),
        Lock::SystemOf(AccountKind::Fx, to),
    ]
}

/// The reversal of `amount` (in its `from` currency) of an exchange, at the
/// exchange's own rate: `amount × rate` (rounded half to even) back out of
/// its `to` account, `amount` back into its `from` account.
pub(super) fn back<'a>(
    books: &Books,
    original: &Original,
    rate: Rate,
    amount: Amount,
    notes: &'a Notes,
) -> Result<Movement<'a>, Refusal> {
    let (Some(from), Some(to)) = (original.from, original.to) else {
        return Err(Refusal::Inconsistent(format!(
            "exchange {} does not name both accounts",
            original.id
        )));
    };
    movement(
        books,
        (from, to),
        (amount, rate),
        notes,
        Way::Back(original.id),
    )
}

/// Which way an exchange's money goes.
#[derive(Debug, Clone, Copy)]
enum Way {
    /// The exchange itself.
    Forth,
    /// The reversal of this exchange.
    Back(TransactionId),
}

/// The movement of an exchange from `from` to `to` (or of its reversal):
/// `amount` in `from`'s currency between `from` and its `fx` account, its
/// conversion in `to`'s currency between `to` and its `fx` account.
fn movement<'a>(
    books: &Books,
    (from, to): (AccountId, AccountId),
    (amount, rate): (Amount, Rate),
    notes: &'a Notes,
    way: Way,
) -> Result<Movement<'a>, Refusal> {
    let currency = |id: AccountId| -> Result<Currency, Refusal> {
        Currency::parse(&books.user_account(id)?.currency)
            .map_err(|e| Refusal::Inconsistent(e.message))
    };
    let (from_currency, to_currency) = (currency(from)?, currency(to)?);
    if from_currency == to_currency {
        return Err(Refusal::SameCurrency(from_currency));
    }
    let converted = rate
        .convert(amount)
        .ok_or_else(|| "more than any amount".to_owned())
        .and_then(|value| {
            Amount::try_from(value)
                .map_err(|why| format!("{value} {to_currency}, which is not a valid amount: {why}"))
        })
        .map_err(|converted| Refusal::InvalidConversion {
            amount,
            rate,
            converted,
        })?;
    let fx = |owner: AccountId| -> Result<(AccountId, Bucket), Refusal> {
        Ok((books.system_of(AccountKind::Fx, owner)?, Bucket::Balance))
    };
    let (fx_from, fx_to) = (fx(from)?, fx(to)?);
    let (user_from, user_to) = ((from, Bucket::Balance), (to, Bucket::Balance));
    // Back: `to` pays the converted amount to its `fx`, `from` is paid from
    // its own; the transaction shows the money leaving `to`.
    let (kind, (source, destination), (paying, paid), shown, reverses) = match way {
        Way::Forth => (
            TransactionType::Exchange,
            (user_from, fx_from),
            (fx_to, user_to),
            (Some(from), Some(to)),
            None,
        ),
        Way::Back(original) => (
            TransactionType::Reversal,
            (fx_from, user_from),
            (user_to, fx_to),
            (Some(to), Some(from)),
            Some(original),
        ),
    };
    Ok(Movement {
        kind,
        source,
        destination,
        shown,
        amount,
        notes: Some(notes),
        order: None,
        reverses,
        conversion: Some(Conversion {
            rate,
            converted,
            currency: to_currency,
            source: paying,
            destination: paid,
        }),
    })
}
