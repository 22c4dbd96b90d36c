//! The epoch ticker: one thread per engine that advances the epoch, so that
//! a guest running wasm code reaches its deadline even if it never calls
//! the host. It stops when the engine is dropped.

use std::sync::Weak;
use std::time::Duration;

/// How often the epoch advances: the granularity of CPU time-outs and how
/// often a running guest yields to the async executor.
pub(crate) const TICK: Duration = Duration::from_millis(10);

pub(crate) fn spawn(engine: Weak<wasmtime::Engine>) {
    let spawned = std::thread::Builder::new().name("portitor-epoch".into()).spawn(move || {
        while let Some(engine) = engine.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(TICK);
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the epoch ticker; guests will only stop at their wall-clock timeout");
    }
}
