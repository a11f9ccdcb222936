//! The client: one base URL, one bearer token, a method per route.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use shared_types::accounts::{
    Account, AccountId, AccountList, AuditReport, CaptureRequest, DepositRequest, ExchangeRequest,
    OpenAccountRequest, Page, Reservation, ReservationRequest, ReversalRequest, StatusRequest,
    Transaction, TransactionId, TransferBatchAnswer, TransferBatchRequest, TransferRequest,
    WithdrawalRequest,
};
use shared_types::headers::{IDEMPOTENCY_KEY, REQUEST_ID, TRACEPARENT};

use crate::error::{decode, Error};
use crate::query::{HistoryQuery, ReportQuery};

/// How the client is set up; [`Client::builder`] makes one.
pub struct Builder {
    base_url: String,
    token: String,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_idle_per_host: usize,
}

impl Builder {
    /// The longest a call may take, answer included; no limit by default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The longest connecting may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Idle connections kept open for reuse (64 by default).
    pub fn max_idle_per_host(mut self, connections: usize) -> Self {
        self.max_idle_per_host = connections;
        self
    }

    pub fn build(self) -> Result<Client, Error> {
        // reqwest is built without a default TLS crypto provider; ring is the
        // lean one. A provider the process installed already is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut http = reqwest::Client::builder().pool_max_idle_per_host(self.max_idle_per_host);
        if let Some(timeout) = self.timeout {
            http = http.timeout(timeout);
        }
        if let Some(timeout) = self.connect_timeout {
            http = http.connect_timeout(timeout);
        }
        Ok(Client {
            http: http.build().map_err(Error::Transport)?,
            base_url: self.base_url.trim_end_matches('/').into(),
            token: self.token.into(),
            request_id: None,
            traceparent: None,
        })
    }
}

/// accounts-manager at one base URL, called with one bearer token. Cheap to
/// clone; clones share their connections.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: Arc<str>,
    token: Arc<str>,
    request_id: Option<Arc<str>>,
    traceparent: Option<Arc<str>>,
}

impl Client {
    /// A client with the default settings.
    pub fn new(base_url: &str, token: &str) -> Result<Self, Error> {
        Self::builder(base_url, token).build()
    }

    pub fn builder(base_url: &str, token: &str) -> Builder {
        Builder {
            base_url: base_url.to_owned(),
            token: token.to_owned(),
            timeout: None,
            connect_timeout: None,
            max_idle_per_host: 64,
        }
    }

    /// The same client, sending `X-Request-Id: request_id` with every call, so
    /// that one id shows in the logs of the caller and of accounts-manager.
    pub fn with_request_id(&self, request_id: &str) -> Self {
        Self {
            request_id: Some(request_id.into()),
            ..self.clone()
        }
    }

    /// The same client, sending `traceparent: traceparent` (W3C Trace
    /// Context) with every call, so that accounts-manager's spans join the
    /// caller's trace.
    pub fn with_traceparent(&self, traceparent: &str) -> Self {
        Self {
            traceparent: Some(traceparent.into()),
            ..self.clone()
        }
    }

    /// `POST /api/v1/accounts`.
    pub async fn open_account(
        &self,
        request: &OpenAccountRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Account, Error> {
        self.post("/api/v1/accounts", request, idempotency_key)
            .await
    }

    /// `GET /api/v1/accounts/{account_id}`.
    pub async fn account(&self, account: AccountId) -> Result<Account, Error> {
        self.get(&format!("/api/v1/accounts/{account}")).await
    }

    /// `GET /api/v1/users/{user_id}/accounts`: every account of the user.
    pub async fn user_accounts(&self, user_id: i64) -> Result<Vec<Account>, Error> {
        let list: AccountList = self
            .get(&format!("/api/v1/users/{user_id}/accounts"))
            .await?;
        Ok(list.items)
    }

    /// `POST /api/v1/deposits`: money in, to an account or to a user's account.
    pub async fn deposit(
        &self,
        request: &DepositRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Transaction, Error> {
        self.post("/api/v1/deposits", request, idempotency_key)
            .await
    }

    /// `POST /api/v1/withdrawals`: money out. A lack of funds is
    /// [`Error::Refused`], with the failed transaction the ledger recorded.
    pub async fn withdraw(
        &self,
        request: &WithdrawalRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Transaction, Error> {
        self.post("/api/v1/withdrawals", request, idempotency_key)
            .await
    }

    /// `POST /api/v1/transfers`; refused like a withdrawal.
    pub async fn transfer(
        &self,
        request: &TransferRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Transaction, Error> {
        self.post("/api/v1/transfers", request, idempotency_key)
            .await
    }

    /// `POST /api/v1/transfers/batch`: many transfers in one request. The
    /// answer lists every transfer in order; an atomic batch that could not
    /// be made whole comes back too (`422` on the wire), each of its items
    /// recorded as failed.
    pub async fn transfer_batch(
        &self,
        request: &TransferBatchRequest,
        idempotency_key: Option<&str>,
    ) -> Result<TransferBatchAnswer, Error> {
        let request = self.post_request("/api/v1/transfers/batch", request, idempotency_key);
        let response = request.send().await.map_err(Error::Transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(Error::Transport)?;
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            if let Ok(answer) = serde_json::from_slice::<TransferBatchAnswer>(&body) {
                return Ok(answer);
            }
        }
        decode(status, &body)
    }

    /// `POST /api/v1/reservations`: holds money for an order. Not enough
    /// balance is [`Error::Refused`].
    pub async fn reserve(
        &self,
        request: &ReservationRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Reservation, Error> {
        self.post("/api/v1/reservations", request, idempotency_key)
            .await
    }

    /// `POST /api/v1/reservations/{order_id}/capture`: the order was delivered.
    pub async fn capture(
        &self,
        order_id: i64,
        idempotency_key: Option<&str>,
    ) -> Result<Reservation, Error> {
        let path = format!("/api/v1/reservations/{order_id}/capture");
        self.post(&path, &NoFields {}, idempotency_key).await
    }

    /// `POST /api/v1/reservations/{order_id}/capture` with `{"amount"}`:
    /// that much of the hold is captured and the rest released.
    pub async fn capture_part(
        &self,
        order_id: i64,
        request: &CaptureRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Reservation, Error> {
        let path = format!("/api/v1/reservations/{order_id}/capture");
        self.post(&path, request, idempotency_key).await
    }

    /// `POST /api/v1/transactions/{transaction_id}/reversals`: moves money
    /// back the way the transaction came. Too little on the paying side is
    /// [`Error::Refused`].
    pub async fn reverse(
        &self,
        transaction_id: TransactionId,
        request: &ReversalRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Transaction, Error> {
        let path = format!("/api/v1/transactions/{transaction_id}/reversals");
        self.post(&path, request, idempotency_key).await
    }

    /// `POST /api/v1/reservations/{order_id}/release`: the order was cancelled.
    pub async fn release(
        &self,
        order_id: i64,
        idempotency_key: Option<&str>,
    ) -> Result<Reservation, Error> {
        let path = format!("/api/v1/reservations/{order_id}/release");
        self.post(&path, &NoFields {}, idempotency_key).await
    }

    /// `POST /api/v1/exchanges`: money from one account into another of
    /// another currency, at a rate.
    pub async fn exchange(
        &self,
        request: &ExchangeRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Transaction, Error> {
        self.post("/api/v1/exchanges", request, idempotency_key)
            .await
    }

    /// `POST /api/v1/accounts/{account_id}/freeze` (scope `admin`): money
    /// still comes in, none leaves the account's balance.
    pub async fn freeze(
        &self,
        account: AccountId,
        reason: &str,
        idempotency_key: Option<&str>,
    ) -> Result<Account, Error> {
        let path = format!("/api/v1/accounts/{account}/freeze");
        let request = StatusRequest {
            reason: Some(reason.to_owned()),
        };
        self.post(&path, &request, idempotency_key).await
    }

    /// `POST /api/v1/accounts/{account_id}/unfreeze` (scope `admin`).
    pub async fn unfreeze(
        &self,
        account: AccountId,
        idempotency_key: Option<&str>,
    ) -> Result<Account, Error> {
        let path = format!("/api/v1/accounts/{account}/unfreeze");
        self.post(&path, &NoFields {}, idempotency_key).await
    }

    /// `GET /api/v1/reservations/{order_id}`.
    pub async fn reservation(&self, order_id: i64) -> Result<Reservation, Error> {
        self.get(&format!("/api/v1/reservations/{order_id}")).await
    }

    /// `GET /api/v1/accounts/{account_id}/transactions`: one page of the
    /// account's history.
    pub async fn history(
        &self,
        account: AccountId,
        query: &HistoryQuery,
    ) -> Result<Page<Transaction>, Error> {
        self.get_page(&format!("/api/v1/accounts/{account}/transactions"), query)
            .await
    }

    /// `GET /api/v1/transactions`: one page of the ledger's report.
    pub async fn report(&self, query: &ReportQuery) -> Result<Page<Transaction>, Error> {
        self.get_page("/api/v1/transactions", query).await
    }

    /// `GET /api/v1/admin/audit`: the double-entry self-check.
    pub async fn audit(&self) -> Result<AuditReport, Error> {
        self.get("/api/v1/admin/audit").await
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.token);
        let builder = match &self.request_id {
            Some(id) => builder.header(REQUEST_ID, id.as_ref()),
            None => builder,
        };
        match &self.traceparent {
            Some(traceparent) => builder.header(TRACEPARENT, traceparent.as_ref()),
            None => builder,
        }
    }

    fn post_request(
        &self,
        path: &str,
        body: &impl Serialize,
        idempotency_key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let builder = self.request(Method::POST, path).json(body);
        match idempotency_key {
            Some(key) => builder.header(IDEMPOTENCY_KEY, key),
            None => builder,
        }
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
        idempotency_key: Option<&str>,
    ) -> Result<T, Error> {
        send(self.post_request(path, body, idempotency_key)).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        send(self.request(Method::GET, path)).await
    }

    async fn get_page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &impl Serialize,
    ) -> Result<Page<T>, Error> {
        send(self.request(Method::GET, path).query(query)).await
    }
}

/// The body of a POST that takes no fields.
#[derive(Serialize)]
struct NoFields {}

async fn send<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> Result<T, Error> {
    let response = request.send().await.map_err(Error::Transport)?;
    let status = response.status();
    let body = response.bytes().await.map_err(Error::Transport)?;
    decode(status, &body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test should panic

    use rust_decimal::Decimal;
    use shared_types::accounts::TransactionType;

    use super::*;
    use crate::query::SortKey;
    use shared_types::accounts::TransactionStatus;

    fn client() -> Client {
        Client::new("http://accounts.test:8080/", "secret").unwrap()
    }

    fn account() -> AccountId {
        AccountId(uuid::Uuid::from_u128(7))
    }

    const FAILED_WITHDRAWAL: &str = r#"{"transaction_id": "00000000-0000-0000-0000-000000000001",
        "type": "withdrawal", "status": "failed", "reason": "insufficient_funds",
        "amount": "10.00", "currency": "USD",
        "from_account_id": "00000000-0000-0000-0000-000000000007", "to_account_id": null,
        "order_id": null, "service_id": null, "reference": null,
        "description": "10.00 USD not withdrawn", "reverses": null, "reversed_amount": "0.00",
        "created_by": "token-1", "created_at": "2022-11-17T01:44:22.083065Z"}"#;

    #[test]
    fn a_post_carries_the_token_the_key_the_request_id_the_traceparent_and_the_typed_body() {
        let deposit = DepositRequest {
            reference: Some("advance:1".into()),
            ..DepositRequest::to_account(account(), Decimal::new(19999, 2))
        };
        let request = client()
            .with_request_id("trace-1")
            .with_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            .post_request("/api/v1/deposits", &deposit, Some("key-1"))
            .build()
            .unwrap();

        assert_eq!(request.method(), Method::POST);
        assert_eq!(
            request.url().as_str(),
            "http://accounts.test:8080/api/v1/deposits"
        );
        let headers = request.headers();
        assert_eq!(headers["authorization"], "Bearer secret");
        assert_eq!(headers["idempotency-key"], "key-1");
        assert_eq!(headers["x-request-id"], "trace-1");
        assert_eq!(
            headers["traceparent"],
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
        assert_eq!(headers["content-type"], "application/json");
        let body: serde_json::Value =
            serde_json::from_slice(request.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"account_id": account(), "user_id": null, "currency": null,
                "amount": "199.99", "description": null, "reference": "advance:1"})
        );
    }

    #[test]
    fn without_a_key_or_request_id_no_such_header_is_sent() {
        let request = client()
            .post_request("/api/v1/accounts", &OpenAccountRequest::new(2), None)
            .build()
            .unwrap();

        assert!(!request.headers().contains_key("idempotency-key"));
        assert!(!request.headers().contains_key("x-request-id"));
        assert!(!request.headers().contains_key("traceparent"));
    }

    #[test]
    fn a_listing_query_sends_only_what_is_set() {
        let query = HistoryQuery {
            sort: Some(SortKey::Amount),
            limit: Some(1000),
            snapshot: Some("s1".into()),
            ..HistoryQuery::default()
        };
        let request = client()
            .request(
                Method::GET,
                &format!("/api/v1/accounts/{}/transactions", account()),
            )
            .query(&query)
            .build()
            .unwrap();

        assert_eq!(
            request.url().query(),
            Some("sort=amount&limit=1000&snapshot=s1")
        );
    }

    #[test]
    fn a_success_decodes_into_the_wire_type() {
        let transaction: Transaction = decode(
            StatusCode::CREATED,
            FAILED_WITHDRAWAL
                .replace(
                    r#""failed", "reason": "insufficient_funds""#,
                    r#""success""#,
                )
                .as_bytes(),
        )
        .unwrap();

        assert_eq!(transaction.kind, TransactionType::Withdrawal);
        assert_eq!(transaction.amount, Decimal::new(1000, 2));
        assert_eq!(transaction.reason, None);
    }

    #[test]
    fn a_422_with_a_failed_transaction_is_a_refused_movement() {
        let error = decode::<Transaction>(
            StatusCode::UNPROCESSABLE_ENTITY,
            FAILED_WITHDRAWAL.as_bytes(),
        )
        .unwrap_err();

        assert!(
            matches!(&error, Error::Refused(t) if t.status == TransactionStatus::Failed),
            "{error:?}"
        );
        assert_eq!(error.code(), Some("insufficient_funds"));
        assert_eq!(error.status(), Some(StatusCode::UNPROCESSABLE_ENTITY));
    }

    #[test]
    fn an_error_body_is_an_api_error_with_its_status_and_code() {
        let body =
            br#"{"error": {"code": "invalid_amount", "message": "the amount must be positive"}}"#;
        for status in [
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::NOT_FOUND,
            StatusCode::SERVICE_UNAVAILABLE,
        ] {
            let error = decode::<Transaction>(status, body).unwrap_err();

            assert!(
                matches!(&error, Error::Api { status: s, body } if *s == status && body.error.message == "the amount must be positive"),
                "{error:?}"
            );
            assert_eq!(error.code(), Some("invalid_amount"));
        }
    }

    #[test]
    fn a_body_outside_the_contract_is_a_decode_error_that_keeps_it() {
        for (status, body) in [
            (StatusCode::OK, "{\"items\": 3}"),
            (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>"),
            (StatusCode::UNPROCESSABLE_ENTITY, ""),
        ] {
            let error = decode::<AccountList>(status, body.as_bytes()).unwrap_err();

            assert!(
                matches!(&error, Error::Decode { status: s, body: b, .. } if *s == status && b == body),
                "{error:?}"
            );
        }
    }

    #[tokio::test]
    async fn no_service_listening_is_a_transport_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let unreachable = Client::new(&format!("http://127.0.0.1:{port}"), "secret").unwrap();

        let error = unreachable.account(account()).await.unwrap_err();

        assert!(matches!(error, Error::Transport(_)), "{error:?}");
        assert_eq!(error.status(), None);
    }
}
