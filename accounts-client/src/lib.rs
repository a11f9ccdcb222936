//! A typed client of accounts-manager's HTTP API (`/api/v1`), built on the
//! wire types of `shared-types`: requests go out as those types, answers come
//! back as them, and every failure is one [`Error`].
//!
//! ```no_run
//! use accounts_client::{Client, Error};
//! use shared_types::accounts::{DepositRequest, OpenAccountRequest, WithdrawalRequest};
//!
//! # async fn example() -> Result<(), Error> {
//! let accounts = Client::new("http://127.0.0.1:8080", "my-token")?;
//! let account = accounts.open_account(&OpenAccountRequest::new(7), None).await?;
//! // With an Idempotency-Key, a retry after a lost answer cannot move the money twice.
//! let deposit = DepositRequest::to_account(account.account_id, "199.99");
//! accounts.deposit(&deposit, Some("order-7-deposit")).await?;
//! match accounts
//!     .withdraw(&WithdrawalRequest::new(account.account_id, "500.00"), None)
//!     .await
//! {
//!     Ok(transaction) => println!("withdrawn: {}", transaction.transaction_id),
//!     // The ledger recorded the attempt as a failed transaction.
//!     Err(Error::Refused(failed)) => println!("refused: {:?}", failed.reason),
//!     Err(other) => return Err(other),
//! }
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
mod query;

pub use client::{Builder, Client};
pub use error::Error;
pub use query::{HistoryQuery, ReportQuery, SortKey, SortOrder};
pub use reqwest::StatusCode;
