//! Why a call did not give the answer it asks for, and what an answer means.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use shared_types::accounts::{Transaction, TransactionStatus};
use shared_types::ErrorBody;

/// Why a call did not give the answer it asks for.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No answer: the service could not be reached, the call timed out, or
    /// the answer broke off.
    #[error("accounts-manager could not be reached")]
    Transport(#[source] reqwest::Error),
    /// An error status with the contract's error body.
    #[error("accounts-manager answered {status}: {}: {}", body.error.code, body.error.message)]
    Api { status: StatusCode, body: ErrorBody },
    /// A movement the ledger refused (not enough funds, another currency) and
    /// recorded as this failed transaction: `422` with the transaction.
    #[error(
        "accounts-manager refused the movement: {}",
        .0.reason.as_deref().unwrap_or("no reason given")
    )]
    Refused(Box<Transaction>),
    /// An answer whose body is not what the contract says it is.
    #[error("accounts-manager answered {status} with a body that is not the contract's")]
    Decode {
        status: StatusCode,
        body: String,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// The status of the answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Transport(error) => error.status(),
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::Refused(_) => Some(StatusCode::UNPROCESSABLE_ENTITY),
        }
    }

    /// The error body's `code`, or a refused movement's `reason`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { body, .. } => Some(&body.error.code),
            Self::Refused(transaction) => transaction.reason.as_deref(),
            Self::Transport(_) | Self::Decode { .. } => None,
        }
    }
}

/// What an answer means: the expected body, the contract's error body, or a
/// refused movement's failed transaction.
pub(crate) fn decode<T: DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, Error> {
    let undecodable = |source| Error::Decode {
        status,
        body: String::from_utf8_lossy(body).into_owned(),
        source,
    };
    if status.is_success() {
        return serde_json::from_slice(body).map_err(undecodable);
    }
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        if let Ok(transaction) = serde_json::from_slice::<Transaction>(body) {
            if transaction.status == TransactionStatus::Failed {
                return Err(Error::Refused(Box::new(transaction)));
            }
        }
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) => Err(Error::Api { status, body }),
        Err(source) => Err(undecodable(source)),
    }
}
