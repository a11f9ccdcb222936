//! The rules of exchanges and of their reversals, over books as the engine
//! locks them.

use std::collections::HashMap;

use chrono::Utc;
use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, AccountStatus, TransactionStatus, TransactionType};
use shared_types::RateInput;
use uuid::Uuid;

use super::tests::{amount, test_maker};
use super::*;
use crate::domain::books::{Books, Lock};
use crate::domain::posting::{AccountKind, AccountState, FailureReason};
use crate::domain::records::{Original, Record};
use crate::domain::refusal::Refusal;
use crate::domain::Rate;

fn account(kind: AccountKind, currency: &str, balance: &str) -> AccountState {
    AccountState::new(
        AccountId(Uuid::now_v7()),
        kind,
        currency,
        (balance.parse().unwrap(), Decimal::ZERO),
    )
}

fn rate(s: &str) -> Rate {
    Rate::parse(&RateInput::from(s)).unwrap()
}

/// A USD account with `balance` (from the outside), an empty EUR account,
/// and the fx accounts of both currencies, locked.
struct Fixture {
    books: Books,
    usd: AccountId,
    eur: AccountId,
}

fn fixture(balance: &str) -> Fixture {
    let usd = account(AccountKind::User, "USD", balance);
    let eur = account(AccountKind::User, "EUR", "0");
    let mut books = Books::new(HashMap::new(), HashMap::new(), HashMap::new());
    let ids = (usd.id, eur.id);
    books.lock(
        Utc::now(),
        vec![
            usd,
            eur,
            account(AccountKind::External, "USD", &format!("-{balance}")),
            account(AccountKind::Fx, "USD", "0"),
            account(AccountKind::Fx, "EUR", "0"),
        ],
    );
    Fixture {
        books,
        usd: ids.0,
        eur: ids.1,
    }
}

impl Fixture {
    fn exchange(
        &mut self,
        from: AccountId,
        to: AccountId,
        value: &str,
        at: &str,
    ) -> Result<Record, Refusal> {
        let command = Command::Exchange(Exchange {
            from,
            to,
            amount: amount(value),
            rate: rate(at),
            notes: Notes::default(),
        });
        match self.books.apply(&command, &mut test_maker())? {
            Outcome::Moved { record, .. } => Ok(*record),
            other => panic!("an exchange moves money, not {other:?}"),
        }
    }

    fn reverse(&mut self, original: &Record, value: Option<&str>) -> Result<Record, Refusal> {
        self.books.originals.insert(
            original.id,
            Some(Original {
                id: original.id,
                kind: original.kind,
                status: original.status(),
                amount: original.amount,
                currency: original.currency.clone(),
                from: original.from,
                to: original.to,
                order: None,
                reversed: Decimal::ZERO,
                exchange: original.exchange.clone(),
            }),
        );
        let command = Command::Reverse(Reverse {
            original: original.id,
            amount: value.map(amount),
            notes: Notes::default(),
        });
        match self.books.apply(&command, &mut test_maker())? {
            Outcome::Moved { record, .. } => Ok(*record),
            other => panic!("a reversal moves money, not {other:?}"),
        }
    }

    fn balance(&self, id: AccountId) -> Decimal {
        self.books.accounts[&id].balance
    }

    /// The sum of every account of a currency.
    fn total(&self, currency: &str) -> Decimal {
        self.books
            .accounts
            .values()
            .filter(|a| a.currency == currency)
            .map(|a| a.balance + a.reserved)
            .sum()
    }
}

#[test]
fn an_exchange_locks_both_accounts_and_the_fx_account_of_each_currency() {
    let (from, to) = (AccountId(Uuid::now_v7()), AccountId(Uuid::now_v7()));
    let mut books = Books::new(HashMap::new(), HashMap::new(), HashMap::new());
    let command = Command::Exchange(Exchange {
        from,
        to,
        amount: amount("1"),
        rate: rate("2"),
        notes: Notes::default(),
    });
    assert_eq!(
        books.plan(&command),
        vec![
            Lock::Account(from),
            Lock::Account(to),
            Lock::SystemOf(AccountKind::Fx, from),
            Lock::SystemOf(AccountKind::Fx, to),
        ]
    );
}

#[test]
fn an_exchange_is_one_transaction_of_four_postings_and_each_currency_stays_balanced() {
    let mut f = fixture("100");
    let record = f.exchange(f.usd, f.eur, "100.00", "0.9215").unwrap();
    assert_eq!(record.kind, TransactionType::Exchange);
    assert_eq!(record.status(), TransactionStatus::Success);
    assert_eq!(
        (record.amount, record.currency.as_str()),
        (amount("100"), "USD")
    );
    let exchanged = record.exchange.clone().unwrap();
    assert_eq!(exchanged.amount, amount("92.15"));
    assert_eq!(exchanged.currency.as_str(), "EUR");
    assert_eq!(exchanged.rate, rate("0.9215"));
    assert_eq!((record.from, record.to), (Some(f.usd), Some(f.eur)));
    assert_eq!(
        record.description,
        format!(
            "100.00 USD exchanged at 0.9215 from account {} into 92.15 EUR to account {}",
            f.usd, f.eur
        )
    );
    assert_eq!(f.balance(f.usd), Decimal::ZERO);
    assert_eq!(f.balance(f.eur), "92.15".parse().unwrap());
    assert_eq!(f.total("USD"), Decimal::ZERO);
    assert_eq!(f.total("EUR"), Decimal::ZERO);
    assert_eq!(record.from_after, Some((Decimal::ZERO, Decimal::ZERO)));
    let changes = f.books.into_changes();
    assert_eq!(changes.records.len(), 1);
    assert_eq!(changes.postings.len(), 4);
}

#[test]
fn exchanges_that_cannot_be_made_record_nothing() {
    let mut f = fixture("100");
    let other_usd = account(AccountKind::User, "USD", "0");
    let other = other_usd.id;
    f.books.lock(Utc::now(), vec![other_usd]);
    assert!(matches!(
        f.exchange(f.usd, other, "1", "1"),
        Err(Refusal::SameCurrency(_))
    ));
    assert!(matches!(
        f.exchange(f.usd, f.usd, "1", "1"),
        Err(Refusal::SameCurrency(_))
    ));
    assert!(matches!(
        f.exchange(f.usd, f.eur, "0.01", "0.1"),
        Err(Refusal::InvalidConversion { .. })
    ));
    assert!(matches!(
        f.exchange(f.usd, f.eur, "1000000000000000", "2"),
        Err(Refusal::InvalidConversion { .. })
    ));
    let unknown = AccountId(Uuid::now_v7());
    assert_eq!(
        f.exchange(f.usd, unknown, "1", "1").unwrap_err(),
        Refusal::NoAccount(unknown)
    );
    assert!(f.books.records.is_empty());
    assert!(f.books.postings.is_empty());
}

#[test]
fn too_little_money_or_a_frozen_source_is_recorded_failed_with_nothing_moved() {
    let mut f = fixture("10");
    let record = f.exchange(f.usd, f.eur, "10.01", "2").unwrap();
    assert_eq!(record.failure, Some(FailureReason::InsufficientFunds));
    assert_eq!(record.exchange.as_ref().unwrap().amount, amount("20.02"));
    assert!(record.description.starts_with("Refused: "));
    f.books
        .set_status(f.usd, AccountStatus::Frozen, Some("x".into()))
        .unwrap();
    let record = f.exchange(f.usd, f.eur, "1", "2").unwrap();
    assert_eq!(record.failure, Some(FailureReason::AccountFrozen));
    // Into a frozen account is allowed.
    f.books
        .set_status(f.usd, AccountStatus::Active, None)
        .unwrap();
    f.books
        .set_status(f.eur, AccountStatus::Frozen, Some("x".into()))
        .unwrap();
    assert_eq!(f.exchange(f.usd, f.eur, "1", "2").unwrap().failure, None);
    assert!(f.books.postings.len() == 4);
    assert_eq!(f.total("USD"), Decimal::ZERO);
}

#[test]
fn a_reversal_moves_money_back_at_the_exchanges_own_rate() {
    let mut f = fixture("10");
    let exchange = f.exchange(f.usd, f.eur, "10.00", "0.135").unwrap();
    assert_eq!(f.balance(f.eur), "1.35".parse().unwrap());
    // 1.00 × 0.135 = 0.135: 0.14 back out of the EUR account.
    let part = f.reverse(&exchange, Some("1.00")).unwrap();
    assert_eq!(part.kind, TransactionType::Reversal);
    assert_eq!(part.reverses, Some(exchange.id));
    assert_eq!((part.amount, part.currency.as_str()), (amount("1"), "USD"));
    assert_eq!((part.from, part.to), (Some(f.eur), Some(f.usd)));
    let back = part.exchange.clone().unwrap();
    assert_eq!(
        (back.amount, back.currency.as_str()),
        (amount("0.14"), "EUR")
    );
    assert_eq!(back.rate, rate("0.135"));
    assert_eq!(f.balance(f.usd), Decimal::ONE);
    assert_eq!(f.balance(f.eur), "1.21".parse().unwrap());
    // The rest: 9.00 × 0.135 = 1.215, 1.22 to the even cent, which the EUR
    // account no longer has.
    let rest = f.reverse(&exchange, None).unwrap();
    assert_eq!(rest.amount, amount("9"));
    assert_eq!(rest.failure, Some(FailureReason::InsufficientFunds));
    assert_eq!(f.total("USD"), Decimal::ZERO);
    assert_eq!(f.total("EUR"), Decimal::ZERO);
    assert!(matches!(
        f.reverse(&exchange, Some("9.01")),
        Err(Refusal::ReversalExceedsOriginal { .. })
    ));
}
