//! The background work of a service as named peers of its HTTP server, under
//! one shutdown: every task is spawned here with its name and its handle, a
//! loop is told to stop by a [`Shutdown`] it checks between rounds, and a
//! task that ends early (a panic, a loop that returned) is reported by name.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};

/// Tells background loops to stop; each finishes the work in hand first.
/// Also stops them when the [`Peers`] that made it are dropped.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
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

    /// Runs `work` unless a stop is asked for first: `None` when stopping.
    pub async fn unless_stopped<F: Future>(&mut self, work: F) -> Option<F::Output> {
        tokio::select! {
            done = work => Some(done),
            () = self.wait() => None,
        }
    }

    /// Sleeps for `duration`, or less if a stop is asked for; `true` when stopping.
    pub async fn sleep(&mut self, duration: Duration) -> bool {
        self.unless_stopped(tokio::time::sleep(duration))
            .await
            .is_none()
            || self.requested()
    }
}

/// One task beside the HTTP server.
struct Peer {
    name: &'static str,
    handle: JoinHandle<()>,
}

/// How long a peer may take to finish once it is asked to stop.
const GRACE: Duration = Duration::from_secs(30);

/// The background tasks of a service: loops that stop when told, and tasks
/// that end once nothing feeds them any more (joined last).
pub struct Peers {
    stop: watch::Sender<bool>,
    loops: Vec<Peer>,
    last: Vec<Peer>,
}

impl Default for Peers {
    fn default() -> Self {
        Self::new()
    }
}

impl Peers {
    pub fn new() -> Self {
        Self {
            stop: watch::channel(false).0,
            loops: Vec::new(),
            last: Vec::new(),
        }
    }

    /// The signal a loop checks to know it should stop.
    pub fn shutdown(&self) -> Shutdown {
        Shutdown(self.stop.subscribe())
    }

    /// Runs `task` (a loop that watches a [`Peers::shutdown`]) until a stop is
    /// asked for.
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        self.loops.push(Peer {
            name,
            handle: tokio::spawn(task),
        });
    }

    /// A task that ends by itself once nothing feeds it (the ledger's lanes
    /// end when the last sender of their queue is dropped): it must keep
    /// running while the requests in flight are drained, so it is joined
    /// after the HTTP server and every loop have stopped.
    pub fn join_last(&mut self, name: &'static str, handle: JoinHandle<()>) {
        self.last.push(Peer { name, handle });
    }

    /// Resolves when a peer ends without having been asked to: its name,
    /// and why. Never resolves while every peer runs.
    pub async fn first_to_end(&mut self) -> (&'static str, Result<(), JoinError>) {
        let all = self.loops.iter_mut().chain(self.last.iter_mut());
        let handles: Vec<_> = all.map(|peer| &mut peer.handle).collect();
        if handles.is_empty() {
            return std::future::pending().await;
        }
        let (ended, index, _) = futures::future::select_all(handles).await;
        // Taken out: a finished handle is not polled again.
        let peer = if index < self.loops.len() {
            self.loops.remove(index)
        } else {
            self.last.remove(index - self.loops.len())
        };
        (peer.name, ended)
    }

    /// Asks every loop to stop.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Waits for every loop to finish, each for [`GRACE`] at most; `false`
    /// when one failed or did not finish.
    pub async fn join_loops(&mut self) -> bool {
        join(std::mem::take(&mut self.loops)).await
    }

    /// Waits for the tasks joined last (see [`Peers::join_last`]).
    pub async fn join_rest(&mut self) -> bool {
        join(std::mem::take(&mut self.last)).await
    }
}

async fn join(peers: Vec<Peer>) -> bool {
    let joins = peers.into_iter().map(|peer| async move {
        match tokio::time::timeout(GRACE, peer.handle).await {
            Ok(ended) => report_exit(peer.name, &ended),
            Err(_) => {
                tracing::error!(task = peer.name, "did not stop within {GRACE:?}");
                false
            }
        }
    });
    futures::future::join_all(joins)
        .await
        .into_iter()
        .all(|clean| clean)
}

/// Logs how a peer ended (zero2prod's `report_exit`); `true` when it ended
/// cleanly.
pub fn report_exit(name: &str, ended: &Result<(), JoinError>) -> bool {
    match ended {
        Ok(()) => {
            tracing::info!(task = name, "stopped");
            true
        }
        Err(error) => {
            tracing::error!(task = name, error = %error, "failed");
            false
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for SIGTERM; only SIGINT stops the service");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_loop_stops_when_told_and_a_task_joined_last_ends_when_its_feed_does() {
        let mut peers = Peers::new();
        let mut shutdown = peers.shutdown();
        peers.spawn("loop", async move {
            while !shutdown.sleep(Duration::from_secs(3600)).await {}
        });
        let (feed, mut fed) = tokio::sync::mpsc::channel::<()>(1);
        peers.join_last(
            "drain",
            tokio::spawn(async move { while fed.recv().await.is_some() {} }),
        );

        peers.stop();
        assert!(peers.join_loops().await);
        drop(feed);
        assert!(peers.join_rest().await);
    }

    #[tokio::test]
    async fn a_peer_that_ends_unasked_is_named() {
        let mut peers = Peers::new();
        let mut shutdown = peers.shutdown();
        peers.spawn("waits", async move { shutdown.wait().await });
        peers.spawn("ends", async {});

        let (name, ended) = peers.first_to_end().await;

        assert_eq!(name, "ends");
        assert!(ended.is_ok());
        drop(peers); // the sender goes: the other loop stops too
    }
}
