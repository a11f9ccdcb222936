//! One movement of money between two accounts' buckets, as every command
//! makes it, and the sentence that describes it.

use shared_types::accounts::{AccountId, TransactionId, TransactionType};

use super::commands::Notes;
use super::posting::{Bucket, FailureReason};
use super::{Amount, CallerText, Currency, OrderRef, Rate};

/// One movement between two accounts' buckets.
#[derive(Debug, Clone)]
pub struct Movement<'a> {
    pub kind: TransactionType,
    pub source: (AccountId, Bucket),
    pub destination: (AccountId, Bucket),
    /// The user accounts the transaction names as `from` / `to`; `None`
    /// stands for a system account.
    pub shown: (Option<AccountId>, Option<AccountId>),
    pub amount: Amount,
    pub notes: Option<&'a Notes>,
    /// The order a reservation, capture or release (or a capture's reversal)
    /// is about.
    pub order: Option<&'a OrderRef>,
    /// The transaction a reversal reverses.
    pub reverses: Option<TransactionId>,
    /// An exchange's (or its reversal's) leg in the other currency.
    pub conversion: Option<Conversion>,
}

/// The other currency's leg of an exchange or of its reversal: the
/// movement's `amount` at `rate` is `converted` of `currency`, moved between
/// these buckets.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub rate: Rate,
    pub converted: Amount,
    pub currency: Currency,
    pub source: (AccountId, Bucket),
    pub destination: (AccountId, Bucket),
}

/// A sentence saying where the money came from and went, and why.
pub fn describe(
    movement: &Movement<'_>,
    currency: &Currency,
    failure: Option<FailureReason>,
) -> String {
    let Movement {
        kind,
        amount,
        shown: (from, to),
        order,
        reverses,
        notes,
        conversion,
        ..
    } = movement;
    let caller_description = notes
        .and_then(|n| n.description.as_ref())
        .map(CallerText::as_str);
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
        TransactionType::Exchange => {
            let (rate, converted) = converted(conversion.as_ref());
            format!(
                "{amount} {currency} exchanged at {rate} from {} into {converted} to {}",
                account(from),
                account(to)
            )
        }
        TransactionType::Reversal if conversion.is_some() => {
            let (rate, converted) = converted(conversion.as_ref());
            format!(
                "{converted} from {} exchanged back at {rate} into {amount} {currency} to {}, reversing transaction {}",
                account(from),
                account(to),
                reverses.map_or_else(|| "?".to_owned(), |id| id.to_string()),
            )
        }
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

/// An exchange's rate and `92.15 EUR`.
fn converted(conversion: Option<&Conversion>) -> (String, String) {
    conversion.map_or_else(
        || ("?".to_owned(), "?".to_owned()),
        |c| {
            (
                c.rate.to_string(),
                format!("{} {}", c.converted, c.currency),
            )
        },
    )
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

    fn amount(s: &str) -> Amount {
        Amount::parse(&AmountInput::from(s)).unwrap()
    }

    fn movement<'a>(
        kind: TransactionType,
        value: &str,
        shown: (Option<AccountId>, Option<AccountId>),
        notes: Option<&'a Notes>,
        order: Option<&'a OrderRef>,
    ) -> Movement<'a> {
        let side = (AccountId(Uuid::nil()), Bucket::Balance);
        Movement {
            kind,
            source: side,
            destination: side,
            shown,
            amount: amount(value),
            notes,
            order,
            reverses: None,
            conversion: None,
        }
    }

    #[test]
    fn descriptions_name_both_sides_and_the_reason() {
        let usd = Currency::parse("USD").unwrap();
        let (a, b) = (AccountId(Uuid::nil()), AccountId(Uuid::max()));
        let notes = Notes {
            description: CallerText::parse("description", Some("rent")).unwrap(),
            reference: None,
            metadata: Default::default(),
        };
        let m = movement(
            TransactionType::Transfer,
            "500",
            (Some(a), Some(b)),
            Some(&notes),
            None,
        );
        assert_eq!(
            describe(&m, &usd, None),
            format!("500.00 USD transferred from account {a} to account {b} (rent)")
        );
        assert_eq!(
            describe(&m, &usd, Some(FailureReason::InsufficientFunds)),
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
        let m = movement(
            TransactionType::Reservation,
            "170000",
            (Some(a), None),
            None,
            Some(&order),
        );
        assert_eq!(
            describe(&m, &usd, None),
            format!("170000.00 USD reserved from account {a} for order 7, service 3")
        );
    }
}
