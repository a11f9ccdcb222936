//! accounts-manager, as this service uses it: look up an account, deposit an
//! advance, withdraw a payment, read an account's withdrawals. The calls go
//! through `accounts-client`; its errors become this service's in one place.

use std::time::Duration;

use accounts_client::{Client, HistoryQuery, StatusCode};
use rust_decimal::Decimal;
use service_kit::trace::TraceParent;
use shared_types::accounts::{
    Account, AccountId, DepositRequest, Transaction, TransactionStatus, TransactionType,
    WithdrawalRequest,
};

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// No answer, a timeout, a 5xx, or a request with the same key in flight:
    /// worth trying again later.
    #[error("accounts-manager is unavailable: {0}")]
    Unavailable(String),
    /// An answer this service does not expect; retrying will not help by itself.
    #[error("accounts-manager answered {status}: {body}")]
    Unexpected { status: u16, body: String },
}

/// The one place accounts-manager's failures get their meaning here.
impl From<accounts_client::Error> for AccountsError {
    fn from(error: accounts_client::Error) -> Self {
        use accounts_client::Error;
        let retry_later = |status: StatusCode| {
            status.is_server_error()
                || status == StatusCode::CONFLICT
                || status == StatusCode::TOO_MANY_REQUESTS
        };
        match error {
            Error::Transport(cause) => Self::Unavailable(service_kit::error::error_chain(&cause)),
            Error::Api { status, body } if retry_later(status) => Self::Unavailable(format!(
                "{status}: {}: {}",
                body.error.code, body.error.message
            )),
            Error::Decode { status, body, .. } if retry_later(status) => {
                Self::Unavailable(format!("{status}: {body}"))
            }
            Error::Api { status, body } => Self::Unexpected {
                status: status.as_u16(),
                body: format!("{}: {}", body.error.code, body.error.message),
            },
            Error::Decode { status, body, .. } => Self::Unexpected {
                status: status.as_u16(),
                body,
            },
            Error::Refused(transaction) => Self::Unexpected {
                status: StatusCode::UNPROCESSABLE_ENTITY.as_u16(),
                body: format!(
                    "refused: {}",
                    transaction.reason.as_deref().unwrap_or("no reason given")
                ),
            },
        }
    }
}

/// A withdrawal's outcome.
#[derive(Debug, Clone)]
pub enum Withdrawal {
    Collected(Transaction),
    /// Recorded by accounts-manager as failed (not enough funds).
    Refused(Transaction),
}

/// What a call passes on of the work it is part of.
#[derive(Debug, Default, Clone, Copy)]
pub struct Origin<'a> {
    /// Passed on as `X-Request-Id`, so one id shows in both services' logs.
    pub request_id: Option<&'a str>,
    /// Passed on as `traceparent`, so accounts-manager's spans join the trace.
    pub trace: Option<&'a TraceParent>,
}

/// One movement to ask for.
pub struct Movement<'a> {
    pub account: AccountId,
    pub amount: Decimal,
    pub idempotency_key: &'a str,
    pub reference: &'a str,
    pub description: &'a str,
    pub origin: Origin<'a>,
}

#[derive(Clone)]
pub struct AccountsClient {
    client: Client,
}

impl AccountsClient {
    /// `connections`: how many idle connections to keep, at least as many
    /// as a worker has jobs in hand: fewer would close and open connections
    /// on every batch (a profile showed connect and shutdown in the worker's
    /// hottest paths with 64 kept and 512 jobs in hand).
    pub fn new(
        base_url: &str,
        token: &str,
        timeout: Duration,
        connections: usize,
    ) -> Result<Self, accounts_client::Error> {
        let client = Client::builder(base_url, token)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .max_idle_per_host(connections.max(64))
            .build()?;
        Ok(Self { client })
    }

    fn traced(&self, origin: Origin<'_>) -> Client {
        let client = match origin.request_id {
            Some(id) => self.client.with_request_id(id),
            None => self.client.clone(),
        };
        match origin.trace {
            Some(trace) => client.with_traceparent(trace.as_str()),
            None => client,
        }
    }

    /// The account, or `None` when accounts-manager does not know it.
    pub async fn account(
        &self,
        id: AccountId,
        origin: Origin<'_>,
    ) -> Result<Option<Account>, AccountsError> {
        match self.traced(origin).account(id).await {
            Ok(account) => Ok(Some(account)),
            Err(accounts_client::Error::Api { status, .. }) if status == StatusCode::NOT_FOUND => {
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Deposits money into an account (the disbursement of an advance).
    pub async fn deposit(&self, movement: &Movement<'_>) -> Result<Transaction, AccountsError> {
        let request = DepositRequest {
            description: Some(movement.description.to_owned()),
            reference: Some(movement.reference.to_owned()),
            ..DepositRequest::to_account(movement.account, movement.amount)
        };
        Ok(self
            .traced(movement.origin)
            .deposit(&request, Some(movement.idempotency_key))
            .await?)
    }

    /// Withdraws money from an account (the collection of a payment).
    pub async fn withdraw(&self, movement: &Movement<'_>) -> Result<Withdrawal, AccountsError> {
        let request = WithdrawalRequest {
            description: Some(movement.description.to_owned()),
            reference: Some(movement.reference.to_owned()),
            ..WithdrawalRequest::new(movement.account, movement.amount)
        };
        match self
            .traced(movement.origin)
            .withdraw(&request, Some(movement.idempotency_key))
            .await
        {
            Ok(transaction) => Ok(Withdrawal::Collected(transaction)),
            Err(accounts_client::Error::Refused(transaction)) => {
                Ok(Withdrawal::Refused(*transaction))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The account's successful withdrawals, read page by page (pinned by
    /// the first page's snapshot) from its history: `(reference, amount)`,
    /// the amount less what has been reversed of it (money given back is not
    /// collected).
    pub async fn withdrawals(
        &self,
        account: AccountId,
        origin: Origin<'_>,
    ) -> Result<Vec<(Option<String>, Decimal)>, AccountsError> {
        let client = self.traced(origin);
        let mut found = Vec::new();
        let mut query = HistoryQuery {
            limit: Some(1000),
            page: Some(1),
            ..HistoryQuery::default()
        };
        loop {
            let listing = client.history(account, &query).await?;
            found.extend(
                listing
                    .items
                    .into_iter()
                    .filter(|t| {
                        t.kind == TransactionType::Withdrawal
                            && t.status == TransactionStatus::Success
                    })
                    .map(|t| (t.reference, t.amount - t.reversed_amount)),
            );
            if listing.page >= listing.total_pages {
                return Ok(found);
            }
            query.page = Some(listing.page + 1);
            query.snapshot = Some(listing.snapshot);
        }
    }
}
