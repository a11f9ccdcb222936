//! The `reservations` table: one row per order, moved only from `reserved`.

use chrono::{DateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::schema::reservations;
use shared_types::accounts::{AccountId, Reservation, ReservationStatus};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reservations)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ReservationRow {
    pub order_id: i64,
    pub account_id: Uuid,
    pub service_id: i64,
    pub service_name: Option<String>,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn status_str(status: ReservationStatus) -> &'static str {
    match status {
        ReservationStatus::Reserved => "reserved",
        ReservationStatus::Captured => "captured",
        ReservationStatus::Released => "released",
    }
}

impl ReservationRow {
    pub fn status(&self) -> ReservationStatus {
        match self.status.as_str() {
            "captured" => ReservationStatus::Captured,
            "released" => ReservationStatus::Released,
            // The column's CHECK admits nothing else.
            _ => ReservationStatus::Reserved,
        }
    }

    pub fn to_wire(&self) -> Reservation {
        Reservation {
            order_id: self.order_id,
            account_id: AccountId(self.account_id),
            service_id: self.service_id,
            amount: self.amount,
            currency: self.currency.clone(),
            status: self.status(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub fn find(conn: &mut PgConnection, order_id: i64) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .find(order_id)
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

/// The order's row, locked for the rest of the transaction: of a concurrent
/// capture and release, the second waits here and then sees the first's status.
pub fn lock(conn: &mut PgConnection, order_id: i64) -> QueryResult<Option<ReservationRow>> {
    reservations::table
        .find(order_id)
        .for_update()
        .select(ReservationRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts the reservation; `None` when the order already has one.
pub fn insert(
    conn: &mut PgConnection,
    row: &ReservationRow,
) -> QueryResult<Option<ReservationRow>> {
    diesel::insert_into(reservations::table)
        .values(row)
        .on_conflict_do_nothing()
        .returning(ReservationRow::as_returning())
        .get_result(conn)
        .optional()
}

/// Moves a locked `reserved` row to its final status.
pub fn finish(
    conn: &mut PgConnection,
    order_id: i64,
    status: ReservationStatus,
) -> QueryResult<ReservationRow> {
    diesel::update(reservations::table.find(order_id))
        .filter(reservations::status.eq(status_str(ReservationStatus::Reserved)))
        .set((
            reservations::status.eq(status_str(status)),
            reservations::updated_at.eq(diesel::dsl::now),
        ))
        .returning(ReservationRow::as_returning())
        .get_result(conn)
}
