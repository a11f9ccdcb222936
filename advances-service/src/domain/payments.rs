//! What becomes of an advance's open payments when one fails for funds,
//! when the advance is paid off early, or when it is rescheduled
//! (re-aged): the rules, with no I/O. The store
//! reads the payments under the advance's locks and carries out what these
//! decide.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use shared_types::advances::{AdvanceStatus, PaymentId, PaymentStatus};

use service_kit::rule::RuleViolation;

use super::{Installments, PlannedPayment};

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

/// Why an advance's plan cannot be changed now (paid off or rescheduled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NotActive,
    /// A worker is collecting one of its payments: it is waited for, never
    /// cancelled under the worker.
    PaymentInProgress,
    /// The new plan breaks a rule (too little left to split so).
    Plan(RuleViolation),
}

/// The payments a change of plan cancels: every scheduled one, once the
/// advance is active and no payment is being collected.
fn cancellable(status: AdvanceStatus, open: &[OpenPayment]) -> Result<Vec<&OpenPayment>, Refused> {
    if status != AdvanceStatus::Active {
        return Err(Refused::NotActive);
    }
    if open.iter().any(|p| p.status == PaymentStatus::Processing) {
        return Err(Refused::PaymentInProgress);
    }
    Ok(open
        .iter()
        .filter(|p| p.status == PaymentStatus::Scheduled)
        .collect())
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
) -> Result<Payoff, Refused> {
    let scheduled = cancellable(status, open)?;
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

/// What a reschedule does: cancels the scheduled payments and splits what
/// they held (the advance's outstanding amount: nothing is processing) into
/// a new plan, numbered on from the last payment. The missed chain ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reschedule {
    pub cancel: Vec<PaymentId>,
    pub plan: Vec<PlannedPayment>,
}

/// Re-ages an advance in `status` whose open payments are `open` and whose
/// last payment is `last_seq`: `installments` new payments, the first due at
/// `first_due_at` (checked against the request's arrival before), the others
/// one `interval` apart. With nothing scheduled there is nothing to split:
/// no payment is cancelled or added (the chain still ends).
pub fn reschedule(
    status: AdvanceStatus,
    open: &[OpenPayment],
    last_seq: Option<i32>,
    installments: Installments,
    first_due_at: DateTime<Utc>,
    interval: Duration,
) -> Result<Reschedule, Refused> {
    let scheduled = cancellable(status, open)?;
    let outstanding: Decimal = scheduled.iter().map(|p| p.amount).sum();
    let plan = if outstanding.is_zero() {
        Vec::new()
    } else {
        super::plan(
            outstanding,
            installments,
            last_seq.unwrap_or(0) + 1,
            first_due_at,
            interval,
        )
        .map_err(Refused::Plan)?
    };
    Ok(Reschedule {
        cancel: scheduled.iter().map(|p| p.id).collect(),
        plan,
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
            Err(Refused::PaymentInProgress)
        );
        assert_eq!(
            pay_off(AdvanceStatus::Repaid, &open[1..], Some(4), Utc::now()),
            Err(Refused::NotActive)
        );
    }

    fn plan_of(reschedule: &Reschedule) -> Vec<(i32, Decimal, DateTime<Utc>)> {
        reschedule
            .plan
            .iter()
            .map(|p| (p.seq, p.amount, p.due_at))
            .collect()
    }

    #[test]
    fn a_reschedule_splits_what_is_scheduled_into_the_new_plan_numbered_on() {
        // Payments 1 and 2 failed and were carried: 3 holds 60.00, 4 holds 30.00.
        let open = [
            payment(3, 60, PaymentStatus::Scheduled),
            payment(4, 30, PaymentStatus::Scheduled),
        ];
        let first = Utc::now() + chrono::Duration::days(3);
        let installments = Installments::parse(Some(4)).unwrap();
        let plan = reschedule(
            AdvanceStatus::Active,
            &open,
            Some(4),
            installments,
            first,
            WEEK,
        )
        .unwrap();
        assert_eq!(plan.cancel, [open[0].id, open[1].id]);
        let week = chrono::Duration::days(7);
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(
            plan_of(&plan),
            [
                (5, d("22.50"), first),
                (6, d("22.50"), first + week),
                (7, d("22.50"), first + week * 2),
                (8, d("22.50"), first + week * 3),
            ]
        );
        // The rounding rule: 100.00 / 3 is 33.33, 33.33, 33.34.
        let open = [payment(2, 100, PaymentStatus::Scheduled)];
        let three = Installments::parse(Some(3)).unwrap();
        let amounts: Vec<Decimal> =
            reschedule(AdvanceStatus::Active, &open, Some(2), three, first, WEEK)
                .unwrap()
                .plan
                .iter()
                .map(|p| p.amount)
                .collect();
        assert_eq!(amounts, [d("33.33"), d("33.33"), d("33.34")]);
    }

    #[test]
    fn a_reschedule_waits_for_a_payment_in_progress_and_needs_an_active_advance() {
        let open = [
            payment(3, 10, PaymentStatus::Processing),
            payment(4, 12, PaymentStatus::Scheduled),
        ];
        let two = Installments::parse(Some(2)).unwrap();
        let now = Utc::now();
        assert_eq!(
            reschedule(AdvanceStatus::Active, &open, Some(4), two, now, WEEK),
            Err(Refused::PaymentInProgress)
        );
        assert_eq!(
            reschedule(AdvanceStatus::Repaid, &open[1..], Some(4), two, now, WEEK),
            Err(Refused::NotActive)
        );
        assert_eq!(
            reschedule(
                AdvanceStatus::Disbursing,
                &open[1..],
                Some(4),
                two,
                now,
                WEEK
            ),
            Err(Refused::NotActive)
        );
    }

    #[test]
    fn a_reschedule_too_fine_for_what_is_left_is_refused() {
        let open = [OpenPayment {
            amount: "0.05".parse().unwrap(),
            ..payment(4, 0, PaymentStatus::Scheduled)
        }];
        let eight = Installments::parse(Some(8)).unwrap();
        match reschedule(
            AdvanceStatus::Active,
            &open,
            Some(4),
            eight,
            Utc::now(),
            WEEK,
        ) {
            Err(Refused::Plan(rule)) => assert_eq!(rule.code, "amount_too_small"),
            other => panic!("{other:?}"),
        }
    }
}
