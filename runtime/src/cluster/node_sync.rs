//! Several nodes on one store (docs/DESIGN.md §11): what the admin API changes on
//! one node — plugin versions and whether they are enabled, secrets,
//! pipeline configurations, order schemas — the other nodes read back from
//! the store every few seconds. A node that served the change has it at
//! once; the others within [`SYNC_EVERY`].

use std::sync::Arc;
use std::time::Duration;

use crate::events::keys;
use crate::pipeline::config::TenantConfigs;
use crate::pipeline::schema::Schemas;
use crate::plugins::registry::Registry;
use crate::scheduler::Scheduler;
use crate::security::secrets::SecretVault;
use crate::store::ObjectStore;
use crate::tasks::Tasks;

/// How often a node reads back what other nodes changed.
pub const SYNC_EVERY: Duration = Duration::from_secs(3);

/// What a node keeps in memory from the store.
#[derive(Debug)]
pub struct NodeSync {
    pub store: Arc<dyn ObjectStore>,
    pub registry: Arc<Registry>,
    pub vault: Arc<SecretVault>,
    pub configs: Arc<TenantConfigs>,
    pub schemas: Arc<Schemas>,
    pub scheduler: Arc<Scheduler>,
    pub tasks: Tasks,
}

impl NodeSync {
    /// Reads the store again every [`SYNC_EVERY`] until the server stops.
    pub fn spawn(self) {
        let tasks = self.tasks.clone();
        tasks.spawn("node sync", async move {
            let mut tick = tokio::time::interval(SYNC_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                self.once().await;
            }
        });
    }

    /// One pass over the tenants, listed once: secrets first, so that a
    /// plugin loaded in this pass finds the secrets set with it.
    pub async fn once(&self) {
        match keys::companies(self.store.as_ref()).await {
            Ok(companies) => self.load(&companies).await,
            Err(e) => tracing::warn!(error = %e, "could not list the tenants to read other nodes' changes; retrying"),
        }
        // Every pass, even after an error: a pass that loaded a pull plugin
        // and then failed must not leave it without its loop.
        self.scheduler.sync();
    }

    async fn load(&self, companies: &[String]) {
        if let Err(e) = self.vault.load(companies).await {
            tracing::warn!(error = %e, "could not read secrets changed on other nodes; retrying");
        }
        if let Err(e) = self.configs.load(companies).await {
            tracing::warn!(error = %e, "could not read pipeline configurations changed on other nodes; retrying");
        }
        if let Err(e) = self.schemas.load(companies).await {
            tracing::warn!(error = %e, "could not read order schemas changed on other nodes; retrying");
        }
        // A version whose code must be asked first loads in a task of its
        // own, within its limits: it holds up no other change in this pass.
        match self.registry.refresh_among(companies, crate::plugins::registry::GuestCalls::Deferred).await {
            Ok(refreshed) if !refreshed.deferred.is_empty() => {
                let (registry, scheduler) = (self.registry.clone(), self.scheduler.clone());
                self.tasks.spawn("node sync: deferred loads", async move {
                    registry.load_deferred(refreshed.deferred).await;
                    scheduler.sync();
                });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read plugins changed on other nodes; retrying"),
        }
    }
}
