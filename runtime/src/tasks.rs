//! The server's background tasks, owned: every task that outlives the call
//! that starts it (the pipeline's order work and loops, the shared queue,
//! node sync, loads after start) is spawned here, hears the shutdown, and is
//! waited for before the server returns. A task is cut at its next `await`
//! when the server stops: what it was doing is durable or repeated at the
//! next start (an order without a terminal event is picked up again).
//!
//! Not here: request handlers (the connection table waits for them), the
//! scheduler's loops (it stops its own runs within the grace), and the
//! demo's partner simulators (`--demo` only; they live as long as the
//! process).

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `task` in the background until it ends or the server stops.
    pub fn spawn(&self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = task => {}
                () = stop.cancelled() => tracing::debug!(task = name, "stopped with the server"),
            }
        });
    }

    /// Whether the server is stopping (no new work should start).
    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Stops every task and waits for them to end, at most `grace`; how
    /// many were still running then (0: all ended).
    pub async fn stop(&self, grace: Duration) -> usize {
        self.stop.cancel();
        self.tracker.close();
        match tokio::time::timeout(grace, self.tracker.wait()).await {
            Ok(()) => 0,
            Err(_) => self.tracker.len(),
        }
    }

    /// How many are running.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_ends_every_task_and_says_so() {
        let tasks = Tasks::new();
        tasks.spawn("forever", std::future::pending());
        tasks.spawn("loop", async {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        tasks.spawn("done", async {});
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(tasks.running(), 2);
        assert_eq!(tasks.stop(Duration::from_secs(1)).await, 0, "every task ended");
        assert!(tasks.stopping());
        assert_eq!(tasks.running(), 0);
    }
}
