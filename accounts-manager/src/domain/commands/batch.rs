//! Transfer batches: transfers applied in order in one command, all or
//! nothing (`atomic`) or each on its own.

use super::{Names, Outcome, Rule, Transfer};
use crate::domain::books::{Books, Lock, Maker};
use crate::domain::posting::FailureReason;
use crate::domain::refusal::Refusal;

/// Transfers in order (a later one may spend what an earlier one brought
/// in): all or nothing when `atomic`, each on its own otherwise.
#[derive(Debug, Clone)]
pub struct TransferBatch {
    pub atomic: bool,
    pub transfers: Vec<Transfer>,
}

impl Rule for TransferBatch {
    fn names(&self, names: &mut Names) {
        for transfer in &self.transfers {
            transfer.names(names);
        }
    }

    fn plan(&self, books: &mut Books) -> Vec<Lock> {
        self.transfers
            .iter()
            .flat_map(|transfer| transfer.plan(books))
            .collect()
    }

    /// A transfer that names no account, or one account twice, refuses the
    /// whole batch. Otherwise each transfer is applied once, in order; when
    /// an atomic batch has one refused, every transfer applied is undone,
    /// the latest first, and each is recorded as failed: with its own
    /// reason, or `linked_transfer_failed`.
    fn apply(&self, books: &mut Books, maker: &mut Maker<'_>) -> Result<Outcome, Refusal> {
        let mut sides = Vec::with_capacity(self.transfers.len());
        for (index, transfer) in self.transfers.iter().enumerate() {
            sides.push(
                transfer
                    .sides(books)
                    .map_err(|(party, refusal)| Refusal::InBatch {
                        index,
                        party,
                        refusal: Box::new(refusal),
                    })?,
            );
        }
        let mark = books.mark();
        let mut items = Vec::with_capacity(self.transfers.len());
        for (transfer, sides) in self.transfers.iter().zip(&sides) {
            let record = books.post(&transfer.movement(*sides), maker)?;
            let balances = match record.failure {
                None => Some(books.balances(*sides)?),
                Some(_) => None,
            };
            items.push((record, balances));
        }
        let broken = items.iter().any(|(record, _)| record.failure.is_some());
        if self.atomic && broken {
            let faults: Vec<_> = items.iter().map(|(record, _)| record.failure).collect();
            books.undo(mark);
            items.clear();
            for ((transfer, sides), fault) in self.transfers.iter().zip(&sides).zip(faults) {
                let reason = fault.unwrap_or(FailureReason::LinkedTransferFailed);
                let record =
                    books.post_or_refuse(&transfer.movement(*sides), Some(reason), maker)?;
                items.push((record, None));
            }
        }
        Ok(Outcome::Batch {
            atomic: self.atomic,
            items,
        })
    }
}
