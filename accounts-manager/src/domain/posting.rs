//! The ledger's postings: which postings a movement makes between two
//! accounts' buckets, and when it is refused.

use rust_decimal::Decimal;
use shared_types::accounts::AccountId;

use super::Amount;

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

    pub(super) fn words(self) -> &'static str {
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
}
