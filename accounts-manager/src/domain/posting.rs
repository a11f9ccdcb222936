//! The ledger's postings: which postings a movement makes between two
//! accounts' buckets, and when it is refused.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, AccountStatus};

use super::{Amount, Metadata};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    User,
    External,
    Revenue,
    /// Where exchanges change currency: money of one currency comes in,
    /// money of another goes out, so each currency's sum stays zero.
    Fx,
}

shared_types::named!(AccountKind {
    User => "user",
    External => "external",
    Revenue => "revenue",
    Fx => "fx",
});

/// An account as it stands, locked, inside the database transaction.
#[derive(Debug, Clone)]
pub struct AccountState {
    pub id: AccountId,
    pub kind: AccountKind,
    pub currency: String,
    pub balance: Decimal,
    pub reserved: Decimal,
    pub status: AccountStatus,
    /// Why it is frozen or closed.
    pub status_reason: Option<String>,
    /// What an answer about the account tells besides: its user (none for a
    /// system account), when it was opened, its labels.
    pub user_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub metadata: Metadata,
}

impl AccountState {
    /// An active account without labels.
    pub fn new(
        id: AccountId,
        kind: AccountKind,
        currency: &str,
        (balance, reserved): (Decimal, Decimal),
    ) -> Self {
        Self {
            id,
            kind,
            currency: currency.to_owned(),
            balance,
            reserved,
            status: AccountStatus::Active,
            status_reason: None,
            user_id: None,
            created_at: DateTime::<Utc>::MIN_UTC,
            metadata: Metadata::default(),
        }
    }
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
    /// Money would leave a frozen account's balance.
    AccountFrozen,
    /// A side is a closed account.
    AccountClosed,
    /// Another transfer of its atomic batch was refused, so none was made.
    LinkedTransferFailed,
}

impl FailureReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::InsufficientFunds => "insufficient_funds",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::AccountFrozen => "account_frozen",
            Self::AccountClosed => "account_closed",
            Self::LinkedTransferFailed => "linked_transfer_failed",
        }
    }

    pub(super) fn words(self) -> &'static str {
        match self {
            Self::InsufficientFunds => "insufficient funds",
            Self::CurrencyMismatch => "the accounts hold different currencies",
            Self::AccountFrozen => "the account is frozen",
            Self::AccountClosed => "the account is closed",
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
    if from.status == AccountStatus::Closed || to.status == AccountStatus::Closed {
        return Decision::Refuse(FailureReason::AccountClosed);
    }
    // Holds placed before a freeze still end (from `reserved`); nothing
    // leaves a frozen account's balance.
    if from.status == AccountStatus::Frozen && from_bucket == Bucket::Balance {
        return Decision::Refuse(FailureReason::AccountFrozen);
    }
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

/// Two legs of one transaction (an exchange's): posted together, or
/// refused together for the first leg's reason, except that a closed account
/// on either leg is the reason whatever else is wrong (a movement naming a
/// closed account is refused for that before any funds check).
pub fn both(first: Decision, second: Decision) -> Decision {
    match (first, second) {
        (Decision::Post(mut first), Decision::Post(second)) => {
            first.extend(second);
            Decision::Post(first)
        }
        (_, Decision::Refuse(FailureReason::AccountClosed)) => {
            Decision::Refuse(FailureReason::AccountClosed)
        }
        (Decision::Refuse(reason), _) | (Decision::Post(_), Decision::Refuse(reason)) => {
            Decision::Refuse(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::AmountInput;
    use uuid::Uuid;

    fn account(kind: AccountKind, currency: &str, balance: i64) -> AccountState {
        AccountState::new(
            AccountId(Uuid::new_v4()),
            kind,
            currency,
            (Decimal::from(balance), Decimal::ZERO),
        )
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
    fn two_legs_are_posted_together_or_refused_together() {
        let from = account(AccountKind::User, "USD", 10);
        let fx_usd = account(AccountKind::Fx, "USD", 0);
        let fx_eur = account(AccountKind::Fx, "EUR", 0);
        let mut to = account(AccountKind::User, "EUR", 0);
        let legs = |from: &AccountState, to: &AccountState, value: &str| {
            both(
                decide(
                    from,
                    Bucket::Balance,
                    &fx_usd,
                    Bucket::Balance,
                    amount(value),
                ),
                decide(&fx_eur, Bucket::Balance, to, Bucket::Balance, amount("1")),
            )
        };
        let Decision::Post(postings) = legs(&from, &to, "10") else {
            panic!("both legs can be posted");
        };
        assert_eq!(postings.len(), 4);
        assert_eq!(
            legs(&from, &to, "10.01"),
            Decision::Refuse(FailureReason::InsufficientFunds)
        );
        to.status = AccountStatus::Closed;
        assert_eq!(
            legs(&from, &to, "10.01"),
            Decision::Refuse(FailureReason::AccountClosed),
            "a closed account comes before funds"
        );
    }
}
