//! What becomes of an advance's open payments when one fails for funds or
//! when the advance is paid off early: the rules, with no I/O. The store
//! reads the payments under the advance's locks and carries out what these
//! decide.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared_types::advances::{AdvanceStatus, PaymentId, PaymentStatus};

use super::PlannedPayment;

/// A payment of an advance as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPayment {
    pub id: PaymentId,
    pub seq: i32,
    pub amount: Decimal,
    pub status: PaymentStatus,
}

/// Where the amount of a payment that failed for funds goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollOver {
    /// Added to the next scheduled payment.
    Into { payment: PaymentId, amount: Decimal },
    /// A new payment, one interval from now, when none is scheduled after it.
    Append(PlannedPayment),
}

/// A failed payment's amount rolls into `next`, the advance's next scheduled
/// payment after it, or, with none left, into a payment appended after the
/// advance's last (`last_seq`) and due one `interval` from `now`.
pub fn roll_over(
    failed: &OpenPayment,
    next: Option<PaymentId>,
    last_seq: Option<i32>,
    now: DateTime<Utc>,
    interval: Duration,
) -> RollOver {
    match next {
        Some(payment) => RollOver::Into {
            payment,
            amount: failed.amount,
        },
        None => RollOver::Append(PlannedPayment {
            seq: last_seq.unwrap_or(failed.seq) + 1,
            amount: failed.amount,
            due_at: now + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::days(7)),
        }),
    }
}

/// Why an advance cannot be paid off now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayoffRefused {
    NotActive,
    /// A worker is collecting one of its payments: it is waited for, never
    /// cancelled under the worker.
    PaymentInProgress,
}

/// What an early payoff does: cancels the scheduled payments and appends one
/// payment of their sum, due now (nothing when none is left).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payoff {
    pub cancel: Vec<PaymentId>,
    pub due: Option<PlannedPayment>,
}

/// The payoff of an advance in `status` whose open (scheduled or
/// processing) payments are `open` and whose last payment is `last_seq`.
pub fn pay_off(
    status: AdvanceStatus,
    open: &[OpenPayment],
    last_seq: Option<i32>,
    now: DateTime<Utc>,
) -> Result<Payoff, PayoffRefused> {
    if status != AdvanceStatus::Active {
        return Err(PayoffRefused::NotActive);
    }
    if open.iter().any(|p| p.status == PaymentStatus::Processing) {
        return Err(PayoffRefused::PaymentInProgress);
    }
    let scheduled: Vec<&OpenPayment> = open
        .iter()
        .filter(|p| p.status == PaymentStatus::Scheduled)
        .collect();
    let due = (!scheduled.is_empty()).then(|| PlannedPayment {
        seq: last_seq.unwrap_or(0) + 1,
        amount: scheduled.iter().map(|p| p.amount).sum(),
        due_at: now,
    });
    Ok(Payoff {
        cancel: scheduled.iter().map(|p| p.id).collect(),
        due,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn payment(seq: i32, amount: i64, status: PaymentStatus) -> OpenPayment {
        OpenPayment {
            id: PaymentId(Uuid::now_v7()),
            seq,
            amount: Decimal::from(amount),
            status,
        }
    }

    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

    #[test]
    fn a_failed_payment_rolls_into_the_next_scheduled_one() {
        let failed = payment(2, 10, PaymentStatus::Processing);
        let next = PaymentId(Uuid::now_v7());
        assert_eq!(
            roll_over(&failed, Some(next), Some(4), Utc::now(), WEEK),
            RollOver::Into {
                payment: next,
                amount: Decimal::from(10)
            }
        );
    }

    #[test]
    fn a_failed_last_payment_is_appended_one_interval_later() {
        let failed = payment(4, 10, PaymentStatus::Processing);
        let now = Utc::now();
        assert_eq!(
            roll_over(&failed, None, Some(4), now, WEEK),
            RollOver::Append(PlannedPayment {
                seq: 5,
                amount: Decimal::from(10),
                due_at: now + chrono::Duration::days(7)
            })
        );
    }

    #[test]
    fn a_payoff_cancels_what_is_scheduled_and_asks_its_sum_now() {
        let open = [
            payment(3, 10, PaymentStatus::Scheduled),
            payment(4, 12, PaymentStatus::Scheduled),
        ];
        let now = Utc::now();
        let payoff = pay_off(AdvanceStatus::Active, &open, Some(4), now).unwrap();
        assert_eq!(payoff.cancel, [open[0].id, open[1].id]);
        assert_eq!(
            payoff.due,
            Some(PlannedPayment {
                seq: 5,
                amount: Decimal::from(22),
                due_at: now
            })
        );
        assert_eq!(
            pay_off(AdvanceStatus::Active, &[], Some(4), now),
            Ok(Payoff {
                cancel: Vec::new(),
                due: None
            }),
            "nothing left: nothing to do"
        );
    }

    #[test]
    fn a_payoff_waits_for_a_payment_in_progress_and_needs_an_active_advance() {
        let open = [
            payment(3, 10, PaymentStatus::Processing),
            payment(4, 12, PaymentStatus::Scheduled),
        ];
        assert_eq!(
            pay_off(AdvanceStatus::Active, &open, Some(4), Utc::now()),
            Err(PayoffRefused::PaymentInProgress)
        );
        assert_eq!(
            pay_off(AdvanceStatus::Repaid, &open[1..], Some(4), Utc::now()),
            Err(PayoffRefused::NotActive)
        );
    }
}
