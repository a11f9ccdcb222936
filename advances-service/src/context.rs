//! What the API, the scheduler and the worker share.

use std::sync::Arc;

use prometheus::{Gauge, GaugeVec, IntCounterVec};

use crate::clients::accounts::AccountsClient;
use crate::clients::broker::Broker;
use crate::configuration::Settings;
use crate::store::PgPool;

/// Counters of this service's own work.
#[derive(Clone)]
pub struct Metrics {
    /// `payment_jobs_total{outcome}`: collected, refused, deferred, skipped, dead_lettered.
    pub jobs: IntCounterVec,
    /// `payment_jobs_published_total{result}`.
    pub published: IntCounterVec,
    /// `reconciliation_mismatches_total{check}`: the alert counter.
    pub mismatches: IntCounterVec,
    /// `advances_total{status}`: advances created (active at once, or disbursing).
    pub advances: IntCounterVec,
    /// `payments_overdue_seconds`: how long the oldest uncollected due payment
    /// has been due, as the scheduler's last tick saw it.
    pub overdue: Gauge,
    /// `advances_overdue_amount{currency, bucket}`: the portfolio's overdue
    /// amount by aging bucket, as the scheduler's last tick read it.
    pub overdue_amount: GaugeVec,
}

#[derive(Clone)]
pub struct Context {
    pub pool: PgPool,
    pub accounts: AccountsClient,
    pub broker: Arc<Broker>,
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
}
