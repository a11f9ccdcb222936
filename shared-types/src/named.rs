//! Closed sets of values with one name each, the same on the wire and in a
//! database column (`"deposit"`, `"captured"`, ...).

/// An enum whose every value has one text name.
pub trait Named: Sized + Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];

    fn name(self) -> &'static str;

    /// The value of a name; `None` for a name the enum does not know.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|value| value.name() == name)
    }
}

/// Implements [`Named`] from one table of names.
#[macro_export]
macro_rules! named {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $crate::named::Named for $ty {
            const ALL: &'static [Self] = &[$(<$ty>::$variant),+];

            fn name(self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $name),+
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::Named;
    use crate::accounts::{ReservationStatus, TransactionStatus, TransactionType};
    use crate::advances::{AdvanceEventType, AdvanceStatus, PaymentStatus};

    /// Each name is the value's JSON name, so the column and the wire agree.
    fn names_are_the_wire_names<T: Named + serde::Serialize>() {
        for value in T::ALL {
            let wire = serde_json::to_string(value).unwrap();
            assert_eq!(wire, format!("\"{}\"", value.name()));
            assert!(T::from_name(value.name()).is_some());
        }
        assert!(T::from_name("no such value").is_none());
    }

    #[test]
    fn every_named_enum_is_named_as_on_the_wire() {
        names_are_the_wire_names::<TransactionType>();
        names_are_the_wire_names::<TransactionStatus>();
        names_are_the_wire_names::<ReservationStatus>();
        names_are_the_wire_names::<AdvanceStatus>();
        names_are_the_wire_names::<PaymentStatus>();
        names_are_the_wire_names::<AdvanceEventType>();
    }
}
