//! The `transactions` and `entries` tables: what moved, and the postings it made.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::{entries, transactions};
use crate::domain::ledger::{FailureReason, Posting};
use shared_types::accounts::{
    AccountId, Transaction, TransactionId, TransactionStatus, TransactionType,
};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = transactions)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct TransactionRow {
    pub id: Uuid,
    pub kind: String,
    pub status: String,
    pub reason: Option<String>,
    pub amount: Decimal,
    pub currency: String,
    pub from_account_id: Option<Uuid>,
    pub to_account_id: Option<Uuid>,
    pub order_id: Option<i64>,
    pub service_id: Option<i64>,
    pub reference: Option<String>,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// A transaction about to be recorded.
pub struct NewTransaction<'a> {
    pub kind: TransactionType,
    pub failure: Option<FailureReason>,
    pub amount: Decimal,
    pub currency: &'a str,
    pub from: Option<AccountId>,
    pub to: Option<AccountId>,
    pub order_id: Option<i64>,
    pub service_id: Option<i64>,
    pub reference: Option<&'a str>,
    pub description: &'a str,
}

pub fn kind_str(kind: TransactionType) -> &'static str {
    match kind {
        TransactionType::Deposit => "deposit",
        TransactionType::Withdrawal => "withdrawal",
        TransactionType::Transfer => "transfer",
        TransactionType::Reservation => "reservation",
        TransactionType::Release => "release",
        TransactionType::Capture => "capture",
    }
}

fn parse_kind(kind: &str) -> TransactionType {
    match kind {
        "deposit" => TransactionType::Deposit,
        "withdrawal" => TransactionType::Withdrawal,
        "transfer" => TransactionType::Transfer,
        "reservation" => TransactionType::Reservation,
        "release" => TransactionType::Release,
        // The column's CHECK admits nothing else.
        _ => TransactionType::Capture,
    }
}

/// Records a transaction and, when it succeeded, its postings.
pub fn record(
    conn: &mut PgConnection,
    new: &NewTransaction<'_>,
    postings: &[Posting],
) -> QueryResult<TransactionRow> {
    let id = Uuid::now_v7();
    let row = diesel::insert_into(transactions::table)
        .values((
            transactions::id.eq(id),
            transactions::kind.eq(kind_str(new.kind)),
            transactions::status.eq(if new.failure.is_some() {
                "failed"
            } else {
                "success"
            }),
            transactions::reason.eq(new.failure.map(FailureReason::code)),
            transactions::amount.eq(new.amount),
            transactions::currency.eq(new.currency),
            transactions::from_account_id.eq(new.from.map(|a| a.0)),
            transactions::to_account_id.eq(new.to.map(|a| a.0)),
            transactions::order_id.eq(new.order_id),
            transactions::service_id.eq(new.service_id),
            transactions::reference.eq(new.reference),
            transactions::description.eq(new.description),
        ))
        .returning(TransactionRow::as_returning())
        .get_result(conn)?;
    if !postings.is_empty() {
        let rows: Vec<_> = postings
            .iter()
            .map(|p| {
                (
                    entries::transaction_id.eq(id),
                    entries::account_id.eq(p.account.0),
                    entries::bucket.eq(p.bucket.as_str()),
                    entries::amount.eq(p.amount),
                )
            })
            .collect();
        diesel::insert_into(entries::table)
            .values(rows)
            .execute(conn)?;
    }
    Ok(row)
}

impl TransactionRow {
    pub fn to_wire(&self) -> Transaction {
        Transaction {
            transaction_id: TransactionId(self.id),
            kind: parse_kind(&self.kind),
            status: if self.status == "success" {
                TransactionStatus::Success
            } else {
                TransactionStatus::Failed
            },
            reason: self.reason.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            from_account_id: self.from_account_id.map(AccountId),
            to_account_id: self.to_account_id.map(AccountId),
            order_id: self.order_id,
            service_id: self.service_id,
            reference: self.reference.clone(),
            description: self.description.clone(),
            created_at: self.created_at,
            from_balance_after: None,
            to_balance_after: None,
        }
    }
}
