//! What the API and the background jobs share.

use std::sync::Arc;

use prometheus::{IntCounterVec, IntGauge};
use service_kit::listing::TokenSeal;

use crate::configuration::Settings;
use crate::group_commit::Ledger;
use crate::store::PgPool;

/// Counters of this service's own work.
#[derive(Clone)]
pub struct Metrics {
    /// `ledger_transactions_total{type, status}`.
    pub transactions: IntCounterVec,
    /// `ledger_audit_problems`: what the last audit found (0 when clean).
    pub audit_problems: IntGauge,
}

#[derive(Clone)]
pub struct Context {
    pub pool: PgPool,
    /// The ledger engine: every write goes through it.
    pub ledger: Ledger,
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
    /// Seals the snapshot tokens of history and the report.
    pub seal: TokenSeal,
}
