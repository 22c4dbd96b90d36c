//! Hostile: spins forever without calling the host. The epoch deadline
//! must stop it at its time-out.

use portitor_guest::{HttpRequest, Identity, PluginError, PushOutcome, PushSource};

struct Spin;

impl PushSource for Spin {
    fn path() -> String {
        "/test/loop".into()
    }

    fn handle(_request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

portitor_guest::export_push_source!(Spin);
