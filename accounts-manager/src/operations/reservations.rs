//! Reading an order's reservation (reserve, capture and release are commands
//! of the ledger engine).

use shared_types::accounts::Reservation;

use super::run;
use crate::domain::OrderId;
use crate::error::ApiError;
use crate::store::{self, PgPool};

pub async fn get(pool: &PgPool, order_id: OrderId) -> Result<Reservation, ApiError> {
    run(pool, move |conn| {
        let order = store::reservations::find(conn, order_id)?
            .ok_or_else(|| ApiError::NotFound(format!("order {order_id} has no reservation")))?;
        Ok(super::answers::reservation(&order))
    })
    .await
}
