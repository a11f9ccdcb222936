//! The `reservations` table: one row per order, written by the ledger engine
//! (`store::books`) and read here.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use rust_decimal::Decimal;
use service_kit::stored::Stored;
use uuid::Uuid;

use super::corrupt;
use super::schema::reservations;
use crate::domain::records::Order;
use crate::domain::{Amount, Currency, OrderId, OrderRef, ServiceId};
use shared_types::accounts::{AccountId, ReservationStatus};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = reservations)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct ReservationRow {
    order_id: i64,
    account_id: Uuid,
    service_id: i64,
    service_name: Option<String>,
    amount: Decimal,
    currency: String,
    status: Stored<ReservationStatus>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    captured_amount: Option<Decimal>,
    expires_at: DateTime<Utc>,
}

impl ReservationRow {
    fn into_order(self) -> QueryResult<Order> {
        Ok(Order {
            order: OrderRef {
                order_id: OrderId::parse(self.order_id).map_err(corrupt)?,
                service_id: ServiceId::parse(self.service_id).map_err(corrupt)?,
                service_name: self.service_name,
            },
            account: AccountId(self.account_id),
            amount: Amount::try_from(self.amount).map_err(corrupt)?,
            captured: self
                .captured_amount
                .map(Amount::try_from)
                .transpose()
                .map_err(corrupt)?,
            currency: Currency::parse(&self.currency).map_err(corrupt)?,
            status: self.status.0,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
        })
    }
}

pub fn find(conn: &mut PgConnection, order_id: OrderId) -> QueryResult<Option<Order>> {
    reservations::table
        .find(order_id.value())
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()?
        .map(ReservationRow::into_order)
        .transpose()
}

/// Each of `orders`, as it stands: `None` for one without a reservation.
pub fn find_all(
    conn: &mut PgConnection,
    orders: &[OrderId],
) -> QueryResult<HashMap<OrderId, Option<Order>>> {
    let mut found: HashMap<OrderId, Option<Order>> = orders.iter().map(|id| (*id, None)).collect();
    let rows: Vec<ReservationRow> = FindOrders {
        orders: orders.iter().map(|id| id.value()).collect(),
    }
    .load(conn)?;
    for row in rows {
        let order = row.into_order()?;
        found.insert(order.order.order_id, Some(order));
    }
    Ok(found)
}

// Prepared once per connection: the engine reads a batch's orders with it.
service_kit::prepared_statement!(FindOrders {
    orders: diesel::sql_types::Array<diesel::sql_types::BigInt> => Vec<i64>,
} = include_str!("reservations/find_orders.sql"));

/// Holds that have run out and are still `reserved`, soonest first.
pub fn expired(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<OrderId>> {
    let ids: Vec<i64> = reservations::table
        .filter(reservations::status.eq(Stored(ReservationStatus::Reserved)))
        .filter(reservations::expires_at.le(diesel::dsl::now))
        .order(reservations::expires_at)
        .limit(limit)
        .select(reservations::order_id)
        .load(conn)?;
    ids.into_iter()
        .map(|id| OrderId::parse(id).map_err(corrupt))
        .collect()
}
