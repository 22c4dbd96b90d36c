//! Hostile: panics. The invocation must fail with the panic message and
//! the engine go on.

use portitor_guest::{HttpRequest, Identity, PluginError, PushOutcome, PushSource};

struct Panics;

impl PushSource for Panics {
    fn path() -> String {
        "/test/panic".into()
    }

    fn handle(_request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        panic!("deliberate panic in handle");
    }
}

portitor_guest::export_push_source!(Panics);
