//! The ledger's rules: which postings a movement makes, when it is refused,
//! and the sentence that describes it.

use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, TransactionId, TransactionType};

use super::order::OrderRef;
use super::{Amount, Currency};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    User,
    External,
    Revenue,
}

shared_types::named!(AccountKind {
    User => "user",
    External => "external",
    Revenue => "revenue",
});

/// An account as it stands, locked, inside the database transaction.
#[derive(Debug, Clone)]
pub struct AccountState {
    pub id: AccountId,
    pub kind: AccountKind,
    pub currency: String,
    pub balance: Decimal,
    pub reserved: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Balance,
    Reserved,
}

shared_types::named!(Bucket {
    Balance => "balance",
    Reserved => "reserved",
});

/// One signed change to one bucket of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: AccountId,
    pub bucket: Bucket,
    pub amount: Decimal,
}

/// Why the ledger refused a movement; the refusal is recorded as a failed transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    InsufficientFunds,
    CurrencyMismatch,
    /// Another transfer of its atomic batch was refused, so none was made.
    LinkedTransferFailed,
}

impl FailureReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::InsufficientFunds => "insufficient_funds",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::LinkedTransferFailed => "linked_transfer_failed",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Self::InsufficientFunds => "insufficient funds",
            Self::CurrencyMismatch => "the accounts hold different currencies",
            Self::LinkedTransferFailed => "another transfer of its atomic batch was refused",
        }
    }
}

/// What a movement does to the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Post(Vec<Posting>),
    Refuse(FailureReason),
}

/// Moves `amount` from one bucket of `from` to one bucket of `to`, refusing
/// when the currencies differ or when a user account would go below zero.
/// System accounts may go negative: the external account is the outside world.
pub fn decide(
    from: &AccountState,
    from_bucket: Bucket,
    to: &AccountState,
    to_bucket: Bucket,
    amount: Amount,
) -> Decision {
    if from.currency != to.currency {
        return Decision::Refuse(FailureReason::CurrencyMismatch);
    }
    let available = match from_bucket {
        Bucket::Balance => from.balance,
        Bucket::Reserved => from.reserved,
    };
    if from.kind == AccountKind::User && available < amount.value() {
        return Decision::Refuse(FailureReason::InsufficientFunds);
    }
    Decision::Post(vec![
        Posting {
            account: from.id,
            bucket: from_bucket,
            amount: -amount.value(),
        },
        Posting {
            account: to.id,
            bucket: to_bucket,
            amount: amount.value(),
        },
    ])
}

/// What a description needs to know of a movement.
pub struct Movement<'a> {
    pub kind: TransactionType,
    pub amount: Amount,
    pub currency: &'a Currency,
    pub from: Option<AccountId>,
    pub to: Option<AccountId>,
    /// The order a reservation, capture or release (or a capture's
    /// reversal) is about.
    pub order: Option<&'a OrderRef>,
    /// The transaction a reversal reverses.
    pub reverses: Option<TransactionId>,
    pub caller_description: Option<&'a str>,
}

/// A sentence saying where the money came from and went, and why.
pub fn describe(movement: &Movement<'_>, failure: Option<FailureReason>) -> String {
    let Movement {
        kind,
        amount,
        currency,
        from,
        to,
        order,
        reverses,
        caller_description,
    } = movement;
    let account = |id: &Option<AccountId>| {
        id.map_or_else(
            || "an unknown account".to_owned(),
            |id| format!("account {id}"),
        )
    };
    let what = match kind {
        TransactionType::Deposit => format!(
            "{amount} {currency} deposited into {} from outside",
            account(to)
        ),
        TransactionType::Withdrawal => format!(
            "{amount} {currency} withdrawn from {} to outside",
            account(from)
        ),
        TransactionType::Transfer => format!(
            "{amount} {currency} transferred from {} to {}",
            account(from),
            account(to)
        ),
        TransactionType::Reservation => format!(
            "{amount} {currency} reserved from {}{}",
            account(from),
            for_order(*order)
        ),
        TransactionType::Release => format!(
            "{amount} {currency} released back to {}{}",
            account(to),
            for_order(*order)
        ),
        TransactionType::Capture => format!(
            "{amount} {currency} captured from {} as revenue{}",
            account(from),
            for_order(*order)
        ),
        TransactionType::Reversal => {
            let side = |id: &Option<AccountId>, outside: &str| {
                id.map_or_else(|| outside.to_owned(), |id| format!("account {id}"))
            };
            // A refund comes from revenue; any other reversal without a user
            // account on a side moves money from or to the outside.
            let system = if order.is_some() {
                "revenue"
            } else {
                "outside"
            };
            format!(
                "{amount} {currency} moved back from {} to {}, reversing transaction {}{}",
                side(from, system),
                side(to, system),
                reverses.map_or_else(|| "?".to_owned(), |id| id.to_string()),
                for_order(*order)
            )
        }
    };
    let mut sentence = match failure {
        None => what,
        Some(reason) => format!("Refused: {what}: {}", reason.words()),
    };
    if let Some(why) = caller_description {
        sentence.push_str(" (");
        sentence.push_str(why);
        sentence.push(')');
    }
    sentence
}

/// ` for order 7, service 3 (delivery)`.
fn for_order(order: Option<&OrderRef>) -> String {
    order.map_or_else(String::new, |o| {
        let name = o
            .service_name
            .as_deref()
            .map_or_else(String::new, |n| format!(" ({n})"));
        format!(" for order {}, service {}{name}", o.order_id, o.service_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::AmountInput;
    use uuid::Uuid;

    fn account(kind: AccountKind, currency: &str, balance: i64) -> AccountState {
        AccountState {
            id: AccountId(Uuid::new_v4()),
            kind,
            currency: currency.into(),
            balance: Decimal::from(balance),
            reserved: Decimal::ZERO,
        }
    }

    fn amount(s: &str) -> Amount {
        Amount::parse(&AmountInput::from(s)).unwrap()
    }

    #[test]
    fn a_user_account_cannot_go_below_zero() {
        let from = account(AccountKind::User, "USD", 10);
        let to = account(AccountKind::User, "USD", 0);
        assert_eq!(
            decide(
                &from,
                Bucket::Balance,
                &to,
                Bucket::Balance,
                amount("10.01")
            ),
            Decision::Refuse(FailureReason::InsufficientFunds)
        );
        let Decision::Post(postings) =
            decide(&from, Bucket::Balance, &to, Bucket::Balance, amount("10"))
        else {
            panic!("an exact balance can be spent");
        };
        assert_eq!(
            postings.iter().map(|p| p.amount).sum::<Decimal>(),
            Decimal::ZERO
        );
    }

    #[test]
    fn the_external_account_may_go_negative() {
        let external = account(AccountKind::External, "USD", 0);
        let to = account(AccountKind::User, "USD", 0);
        assert!(matches!(
            decide(
                &external,
                Bucket::Balance,
                &to,
                Bucket::Balance,
                amount("5")
            ),
            Decision::Post(_)
        ));
    }

    #[test]
    fn currencies_must_match() {
        let from = account(AccountKind::User, "USD", 100);
        let to = account(AccountKind::User, "EUR", 0);
        assert_eq!(
            decide(&from, Bucket::Balance, &to, Bucket::Balance, amount("1")),
            Decision::Refuse(FailureReason::CurrencyMismatch)
        );
    }

    #[test]
    fn descriptions_name_both_sides_and_the_reason() {
        let usd = Currency::parse("USD").unwrap();
        let (a, b) = (AccountId(Uuid::nil()), AccountId(Uuid::max()));
        let movement = Movement {
            kind: TransactionType::Transfer,
            amount: amount("500"),
            currency: &usd,
            from: Some(a),
            to: Some(b),
            order: None,
            reverses: None,
            caller_description: Some("rent"),
        };
        assert_eq!(
            describe(&movement, None),
            format!("500.00 USD transferred from account {a} to account {b} (rent)")
        );
        assert_eq!(
            describe(&movement, Some(FailureReason::InsufficientFunds)),
            format!("Refused: 500.00 USD transferred from account {a} to account {b}: insufficient funds (rent)")
        );
    }

    #[test]
    fn order_descriptions_name_the_order_and_service() {
        use crate::domain::order::{OrderId, ServiceId};
        let usd = Currency::parse("USD").unwrap();
        let a = AccountId(Uuid::nil());
        let order = OrderRef {
            order_id: OrderId::parse(7).unwrap(),
            service_id: ServiceId::parse(3).unwrap(),
            service_name: None,
        };
        let movement = Movement {
            kind: TransactionType::Reservation,
            amount: amount("170000"),
            currency: &usd,
            from: Some(a),
            to: None,
            order: Some(&order),
            reverses: None,
            caller_description: None,
        };
        assert_eq!(
            describe(&movement, None),
            format!("170000.00 USD reserved from account {a} for order 7, service 3")
        );
    }
}
