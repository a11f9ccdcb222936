//! Opening an account for a user.

use shared_types::accounts::AccountId;

use super::{Names, Outcome, Rule};
use crate::domain::books::{Books, Lock, Maker};
use crate::domain::refusal::Refusal;
use crate::domain::{Currency, Metadata, UserId};

/// Opens account `id` of `currency` for `user`. It is the user's oldest of
/// the currency unless the user already has one; nothing is refused.
#[derive(Debug, Clone)]
pub struct Open {
    pub user: UserId,
    pub currency: Currency,
    pub id: AccountId,
    pub metadata: Metadata,
}

impl Rule for Open {
    fn names(&self, names: &mut Names) {
        names.users.push((self.user, self.currency.clone()));
        names.currencies.push(self.currency.clone());
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        books.plan_open(self.user, &self.currency, self.id);
        Vec::new()
    }

    fn apply(&self, books: &mut Books, _: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        Ok(Outcome::Opened(books.open(
            self.user,
            &self.currency,
            self.id,
            self.metadata.clone(),
        )))
    }
}
