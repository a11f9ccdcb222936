//! Dead letters, for operators: the jobs the worker could not act on, kept
//! as received, listed and replayed.

use diesel::pg::PgConnection;
use service_kit::error::ApiError;
use service_kit::idempotency::{run_once, Idempotency, Reply};
use service_kit::listing::{Key, Position, Snapshot};
use shared_types::accounts::Page;
use shared_types::advances::DeadLetter;
use uuid::Uuid;

use super::run;
use crate::clients::broker;
use crate::context::Context;
use crate::store::dead_letters;

/// A page of the dead letters, oldest first, snapshot-stable like every listing.
pub async fn list(ctx: &Context, position: Position) -> Result<Page<DeadLetter>, ApiError> {
    let start = position.start(Key::time_and_id)?;
    run(&ctx.pool, move |conn| {
        let snapshot = Snapshot::read_at(conn, position.snapshot.clone(), None)?;
        let (rows, total) = dead_letters::list(conn, &snapshot.pg_snapshot, start, position.limit)?;
        let items = rows.iter().map(|row| row.to_wire()).collect();
        Ok(
            position.page(items, total, &snapshot, |letter: &DeadLetter| {
                Key::of_time_and_id(letter.received_at, letter.id)
            }),
        )
    })
    .await
}

/// Publishes a dead letter's body again to `advances.payments` and notes
/// when; `409` if it was replayed already. The dead letter stays locked from
/// the check until the broker confirmed and the note is stored, so two
/// replays of one dead letter publish it once.
pub async fn replay(
    ctx: &Context,
    id: Uuid,
    idempotency: Option<Idempotency>,
) -> Result<Reply, ApiError> {
    let channel = ctx
        .broker
        .publisher()
        .await
        .map_err(|e| ApiError::Unavailable(e.into()))?;
    let publishing = channel.clone();
    let handle = tokio::runtime::Handle::current();
    let replayed = run(&ctx.pool, move |conn| {
        run_once(conn, idempotency, |conn: &mut PgConnection| {
            let row = dead_letters::lock(conn, id)?
                .ok_or_else(|| ApiError::NotFound(format!("dead letter {id} does not exist")))?;
            if row.replayed_at.is_some() {
                return Err(ApiError::Conflict {
                    code: "already_replayed",
                    message: format!("dead letter {id} was replayed already"),
                });
            }
            handle
                .block_on(broker::publish_raw(&publishing, &row.body))
                .map_err(|e| ApiError::Unavailable(e.into()))?;
            let replayed: DeadLetter = dead_letters::mark_replayed(conn, id)?.to_wire();
            Reply::new(200, &replayed).map_err(ApiError::internal)
        })
    })
    .await;
    let _ = channel.close(200, "replayed".into()).await;
    replayed
}
