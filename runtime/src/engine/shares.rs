//! Each tenant's share of the instance pool (docs/DESIGN.md §3): at most so many
//! of one tenant's invocations run at once, so that one tenant's flood or
//! loop leaves the rest of the pool — and the cores — to the others. A call
//! past its tenant's share waits for a slot, or is refused at once when its
//! caller would rather answer "retry later" (a partner's webhook: 429).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What a call does when its tenant is at its share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WhenBusy {
    /// Waits for one of the tenant's slots (pipeline steps, pull runs).
    #[default]
    Wait,
    /// Is refused at once (a partner's request, answered 429).
    Refuse,
    /// A shadow run: takes a slot of the tenant's second share, kept for
    /// shadows, so that it never holds one a live call could need; refused
    /// at once when that share is full.
    Beside,
}

#[derive(Debug)]
pub(crate) struct TenantShares {
    per_tenant: usize,
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl TenantShares {
    pub(crate) fn new(per_tenant: u32) -> Self {
        Self { per_tenant: per_tenant.max(1) as usize, tenants: Mutex::default() }
    }

    pub(crate) fn share(&self) -> usize {
        self.per_tenant
    }

    /// A slot of `company`'s share, or `None` when it is full and `when_busy` refuses.
    pub(crate) async fn slot(&self, company: &str, when_busy: WhenBusy) -> Option<OwnedSemaphorePermit> {
        // A company id never holds `/`: the shadows' share has a key of its own.
        let key = match when_busy {
            WhenBusy::Beside => format!("{company}/shadow"),
            WhenBusy::Wait | WhenBusy::Refuse => company.to_string(),
        };
        let semaphore = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            tenants.entry(key).or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant))).clone()
        };
        match when_busy {
            WhenBusy::Refuse | WhenBusy::Beside => semaphore.try_acquire_owned().ok(),
            // The semaphore is never closed, so waiting always ends with a slot.
            WhenBusy::Wait => semaphore.acquire_owned().await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_at_its_share_waits_or_is_refused_and_others_are_not() {
        let shares = TenantShares::new(2);
        let a1 = shares.slot("a", WhenBusy::Refuse).await.expect("first");
        let _a2 = shares.slot("a", WhenBusy::Refuse).await.expect("second");
        assert!(shares.slot("a", WhenBusy::Refuse).await.is_none(), "past a's share");
        assert!(shares.slot("b", WhenBusy::Refuse).await.is_some(), "b has its own share");
        let _shadow = shares.slot("a", WhenBusy::Beside).await.expect("a shadow takes none of a's share");
        let waiting = tokio::spawn({
            let shares = Arc::new(shares);
            async move { shares.slot("a", WhenBusy::Wait).await.is_some() }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "waits while a is at its share");
        drop(a1);
        assert!(waiting.await.expect("task"), "gets the freed slot");
    }
}
