//! How far behind an advance is: its missed chain, the failed payments since
//! its last collection (or since it was made or rescheduled). The rule, with
//! no I/O; the store keeps the figures with the advance and changes them in
//! the transaction that stores the outcome that changes them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// An advance's missed chain, as the Advance shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overdue {
    /// How many payments the chain holds.
    pub missed: i32,
    /// The money that fell due in it and is still uncollected: the amount of
    /// its latest failed payment (each failure carries everything before it
    /// forward, so this is not the sum of the failed amounts).
    pub amount: Decimal,
    /// The due time of its first payment.
    pub since: Option<DateTime<Utc>>,
}

/// What became of one of an advance's payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Collected: the chain ends.
    Collected,
    /// Refused for funds: the payment, its amount as asked (with everything
    /// carried into it) and its due time join the chain.
    Failed {
        amount: Decimal,
        due_at: DateTime<Utc>,
    },
}

impl Overdue {
    /// No payment missed.
    pub const NONE: Overdue = Overdue {
        missed: 0,
        amount: Decimal::ZERO,
        since: None,
    };

    /// The chain after `outcome`.
    pub fn after(self, outcome: Outcome) -> Overdue {
        match outcome {
            Outcome::Collected => Overdue::NONE,
            Outcome::Failed { amount, due_at } => Overdue {
                missed: self.missed.saturating_add(1),
                amount,
                since: self.since.or(Some(due_at)),
            },
        }
    }

    /// The portfolio's aging bucket of an advance with this chain: `0`,
    /// `1`, `2-3` or `4+` missed installments (the database's
    /// `portfolio_bucket` keeps the same bounds).
    pub fn bucket(self) -> Bucket {
        match self.missed {
            ..=0 => Bucket::Current,
            1 => Bucket::One,
            2..=3 => Bucket::TwoToThree,
            _ => Bucket::FourOrMore,
        }
    }
}

/// The portfolio's aging buckets, in the report's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bucket {
    Current,
    One,
    TwoToThree,
    FourOrMore,
}

impl Bucket {
    pub const ALL: [Bucket; 4] = [
        Bucket::Current,
        Bucket::One,
        Bucket::TwoToThree,
        Bucket::FourOrMore,
    ];

    /// The report's name of the bucket.
    pub fn label(self) -> &'static str {
        match self {
            Bucket::Current => "0",
            Bucket::One => "1",
            Bucket::TwoToThree => "2-3",
            Bucket::FourOrMore => "4+",
        }
    }

    /// Its number in the database (`portfolio_rollup.bucket`).
    pub fn index(self) -> i16 {
        self as i16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    fn failed(amount: i64, day: u32) -> Outcome {
        Outcome::Failed {
            amount: Decimal::from(amount),
            due_at: at(day),
        }
    }

    #[test]
    fn the_contracts_example_ninety_in_three_payments_of_thirty() {
        let first = Overdue::NONE.after(failed(30, 1));
        assert_eq!(
            first,
            Overdue {
                missed: 1,
                amount: Decimal::from(30),
                since: Some(at(1))
            }
        );
        // The second payment was asked 60.00 (30.00 carried into it).
        let second = first.after(failed(60, 8));
        assert_eq!(
            second,
            Overdue {
                missed: 2,
                amount: Decimal::from(60),
                since: Some(at(1))
            },
            "the latest failed amount, not the sum; since the first's due time"
        );
        assert_eq!(second.after(Outcome::Collected), Overdue::NONE);
    }

    #[test]
    fn a_chain_after_a_collection_starts_again() {
        let chain = Overdue::NONE
            .after(failed(30, 1))
            .after(Outcome::Collected)
            .after(failed(25, 15));
        assert_eq!(
            chain,
            Overdue {
                missed: 1,
                amount: Decimal::from(25),
                since: Some(at(15))
            }
        );
    }

    #[test]
    fn buckets_by_missed_installments() {
        let with = |missed| Overdue {
            missed,
            ..Overdue::NONE
        };
        let buckets: Vec<&str> = [0, 1, 2, 3, 4, 9]
            .into_iter()
            .map(|m| with(m).bucket().label())
            .collect();
        assert_eq!(buckets, ["0", "1", "2-3", "2-3", "4+", "4+"]);
        assert_eq!(
            Bucket::ALL.map(Bucket::index),
            [0, 1, 2, 3],
            "as the database numbers them"
        );
    }
}
