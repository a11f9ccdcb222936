//! The rules of advances, with no I/O: the schedule, and the keys and
//! references that tie an advance to its money in accounts-manager.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use service_kit::amount::Amount;
use service_kit::rule::RuleViolation;
use shared_types::advances::{AdvanceId, PaymentId};

pub mod overdue;
pub mod payments;

pub const DEFAULT_INSTALLMENTS: i64 = 12;
pub const MAX_INSTALLMENTS: i64 = 104;

/// How many payments an advance is collected in: 1..104.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installments(i32);

impl Installments {
    pub fn parse(value: Option<i64>) -> Result<Self, RuleViolation> {
        let value = value.unwrap_or(DEFAULT_INSTALLMENTS);
        i32::try_from(value)
            .ok()
            .filter(|n| (1..=MAX_INSTALLMENTS as i32).contains(n))
            .map(Self)
            .ok_or_else(|| {
                RuleViolation::new(
                    "invalid_installments",
                    format!("installments must be from 1 to {MAX_INSTALLMENTS}, not {value}"),
                )
            })
    }

    pub fn value(self) -> i32 {
        self.0
    }
}

/// One planned payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPayment {
    pub seq: i32,
    pub amount: Decimal,
    pub due_at: DateTime<Utc>,
}

/// Payment k (1..n) is due k intervals after `created_at`; each is `amount / n`
/// rounded down to cents and the last takes the remainder, so they add up to
/// the advance exactly.
pub fn schedule(
    amount: Amount,
    installments: Installments,
    created_at: DateTime<Utc>,
    interval: Duration,
) -> Result<Vec<PlannedPayment>, RuleViolation> {
    let first_due_at = step(interval)
        .and_then(|step| created_at.checked_add_signed(step))
        .ok_or_else(past_the_calendar)?;
    plan(amount.value(), installments, 1, first_due_at, interval)
}

/// `amount` split into `installments` payments by the rounding rule (`amount
/// / n` rounded down to cents, the last taking the remainder), numbered from
/// `first_seq`, the first due at `first_due_at` and the others one
/// `interval` apart: a new advance's schedule, or a reschedule's plan.
pub fn plan(
    amount: Decimal,
    installments: Installments,
    first_seq: i32,
    first_due_at: DateTime<Utc>,
    interval: Duration,
) -> Result<Vec<PlannedPayment>, RuleViolation> {
    let n = installments.value();
    let share = (amount / Decimal::from(n))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
    if share <= Decimal::ZERO {
        return Err(RuleViolation::new(
            "amount_too_small",
            format!("{amount} cannot be split into {n} payments of at least 0.01"),
        ));
    }
    let interval = step(interval).ok_or_else(past_the_calendar)?;
    (0..n)
        .map(|k| {
            let due_at = first_due_at
                .checked_add_signed(interval * k)
                .ok_or_else(past_the_calendar)?;
            let amount = if k == n - 1 {
                amount - share * Decimal::from(n - 1)
            } else {
                share
            };
            Ok(PlannedPayment {
                seq: first_seq + k,
                amount,
                due_at,
            })
        })
        .collect()
}

/// The installment interval as a calendar step.
pub fn step(interval: Duration) -> Option<chrono::Duration> {
    chrono::Duration::from_std(interval).ok()
}

pub fn past_the_calendar() -> RuleViolation {
    RuleViolation::new("invalid_interval", "the schedule runs past the calendar")
}

/// The Idempotency-Key of the deposit that pays an advance out: the same for
/// every attempt, so accounts-manager moves the money once.
pub fn disbursement_key(advance: AdvanceId) -> String {
    format!("advance:{advance}:disbursement")
}

/// The `reference` of that deposit.
pub fn disbursement_reference(advance: AdvanceId) -> String {
    format!("advance:{advance}")
}

/// The Idempotency-Key of the withdrawal that collects a payment: a retry
/// after a crash between "money moved" and "payment marked paid" gets the
/// stored answer instead of moving money twice.
pub fn payment_key(advance: AdvanceId, payment: PaymentId) -> String {
    format!("advance:{advance}:payment:{payment}")
}

/// The `reference` of that withdrawal; reconciliation sums withdrawals by it.
pub fn payment_reference(advance: AdvanceId, payment: PaymentId) -> String {
    payment_key(advance, payment)
}

/// What every payment reference of an advance starts with.
pub fn payment_reference_prefix(advance: AdvanceId) -> String {
    format!("advance:{advance}:payment:")
}

/// How long to wait before retrying a payment after accounts-manager did not
/// answer: doubling from one second, at most a minute.
pub fn retry_backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 7) - 1;
    Duration::from_secs(1u64 << exponent).min(Duration::from_secs(60))
}

/// An advance's payments summed at one moment: what is marked `paid`, and
/// what is `processing` (claimed by a worker, perhaps withdrawn already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    pub paid: Decimal,
    pub processing: Decimal,
}

/// What a comparison of an advance's payments with its ledger says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerCheck {
    Agrees,
    Disagrees,
    /// Only payments read after the ledger can tell (one may have been
    /// collected between the two reads).
    ReadPaymentsAgain,
}

/// Whether what accounts-manager withdrew for an advance (`collected`, net of
/// what was given back; read after `before` and, if given, before `after`)
/// disagrees with its payments. `paid` only grows, a payment's money moves
/// before it is marked paid, and money given back is a mismatch in itself,
/// so in agreeing books at any moment `paid <= withdrawn <= paid + processing`;
/// across the reads that is `before.paid <= collected <= after.paid +
/// after.processing` (a payment collected between them is paid or still
/// processing by `after`).
pub fn check_ledger(
    collected: Decimal,
    before: Collection,
    after: Option<Collection>,
) -> LedgerCheck {
    let bound = match after {
        _ if collected < before.paid => return LedgerCheck::Disagrees,
        Some(after) => after,
        None if collected <= before.paid + before.processing => return LedgerCheck::Agrees,
        None => return LedgerCheck::ReadPaymentsAgain,
    };
    if collected > bound.paid + bound.processing {
        LedgerCheck::Disagrees
    } else {
        LedgerCheck::Agrees
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use shared_types::AmountInput;

    fn amount(s: &str) -> Amount {
        Amount::parse(&AmountInput::from(s)).unwrap()
    }

    #[test]
    fn payments_add_up_to_the_advance_and_the_last_takes_the_remainder() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let week = Duration::from_secs(7 * 86400);
        let plan = schedule(
            amount("100.00"),
            Installments::parse(Some(12)).unwrap(),
            start,
            week,
        )
        .unwrap();
        assert_eq!(plan.len(), 12);
        assert!(plan[..11].iter().all(|p| p.amount == Decimal::new(833, 2)));
        assert_eq!(plan[11].amount, Decimal::new(837, 2));
        assert_eq!(
            plan.iter().map(|p| p.amount).sum::<Decimal>(),
            Decimal::from(100)
        );
        assert_eq!(plan[0].due_at, start + chrono::Duration::days(7));
        assert_eq!(plan[11].due_at, start + chrono::Duration::days(84));
        assert_eq!((plan[0].seq, plan[11].seq), (1, 12));
    }

    #[test]
    fn installments_default_to_12_and_stay_within_1_to_104() {
        assert_eq!(Installments::parse(None).unwrap().value(), 12);
        assert!(Installments::parse(Some(0)).is_err());
        assert!(Installments::parse(Some(105)).is_err());
        assert!(Installments::parse(Some(i64::MAX)).is_err());
    }

    #[test]
    fn an_advance_too_small_to_split_is_refused() {
        let err = schedule(
            amount("0.11"),
            Installments::parse(Some(12)).unwrap(),
            Utc::now(),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert_eq!(err.code, "amount_too_small");
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        assert_eq!(retry_backoff(1), Duration::from_secs(1));
        assert_eq!(retry_backoff(3), Duration::from_secs(4));
        assert_eq!(retry_backoff(50), Duration::from_secs(60));
    }

    #[test]
    fn the_ledger_is_checked_between_a_read_of_the_payments_before_it_and_one_after() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let sums = |paid: &str, processing: &str| Collection {
            paid: d(paid),
            processing: d(processing),
        };
        // Paid but never withdrawn: wrong whatever comes after.
        assert_eq!(
            check_ledger(d("5"), sums("10", "0"), None),
            LedgerCheck::Disagrees
        );
        // Withdrawn, not yet marked: a payment in flight.
        assert_eq!(
            check_ledger(d("15"), sums("10", "5"), None),
            LedgerCheck::Agrees
        );
        // A payment claimed and collected after the first read: the second tells.
        assert_eq!(
            check_ledger(d("15"), sums("10", "0"), None),
            LedgerCheck::ReadPaymentsAgain
        );
        assert_eq!(
            check_ledger(d("15"), sums("10", "0"), Some(sums("15", "0"))),
            LedgerCheck::Agrees
        );
        assert_eq!(
            check_ledger(d("15"), sums("10", "0"), Some(sums("10", "5"))),
            LedgerCheck::Agrees
        );
        // Collected twice: more than all there is to collect, even after.
        assert_eq!(
            check_ledger(d("20"), sums("10", "0"), Some(sums("15", "0"))),
            LedgerCheck::Disagrees
        );
    }
}
