//! The rules of the commands together, over books as the engine locks them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared_types::accounts::{AccountId, ReservationStatus, TransactionStatus, TransactionType};
use shared_types::AmountInput;
use uuid::Uuid;

use super::*;
use crate::domain::books::{Books, Lock, Maker};
use crate::domain::changes::Changes;
use crate::domain::posting::{AccountKind, AccountState, FailureReason};
use crate::domain::records::{Order, Original};
use crate::domain::refusal::Refusal;
use crate::domain::{Amount, Currency, Month, OrderId, OrderRef, UserId};

pub(super) fn test_maker() -> Maker<'static> {
    Maker {
        created_by: "test",
        new_id: Box::leak(Box::new(Uuid::now_v7)),
    }
}

pub(super) fn amount(s: &str) -> Amount {
    Amount::parse(&AmountInput::from(s)).unwrap()
}

fn later() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::days(1)
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

fn account(kind: AccountKind, balance: i64) -> AccountState {
    AccountState::new(
        AccountId(Uuid::now_v7()),
        kind,
        "USD",
        (Decimal::from(balance), Decimal::ZERO),
    )
}

/// Books over one user account with `balance` and every system account
/// of USD, as the engine would lock them.
fn books_with(user: &AccountState, orders: HashMap<OrderId, Option<Order>>) -> Books {
    let mut books = Books::new(orders, HashMap::new(), HashMap::new());
    let mut locked = vec![user.clone()];
    for kind in [AccountKind::External, AccountKind::Revenue] {
        locked.push(account(kind, 0));
    }
    books.lock(Utc::now(), locked);
    books
}

fn order_ref(id: i64) -> OrderRef {
    OrderRef {
        order_id: OrderId::parse(id).unwrap(),
        service_id: crate::domain::ServiceId::parse(3).unwrap(),
        service_name: None,
    }
}

#[test]
fn two_first_deposits_of_a_user_open_one_account() {
    let mut books = Books::new(
        HashMap::new(),
        HashMap::from([((UserId::parse(7).unwrap(), usd()), None)]),
        HashMap::new(),
    );
    let deposit = |opens: AccountId| {
        Command::Deposit(Deposit {
            to: Target::User(UserId::parse(7).unwrap(), usd()),
            opens,
            amount: amount("5"),
            notes: Notes::default(),
        })
    };
    let (a, b) = (AccountId(Uuid::now_v7()), AccountId(Uuid::now_v7()));
    let plans = [books.plan(&deposit(a)), books.plan(&deposit(b))];
    assert_eq!(
        plans[0], plans[1],
        "the second deposit plans for the first's account"
    );
    books.lock(Utc::now(), vec![account(AccountKind::External, 0)]);
    for opens in [a, b] {
        let Outcome::Moved { record, .. } =
            books.apply(&deposit(opens), &mut test_maker()).unwrap()
        else {
            panic!("a deposit moves money");
        };
        assert_eq!(record.to, Some(a));
    }
    let changes = books.into_changes();
    assert_eq!(changes.opened.len(), 1);
    assert_eq!(changes.opened[0].1, Decimal::from(10));
    assert_eq!(changes.records.len(), 2);
    assert_eq!(
        changes
            .postings
            .iter()
            .map(|(_, p)| p.amount)
            .sum::<Decimal>(),
        Decimal::ZERO
    );
}

fn books_time(changes: &Changes) -> DateTime<Utc> {
    changes.records[0].created_at
}

#[test]
fn a_batchs_captures_and_refunds_are_one_revenue_change_per_service_and_month() {
    let payer = account(AccountKind::User, 1000);
    let ids: Vec<OrderId> = (21..=23).map(|i| OrderId::parse(i).unwrap()).collect();
    let mut books = books_with(&payer, ids.iter().map(|id| (*id, None)).collect());
    let named = |id: i64, service: i64, name: Option<&str>| OrderRef {
        order_id: OrderId::parse(id).unwrap(),
        service_id: crate::domain::ServiceId::parse(service).unwrap(),
        service_name: name.map(str::to_owned),
    };
    for (order, held) in [
        (named(21, 3, Some("first")), "10"),
        (named(22, 3, Some("second")), "20"),
        (named(23, 4, None), "5"),
    ] {
        let id = order.order_id;
        let reserve = Command::Reserve(Reserve {
            account: Target::Account(payer.id),
            order,
            amount: amount(held),
            expires_at: later(),
            notes: Notes::default(),
        });
        books.apply(&reserve, &mut test_maker()).unwrap();
        let capture = Command::Capture(Capture {
            order: id,
            amount: None,
        });
        books.apply(&capture, &mut test_maker()).unwrap();
    }
    let capture_of_23 = books
        .records
        .iter()
        .find(|r| r.kind == TransactionType::Capture && r.amount == amount("5"))
        .unwrap()
        .clone();
    books.originals.insert(
        capture_of_23.id,
        Some(Original {
            id: capture_of_23.id,
            kind: TransactionType::Capture,
            status: TransactionStatus::Success,
            amount: capture_of_23.amount,
            currency: usd(),
            from: Some(payer.id),
            to: None,
            order: capture_of_23.order.clone(),
            reversed: Decimal::ZERO,
            exchange: None,
        }),
    );
    let refund = Command::Reverse(Reverse {
        original: capture_of_23.id,
        amount: Some(amount("2")),
        notes: Notes::default(),
    });
    books.apply(&refund, &mut test_maker()).unwrap();

    let changes = books.into_changes();
    let revenue: Vec<_> = changes
        .revenue
        .iter()
        .map(|c| {
            (
                c.service.value(),
                c.amount,
                c.named.as_ref().map(|n| n.0.as_str()),
            )
        })
        .collect();
    assert_eq!(
        revenue,
        vec![
            (3, Decimal::from(30), Some("second")),
            (4, Decimal::from(3), None),
        ],
        "summed per service, the later name kept, the refund subtracted"
    );
    assert!(changes
        .revenue
        .iter()
        .all(|c| c.month == Month::of(books_time(&changes))));
    let head = changes
        .heads
        .iter()
        .find(|(account, ..)| *account == payer.id)
        .unwrap();
    assert_eq!(
        (head.1, head.2, head.3),
        (
            changes.records.last().unwrap().id,
            Decimal::from(967),
            Decimal::ZERO
        ),
        "the payer's head is its last transaction, 35 captured and 2 refunded"
    );
}

#[test]
fn an_order_reserved_and_captured_in_one_batch_ends_captured() {
    let payer = account(AccountKind::User, 100);
    let id = OrderId::parse(7).unwrap();
    let mut books = books_with(&payer, HashMap::from([(id, None)]));
    let reserve = Command::Reserve(Reserve {
        account: Target::Account(payer.id),
        order: order_ref(7),
        amount: amount("40"),
        expires_at: later(),
        notes: Notes::default(),
    });
    let capture = Command::Capture(Capture {
        order: id,
        amount: None,
    });
    assert!(books.plan(&reserve).contains(&Lock::Account(payer.id)));
    assert!(books
        .plan(&capture)
        .contains(&Lock::SystemOf(AccountKind::Revenue, payer.id)));

    assert!(matches!(
        books.apply(&reserve, &mut test_maker()),
        Ok(Outcome::Order { created: true, .. })
    ));
    assert_eq!(
        books.apply(&reserve, &mut test_maker()).unwrap_err(),
        Refusal::OrderTaken(id)
    );
    assert!(matches!(
        books.apply(&capture, &mut test_maker()),
        Ok(Outcome::Order { created: false, .. })
    ));
    assert_eq!(
        books
            .apply(&Command::Release(Release { order: id }), &mut test_maker())
            .unwrap_err(),
        Refusal::NotReserved {
            order: id,
            status: "captured"
        }
    );
    let changes = books.into_changes();
    assert_eq!(changes.orders.len(), 1, "one row per order, as it ends");
    assert_eq!(changes.orders[0].status, ReservationStatus::Captured);
    assert_eq!(changes.records.len(), 2);
    let payer_change = changes
        .balances
        .iter()
        .find(|(a, _, _)| *a == payer.id)
        .unwrap();
    assert_eq!(
        (payer_change.1, payer_change.2),
        (Decimal::from(-40), Decimal::ZERO)
    );
}

#[test]
fn a_refused_reservation_is_recorded_and_leaves_the_order_free() {
    let payer = account(AccountKind::User, 10);
    let id = OrderId::parse(8).unwrap();
    let mut books = books_with(&payer, HashMap::from([(id, None)]));
    let reserve = |amount_text: &str| {
        Command::Reserve(Reserve {
            account: Target::Account(payer.id),
            order: order_ref(8),
            amount: amount(amount_text),
            expires_at: later(),
            notes: Notes::default(),
        })
    };
    let Ok(Outcome::Moved { record, .. }) = books.apply(&reserve("11"), &mut test_maker()) else {
        panic!("a refusal for funds is recorded");
    };
    assert_eq!(record.failure, Some(FailureReason::InsufficientFunds));
    assert!(matches!(
        books.apply(&reserve("10"), &mut test_maker()),
        Ok(Outcome::Order { created: true, .. })
    ));
}

#[test]
fn what_is_refused_changes_nothing() {
    let payer = account(AccountKind::User, 10);
    let mut books = books_with(&payer, HashMap::new());
    let missing = AccountId(Uuid::now_v7());
    let transfer = Command::Transfer(Transfer {
        from: Target::Account(payer.id),
        to: Target::Account(missing),
        amount: amount("1"),
        notes: Notes::default(),
    });
    assert_eq!(
        books.apply(&transfer, &mut test_maker()).unwrap_err(),
        Refusal::NoAccount(missing)
    );
    let changes = books.into_changes();
    assert!(changes.records.is_empty() && changes.postings.is_empty());
    assert!(changes
        .balances
        .iter()
        .all(|(_, b, r)| b.is_zero() && r.is_zero()));
}

#[test]
fn a_hold_its_account_does_not_cover_is_inconsistent_not_captured() {
    let payer = account(AccountKind::User, 0);
    let id = OrderId::parse(9).unwrap();
    let order = Order {
        order: order_ref(9),
        account: payer.id,
        amount: amount("5"),
        captured: None,
        currency: usd(),
        status: ReservationStatus::Reserved,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        expires_at: later(),
    };
    let mut books = books_with(&payer, HashMap::from([(id, Some(order))]));
    assert!(matches!(
        books.apply(
            &Command::Capture(Capture {
                order: id,
                amount: None
            }),
            &mut test_maker()
        ),
        Err(Refusal::Inconsistent(_))
    ));
    assert!(books.into_changes().records.is_empty());
}

#[test]
fn an_expired_hold_is_ended_only_by_expire_and_only_once() {
    let payer = account(AccountKind::User, 0);
    let id = OrderId::parse(11).unwrap();
    let order = Order {
        order: order_ref(11),
        account: payer.id,
        amount: amount("5"),
        captured: None,
        currency: usd(),
        status: ReservationStatus::Reserved,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        expires_at: Utc::now() - chrono::Duration::seconds(1),
    };
    let mut held = payer.clone();
    held.reserved = Decimal::from(5);
    let mut books = books_with(&held, HashMap::from([(id, Some(order))]));
    let capture = Command::Capture(Capture {
        order: id,
        amount: None,
    });
    assert_eq!(
        books.apply(&capture, &mut test_maker()).unwrap_err(),
        Refusal::ReservationExpired(id)
    );
    let expire = Command::Expire(Expire { order: id });
    let Ok(Outcome::Order { order, .. }) = books.apply(&expire, &mut test_maker()) else {
        panic!("an expired hold is released");
    };
    assert_eq!(order.status, ReservationStatus::Expired);
    assert!(matches!(
        books.apply(&expire, &mut test_maker()),
        Err(Refusal::NotReserved { .. })
    ));
    let changes = books.into_changes();
    assert_eq!(changes.records.len(), 1);
    assert!(changes.records[0].description.contains("the hold expired"));
}

fn transfer(from: &AccountState, to: &AccountState, value: &str) -> Transfer {
    Transfer {
        from: Target::Account(from.id),
        to: Target::Account(to.id),
        amount: amount(value),
        notes: Notes::default(),
    }
}

/// Books over user accounts and USD's system accounts.
fn books_over(users: &[&AccountState]) -> Books {
    let mut books = Books::new(HashMap::new(), HashMap::new(), HashMap::new());
    let mut locked: Vec<AccountState> = users.iter().map(|a| (*a).clone()).collect();
    locked.push(account(AccountKind::External, 0));
    books.lock(Utc::now(), locked);
    books
}

#[test]
fn an_atomic_batch_with_a_refused_transfer_is_undone_and_recorded_failed() {
    let (a, b, c) = (
        account(AccountKind::User, 10),
        account(AccountKind::User, 0),
        account(AccountKind::User, 0),
    );
    let mut books = books_over(&[&a, &b, &c]);
    // b spends what the first transfer brought it; the third asks too much.
    let batch = Command::TransferBatch(TransferBatch {
        atomic: true,
        transfers: vec![
            transfer(&a, &b, "10"),
            transfer(&b, &c, "4"),
            transfer(&c, &a, "5"),
        ],
    });
    let Ok(Outcome::Batch { items, .. }) = books.apply(&batch, &mut test_maker()) else {
        panic!("an atomic batch is answered as a batch");
    };
    let reasons: Vec<_> = items.iter().map(|(r, _)| r.failure).collect();
    assert_eq!(
        reasons,
        [
            Some(FailureReason::LinkedTransferFailed),
            Some(FailureReason::LinkedTransferFailed),
            Some(FailureReason::InsufficientFunds),
        ]
    );
    let before = |id: Option<AccountId>| {
        [&a, &b, &c]
            .into_iter()
            .find(|account| Some(account.id) == id)
            .map(|account| (account.balance, Decimal::ZERO))
    };
    for (record, balances) in &items {
        assert_eq!(*balances, None);
        assert_eq!(
            record.from_after,
            before(record.from),
            "as before the batch"
        );
        assert_eq!(record.to_after, before(record.to), "as before the batch");
    }
    let changes = books.into_changes();
    assert_eq!(changes.records.len(), 3, "only the failed records stay");
    assert!(changes.postings.is_empty() && changes.balances.is_empty());
}

#[test]
fn a_batch_that_is_not_atomic_keeps_what_it_could_make() {
    let (a, b) = (
        account(AccountKind::User, 10),
        account(AccountKind::User, 0),
    );
    let mut books = books_over(&[&a, &b]);
    let batch = Command::TransferBatch(TransferBatch {
        atomic: false,
        transfers: vec![transfer(&a, &b, "6"), transfer(&a, &b, "6")],
    });
    let Ok(Outcome::Batch { items, .. }) = books.apply(&batch, &mut test_maker()) else {
        panic!("a batch is answered as a batch");
    };
    assert_eq!(items[0].1, Some((Decimal::from(4), Decimal::from(6))));
    assert_eq!(items[1].0.failure, Some(FailureReason::InsufficientFunds));
    assert_eq!(books.into_changes().postings.len(), 2);
}

#[test]
fn a_transfer_naming_one_account_twice_is_refused_before_it_is_looked_up() {
    let missing = AccountId(Uuid::now_v7());
    let mut books = books_over(&[]);
    let twice = Transfer {
        from: Target::Account(missing),
        to: Target::Account(missing),
        amount: amount("1"),
        notes: Notes::default(),
    };
    assert_eq!(
        books
            .apply(&Command::Transfer(twice.clone()), &mut test_maker())
            .unwrap_err(),
        Refusal::SameAccount
    );
    let batch = Command::TransferBatch(TransferBatch {
        atomic: true,
        transfers: vec![twice],
    });
    assert_eq!(
        books.apply(&batch, &mut test_maker()).unwrap_err(),
        Refusal::InBatch {
            index: 0,
            party: Some(crate::domain::refusal::Party::ToAccount),
            refusal: Box::new(Refusal::SameAccount)
        }
    );
}
