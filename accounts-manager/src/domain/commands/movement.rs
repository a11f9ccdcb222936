//! Money in, out and between accounts: deposits, withdrawals, transfers.

use shared_types::accounts::{AccountId, TransactionType};

use super::{moved, Names, Notes, Outcome, Rule, Target};
use crate::domain::books::{Books, Lock, Maker};
use crate::domain::movement::Movement;
use crate::domain::posting::{AccountKind, Bucket};
use crate::domain::refusal::{Party, Refusal};
use crate::domain::Amount;

/// Money from outside into an account, or into the user's account of a
/// currency; `opens` is the account opened for a user who has none.
#[derive(Debug, Clone)]
pub struct Deposit {
    pub to: Target,
    pub opens: AccountId,
    pub amount: Amount,
    pub notes: Notes,
}

impl Rule for Deposit {
    fn names(&self, names: &mut Names) {
        names.target(&self.to);
        if let Target::User(_, currency) = &self.to {
            names.currencies.push(currency.clone());
        }
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        books
            .plan_target(&self.to, Some(AccountKind::External), Some(self.opens))
            .1
    }

    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let to = books.resolve(&self.to, Some(self.opens))?;
        outside(books, Way::In, to, self.amount, &self.notes, maker)
    }
}

/// Money from an account to the outside.
#[derive(Debug, Clone)]
pub struct Withdrawal {
    pub from: Target,
    pub amount: Amount,
    pub notes: Notes,
}

impl Rule for Withdrawal {
    fn names(&self, names: &mut Names) {
        names.target(&self.from);
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        books
            .plan_target(&self.from, Some(AccountKind::External), None)
            .1
    }

    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let from = books.resolve(&self.from, None)?;
        outside(books, Way::Out, from, self.amount, &self.notes, maker)
    }
}

/// Which way money crosses between an account and the outside.
#[derive(Debug, Clone, Copy)]
enum Way {
    In,
    Out,
}

/// Money between `account` and the outside world: the external account of
/// its currency (of the batch's shard).
fn outside(
    books: &mut Books,
    way: Way,
    account: AccountId,
    amount: Amount,
    notes: &Notes,
    maker: &mut Maker<'_>,
) -> Result<Outcome, Refusal> {
    let external = (
        books.system_of(AccountKind::External, account)?,
        Bucket::Balance,
    );
    let user = (account, Bucket::Balance);
    let (kind, source, destination, shown) = match way {
        Way::In => (
            TransactionType::Deposit,
            external,
            user,
            (None, Some(account)),
        ),
        Way::Out => (
            TransactionType::Withdrawal,
            user,
            external,
            (Some(account), None),
        ),
    };
    let movement = Movement {
        kind,
        source,
        destination,
        shown,
        amount,
        notes: Some(notes),
        order: None,
        reverses: None,
        conversion: None,
    };
    Ok(moved(books.post(&movement, maker)?, None))
}

/// Money between two accounts of one currency; `from` is where it leaves
/// (a `credit` direction already turned around).
#[derive(Debug, Clone)]
pub struct Transfer {
    pub from: Target,
    pub to: Target,
    pub amount: Amount,
    pub notes: Notes,
}

impl Transfer {
    /// The two accounts, refused when either does not exist (naming the
    /// party) or both are one account: the one check of that rule.
    pub(super) fn sides(
        &self,
        books: &mut Books,
    ) -> Result<(AccountId, AccountId), (Option<Party>, Refusal)> {
        let party = |target: &Target, by_account, by_user| match target {
            Target::Account(_) => Some(by_account),
            Target::User(..) => Some(by_user),
        };
        let to_party = party(&self.to, Party::ToAccount, Party::ToUser);
        if self.from == self.to {
            return Err((to_party, Refusal::SameAccount));
        }
        let from = books
            .resolve(&self.from, None)
            .map_err(|r| (party(&self.from, Party::FromAccount, Party::FromUser), r))?;
        let to = books.resolve(&self.to, None).map_err(|r| (to_party, r))?;
        if from == to {
            return Err((to_party, Refusal::SameAccount));
        }
        Ok((from, to))
    }

    /// The movement between the two accounts.
    pub(super) fn movement(&self, (from, to): (AccountId, AccountId)) -> Movement<'_> {
        Movement {
            kind: TransactionType::Transfer,
            source: (from, Bucket::Balance),
            destination: (to, Bucket::Balance),
            shown: (Some(from), Some(to)),
            amount: self.amount,
            notes: Some(&self.notes),
            order: None,
            reverses: None,
            conversion: None,
        }
    }
}

impl Rule for Transfer {
    fn names(&self, names: &mut Names) {
        names.target(&self.from);
        names.target(&self.to);
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        let mut locks = books.plan_target(&self.from, None, None).1;
        locks.extend(books.plan_target(&self.to, None, None).1);
        locks
    }

    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let sides = self.sides(books).map_err(|(_, refusal)| refusal)?;
        let record = books.post(&self.movement(sides), maker)?;
        Ok(moved(record, Some(books.balances(sides)?)))
    }
}
