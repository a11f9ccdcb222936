//! accounts-manager's HTTP API, as this service uses it: look up an account,
//! deposit an advance, withdraw a payment, read an account's withdrawals.

use std::time::Duration;

use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::json;
use shared_types::accounts::{
    Account, AccountId, Page, Transaction, TransactionStatus, TransactionType,
};
use shared_types::ErrorBody;

const REQUEST_ID: &str = "X-Request-Id";

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

/// A withdrawal's outcome.
#[derive(Debug, Clone)]
pub enum Withdrawal {
    Collected(Transaction),
    /// Recorded by accounts-manager as failed (not enough funds).
    Refused(Transaction),
}

/// One movement to ask for.
pub struct Movement<'a> {
    pub account: AccountId,
    pub amount: Decimal,
    pub idempotency_key: &'a str,
    pub reference: &'a str,
    pub description: &'a str,
    /// Passed on as `X-Request-Id`, so one id shows in both services' logs.
    pub request_id: Option<&'a str>,
}

#[derive(Clone)]
pub struct AccountsClient {
    http: reqwest::Client,
    base_url: String,
    token: String,
}

impl AccountsClient {
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        // reqwest is built without a default crypto provider; ring is the lean one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        request_id: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.token);
        match request_id {
            Some(id) => builder.header(REQUEST_ID, id),
            None => builder,
        }
    }

    /// The account, or `None` when accounts-manager does not know it.
    pub async fn account(
        &self,
        id: AccountId,
        request_id: Option<&str>,
    ) -> Result<Option<Account>, AccountsError> {
        let response = send(self.request(
            reqwest::Method::GET,
            &format!("/api/v1/accounts/{id}"),
            request_id,
        ))
        .await?;
        match response.status() {
            StatusCode::OK => Ok(Some(body(response).await?)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(unexpected(response).await),
        }
    }

    /// Deposits money into an account (the disbursement of an advance).
    pub async fn deposit(&self, movement: &Movement<'_>) -> Result<Transaction, AccountsError> {
        let response = send(self.post("/api/v1/deposits", movement)).await?;
        match response.status() {
            StatusCode::CREATED => body(response).await,
            _ => Err(unexpected(response).await),
        }
    }

    /// Withdraws money from an account (the collection of a payment).
    pub async fn withdraw(&self, movement: &Movement<'_>) -> Result<Withdrawal, AccountsError> {
        let response = send(self.post("/api/v1/withdrawals", movement)).await?;
        match response.status() {
            StatusCode::CREATED => Ok(Withdrawal::Collected(body(response).await?)),
            StatusCode::UNPROCESSABLE_ENTITY => {
                let text = response
                    .text()
                    .await
                    .map_err(|e| AccountsError::Unavailable(e.to_string()))?;
                match serde_json::from_str::<Transaction>(&text) {
                    Ok(transaction) if transaction.status == TransactionStatus::Failed => {
                        Ok(Withdrawal::Refused(transaction))
                    }
                    _ => Err(AccountsError::Unexpected {
                        status: 422,
                        body: text,
                    }),
                }
            }
            _ => Err(unexpected(response).await),
        }
    }

    fn post(&self, path: &str, movement: &Movement<'_>) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, path, movement.request_id)
            .header("Idempotency-Key", movement.idempotency_key)
            .json(&json!({
                "account_id": movement.account,
                "amount": movement.amount.to_string(),
                "reference": movement.reference,
                "description": movement.description,
            }))
    }

    /// The account's successful withdrawals, read page by page (pinned by
    /// the first page's snapshot) from its history: `(reference, amount)`.
    pub async fn withdrawals(
        &self,
        account: AccountId,
    ) -> Result<Vec<(Option<String>, Decimal)>, AccountsError> {
        let mut found = Vec::new();
        let mut page = 1;
        let mut snapshot: Option<String> = None;
        loop {
            let mut query = vec![("limit", "1000".to_owned()), ("page", page.to_string())];
            if let Some(snapshot) = &snapshot {
                query.push(("snapshot", snapshot.clone()));
            }
            let path = format!("/api/v1/accounts/{account}/transactions");
            let response = send(
                self.request(reqwest::Method::GET, &path, None)
                    .query(&query),
            )
            .await?;
            if response.status() != StatusCode::OK {
                return Err(unexpected(response).await);
            }
            let listing: Page<Transaction> = body(response).await?;
            found.extend(
                listing
                    .items
                    .into_iter()
                    .filter(|t| {
                        t.kind == TransactionType::Withdrawal
                            && t.status == TransactionStatus::Success
                    })
                    .map(|t| (t.reference, t.amount)),
            );
            if page >= listing.total_pages {
                return Ok(found);
            }
            snapshot = Some(listing.snapshot);
            page += 1;
        }
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, AccountsError> {
    let response = request
        .send()
        .await
        .map_err(|e| AccountsError::Unavailable(e.to_string()))?;
    let status = response.status();
    if status.is_server_error()
        || status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        let text = response.text().await.unwrap_or_default();
        return Err(AccountsError::Unavailable(format!("{status}: {text}")));
    }
    Ok(response)
}

async fn body<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, AccountsError> {
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| AccountsError::Unavailable(e.to_string()))?;
    serde_json::from_str(&text).map_err(|_| AccountsError::Unexpected { status, body: text })
}

async fn unexpected(response: reqwest::Response) -> AccountsError {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str::<ErrorBody>(&text)
        .map_or(text, |e| format!("{}: {}", e.error.code, e.error.message));
    AccountsError::Unexpected { status, body }
}
