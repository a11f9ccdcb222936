//! An account's standing: freeze (money in, none out of its balance),
//! unfreeze, close (empty only, for good). Each is decided under the
//! account's lock, so a freeze and a movement racing on one account end in
//! one order: a movement applied after the freeze is refused by the posting
//! rules (`posting::decide`).

use shared_types::accounts::{AccountId, AccountStatus};

use super::{Names, Outcome, Rule};
use crate::domain::books::{account_locks, Books, Lock, Maker};
use crate::domain::refusal::Refusal;
use crate::domain::CallerText;

/// What happens to the account's standing.
#[derive(Debug, Clone)]
pub enum Standing {
    Freeze(CallerText),
    Unfreeze,
    Close(CallerText),
}

/// Changes `account`'s standing.
#[derive(Debug, Clone)]
pub struct SetStatus {
    pub account: AccountId,
    pub standing: Standing,
}

impl Rule for SetStatus {
    fn names(&self, _: &mut Names) {
        // Only the account, which `plan` locks.
    }

    fn plan(&self, _: &mut Books) -> Vec<Lock> {
        account_locks(self.account, None)
    }

    fn apply(&self, books: &mut Books, _: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let account = books.user_account(self.account)?;
        let id = account.id;
        let refuse = |why| Err(Refusal::Standing { account: id, why });
        let (status, reason) = match (&self.standing, account.status) {
            (_, AccountStatus::Closed) => return refuse(StandingRefusal::Closed),
            (Standing::Freeze(_), AccountStatus::Frozen) => return refuse(StandingRefusal::Frozen),
            (Standing::Freeze(reason), AccountStatus::Active) => {
                (AccountStatus::Frozen, Some(reason))
            }
            (Standing::Unfreeze, AccountStatus::Active) => {
                return refuse(StandingRefusal::NotFrozen)
            }
            (Standing::Unfreeze, AccountStatus::Frozen) => (AccountStatus::Active, None),
            (Standing::Close(reason), AccountStatus::Active | AccountStatus::Frozen) => {
                if !account.balance.is_zero() || !account.reserved.is_zero() {
                    return refuse(StandingRefusal::NotEmpty);
                }
                (AccountStatus::Closed, Some(reason))
            }
        };
        let reason = reason.map(|r| r.as_str().to_owned());
        Ok(Outcome::Account(books.set_status(id, status, reason)?))
    }
}

/// Why a standing cannot change: the account is already so, or must first be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandingRefusal {
    /// Frozen already (a freeze).
    Frozen,
    /// Not frozen (an unfreeze).
    NotFrozen,
    /// Money or holds left (a close).
    NotEmpty,
    /// Closed for good (anything).
    Closed,
}

impl StandingRefusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::Frozen => "account_frozen",
            Self::NotFrozen => "account_not_frozen",
            Self::NotEmpty => "account_not_empty",
            Self::Closed => "account_closed",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Self::Frozen => "is frozen already",
            Self::NotFrozen => "is not frozen",
            Self::NotEmpty => {
                "still holds money (balance or reserved): only an empty account closes"
            }
            Self::Closed => "is closed",
        }
    }
}
