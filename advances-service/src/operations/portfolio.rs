//! The portfolio report: the active advances of a currency by aging bucket,
//! what they owe and what is overdue, and what was collected in the last 7
//! days, read from the rollups the writes keep.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use service_kit::currency::Currency;
use service_kit::error::ApiError;
use shared_types::advances::{Portfolio, PortfolioBucket};

use super::{run, run_job};
use crate::context::Context;
use crate::domain::overdue::Bucket;
use crate::error::JobError;
use crate::store::portfolio as store;

/// The report of `currency` as of now: one repeatable-read transaction, so
/// the buckets and the collections are of one moment.
pub async fn report(ctx: &Context, currency: Currency) -> Result<Portfolio, ApiError> {
    run(&ctx.pool, move |conn| {
        Ok(conn
            .build_transaction()
            .read_only()
            .repeatable_read()
            .run(|conn| {
                let as_of = store::now(conn)?;
                let sums = store::buckets(conn, currency.as_str())?;
                let collected = store::collected_since(
                    conn,
                    currency.as_str(),
                    as_of - chrono::Duration::days(7),
                )?;
                Ok::<_, diesel::result::Error>(assemble(currency, as_of, &sums, collected))
            })?)
    })
    .await
}

fn assemble(
    currency: Currency,
    as_of: chrono::DateTime<chrono::Utc>,
    sums: &[store::BucketSums],
    collected: Decimal,
) -> Portfolio {
    let buckets: Vec<PortfolioBucket> = Bucket::ALL
        .iter()
        .map(|bucket| {
            let sum = sums.iter().find(|s| s.bucket == bucket.index());
            PortfolioBucket {
                missed: bucket.label().to_owned(),
                advances: sum.map_or(0, |s| s.advances),
                outstanding: sum.map_or(Decimal::ZERO, |s| s.outstanding),
            }
        })
        .collect();
    Portfolio {
        currency: currency.as_str().to_owned(),
        as_of,
        advances_active: buckets.iter().map(|b| b.advances).sum(),
        outstanding: buckets.iter().map(|b| b.outstanding).sum(),
        overdue_amount: sums.iter().map(|s| s.overdue_amount).sum(),
        buckets,
        collected_last_7_days: collected,
    }
}

/// Sets the `advances_overdue_amount{currency, bucket}` gauge from the
/// rollup: every bucket of every currency it holds (0 where none is).
pub async fn refresh_gauge(ctx: &Context) -> Result<(), JobError> {
    let sums = run_job(&ctx.pool, |conn| Ok(store::overdue_by_bucket(conn)?)).await?;
    let mut currencies: Vec<&str> = sums.iter().map(|s| s.currency.as_str()).collect();
    currencies.sort_unstable();
    currencies.dedup();
    for currency in currencies {
        for bucket in Bucket::ALL {
            let amount: Decimal = sums
                .iter()
                .filter(|s| s.currency == currency && s.bucket == bucket.index())
                .map(|s| s.overdue_amount)
                .sum();
            ctx.metrics
                .overdue_amount
                .with_label_values(&[currency, bucket.label()])
                .set(amount.to_f64().unwrap_or(f64::MAX));
        }
    }
    Ok(())
}
