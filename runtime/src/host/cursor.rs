//! `cursor`: the cursor of the current pull run, and mid-run checkpoints.
//!
//! A checkpoint hands the events to the caller's [`Checkpointer`], which
//! makes them durable and only then moves the cursor; the plugin continues
//! once both are done.

use std::sync::Arc;

use futures::future::BoxFuture;
use wasmtime::component::{HasSelf, Linker};

use super::HostState;
use crate::engine::bindings::{cursor, types};
use crate::engine::output::{PluginEvent, events_from_wit};

/// Makes a run's events durable and moves its cursor (implemented by the pull runner).
pub trait Checkpointer: Send + Sync {
    fn checkpoint(&self, events: Vec<PluginEvent>, next: String) -> BoxFuture<'_, Result<(), String>>;
}

/// The cursor state of one pull invocation.
#[derive(Clone, Default)]
pub struct CursorAccess {
    pub(crate) current: Option<String>,
    pub(crate) checkpointer: Option<Arc<dyn Checkpointer>>,
}

impl CursorAccess {
    pub fn new(current: Option<String>, checkpointer: Option<Arc<dyn Checkpointer>>) -> Self {
        Self { current, checkpointer }
    }
}

impl std::fmt::Debug for CursorAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorAccess")
            .field("current", &self.current)
            .field("checkpoints", &self.checkpointer.is_some())
            .finish()
    }
}

impl cursor::Host for HostState {
    async fn current(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.invocation.cursor.as_ref().and_then(|c| c.current.clone()))
    }

    async fn checkpoint(&mut self, events: Vec<types::Event>, next: String) -> wasmtime::Result<Result<(), String>> {
        let Some(checkpointer) = self.invocation.cursor.as_ref().and_then(|c| c.checkpointer.clone()) else {
            return Ok(Err("checkpoints are only available during a pull run".into()));
        };
        let events = match events_from_wit(events, &self.plugin.limits) {
            Ok(events) => events,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let remaining = self.remaining();
        let kept = self.invocation.tape.clone().map(|tape| (tape, events.clone()));
        match tokio::time::timeout(remaining, checkpointer.checkpoint(events, next.clone())).await {
            Ok(Ok(())) => {
                if let Some((tape, events)) = kept {
                    tape.checkpoint(&events, &next);
                }
                if let Some(cursor) = self.invocation.cursor.as_mut() {
                    cursor.current = Some(next);
                }
                Ok(Ok(()))
            }
            Ok(Err(e)) => Ok(Err(e)),
            Err(_) => Ok(Err("the invocation's time ran out during the checkpoint".into())),
        }
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    cursor::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
}
