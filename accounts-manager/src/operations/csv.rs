//! CSV answers streamed from a query: rows go out in chunks as the query
//! yields them, and a client that goes away ends the query.

use actix_web::web::Bytes;
use diesel::pg::PgConnection;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::store::PgPool;

/// How many bytes of CSV go out in one chunk.
const CHUNK: usize = 8 * 1024;

/// Where a producer writes its rows: `row` returns `false` once the client
/// has gone, and the producer should stop.
pub struct Rows {
    buffer: String,
    tx: mpsc::Sender<Result<Bytes, ApiError>>,
}

impl Rows {
    pub fn row(&mut self, line: &str) -> bool {
        self.buffer.push_str(line);
        self.buffer.push('\n');
        if self.buffer.len() < CHUNK {
            return true;
        }
        self.tx
            .blocking_send(Ok(Bytes::from(std::mem::take(&mut self.buffer))))
            .is_ok()
    }
}

/// `header`, then what `produce` writes, on a pooled connection in a
/// blocking task. The first item is an error when the query could not run,
/// so the caller can still answer with an error status.
pub fn stream<F>(pool: &PgPool, header: &str, produce: F) -> mpsc::Receiver<Result<Bytes, ApiError>>
where
    F: FnOnce(&mut PgConnection, &mut Rows) -> Result<(), ApiError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    let pool = pool.clone();
    let header = header.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut rows = Rows {
            buffer: format!("{header}\n"),
            tx: tx.clone(),
        };
        let result = pool.get().map_err(ApiError::from).and_then(|mut conn| {
            let result = produce(&mut conn, &mut rows);
            if let Err(error) = &result {
                service_kit::db::discard_if_unavailable(&mut conn, error);
            }
            result
        });
        let last = result.map(|()| Bytes::from(rows.buffer));
        let _ = tx.blocking_send(last);
    });
    rx
}
