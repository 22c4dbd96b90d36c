//! Hostile: allocates (and touches) a mebibyte at a time until allocation
//! fails. The store's memory limit must refuse the growth.

use portitor_guest::{HttpRequest, Identity, PluginError, PushOutcome, PushSource};

struct Bomb;

impl PushSource for Bomb {
    fn path() -> String {
        "/test/memory-bomb".into()
    }

    fn handle(_request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![0xA5; 1 << 20]));
        }
    }
}

portitor_guest::export_push_source!(Bomb);
