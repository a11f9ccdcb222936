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
