//! The API's errors: the one error type both services share.

pub use service_kit::error::ApiError;
