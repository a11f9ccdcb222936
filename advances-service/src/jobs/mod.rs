//! The background roles: the scheduler and the worker.

pub mod scheduler;
pub mod worker;

use tokio::sync::watch;

/// Tells background loops to stop; they finish the work in hand first.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self(rx))
    }

    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop is asked for.
    pub async fn wait(&mut self) {
        while !*self.0.borrow_and_update() {
            if self.0.changed().await.is_err() {
                return;
            }
        }
    }

    /// Sleeps for `duration`, or less if a stop is asked for; `true` when stopping.
    pub async fn sleep(&mut self, duration: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => self.requested(),
            _ = self.wait() => true,
        }
    }
}
