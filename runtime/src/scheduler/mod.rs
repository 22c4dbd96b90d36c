//! The scheduler: one loop per enabled pull plugin, firing its run on its
//! cron schedule (croner; five fields, or six with seconds). A tick that
//! comes while a run is still going is skipped — never two runs of one
//! plugin at once. On shutdown the loops stop taking ticks and runs in
//! progress finish before [`Scheduler::stop`] returns. When several nodes
//! share the store, each tick is taken by one of them ([`lease`](crate::cluster::lease)).

pub mod run;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use croner::Cron;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use self::run::{RunError, RunRecord, Runner};
use crate::cluster::lease::ScheduleLeases;
use crate::plugins::registry::{PluginKey, Registry};

pub struct Scheduler {
    runner: Runner,
    registry: Arc<Registry>,
    /// Set when several nodes share the store: a tick runs where its lease is taken.
    leases: Option<ScheduleLeases>,
    loops: Mutex<HashMap<PluginKey, JoinHandle<()>>>,
    stop_tx: watch::Sender<bool>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

impl Scheduler {
    pub fn new(runner: Runner, registry: Arc<Registry>, leases: Option<ScheduleLeases>) -> Arc<Self> {
        let (stop_tx, _) = watch::channel(false);
        Arc::new(Self { runner, registry, leases, loops: Mutex::default(), stop_tx })
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Starts a loop for each enabled pull plugin that has none. Loops
    /// re-read the registry at every tick, so a new version or schedule is
    /// picked up without interrupting a run, and a loop whose plugin is gone
    /// ends by itself.
    pub fn sync(self: &Arc<Self>) {
        if *self.stop_tx.borrow() {
            return;
        }
        let mut loops = self.loops.lock().unwrap_or_else(|p| p.into_inner());
        loops.retain(|_, handle| !handle.is_finished());
        for plugin in self.registry.all() {
            if plugin.enabled && plugin.schedule.is_some() && !loops.contains_key(&plugin.key) {
                let handle = tokio::spawn(self.clone().plugin_loop(plugin.key.clone()));
                loops.insert(plugin.key.clone(), handle);
            }
        }
    }

    async fn plugin_loop(self: Arc<Self>, key: PluginKey) {
        let mut stop = self.stop_tx.subscribe();
        loop {
            let Some(active) = self.registry.get(&key.company, &key.plugin).filter(|p| p.enabled) else {
                return;
            };
            let Some(cron) = active.schedule.as_deref().and_then(|s| Cron::from_str(s).ok()) else {
                return;
            };
            let now = Utc::now();
            let Ok(next) = cron.find_next_occurrence(&now, false) else {
                return;
            };
            let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            // The version may have changed while waiting.
            let Some(active) = self.registry.get(&key.company, &key.plugin) else {
                return;
            };
            if !active.enabled {
                continue;
            }
            let held = match &self.leases {
                None => None,
                Some(leases) => match leases.take(&key, next).await {
                    Ok(Some(held)) => Some(held),
                    Ok(None) => {
                        tracing::debug!(company = %key.company, plugin = %key.plugin, tick = %next, "tick taken by another node");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(company = %key.company, plugin = %key.plugin, error = %e, "tick skipped: the schedule lease could not be taken");
                        continue;
                    }
                },
            };
            let run = self.runner.run(&active, "schedule");
            let ran = match held {
                Some(held) => held.hold_while(run).await,
                None => run.await,
            };
            match ran {
                Ok(record) => tracing::info!(
                    company = %key.company, plugin = %key.plugin, run = %record.run_id,
                    events = record.events, created = record.created, error = ?record.error, "scheduled run done"
                ),
                Err(RunError::AlreadyRunning) => {
                    tracing::debug!(company = %key.company, plugin = %key.plugin, "tick skipped: a run is in progress")
                }
                Err(e) => {
                    tracing::warn!(company = %key.company, plugin = %key.plugin, error = %e, "scheduled run not started")
                }
            }
        }
    }

    /// Stops taking ticks and waits (up to `grace`) for runs in progress.
    pub async fn stop(&self, grace: Duration) {
        let _ = self.stop_tx.send(true);
        let handles: Vec<JoinHandle<()>> =
            self.loops.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, h)| h).collect();
        let all = futures::future::join_all(handles);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("pull runs still in progress after the grace period; their cursors stay where they were");
        }
    }
}
