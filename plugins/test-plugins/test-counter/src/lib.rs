//! Counts its calls in a static and reports the count: with a fresh store
//! per call, every call reports 1. Also the smallest useful push plugin,
//! which the invocation benchmark runs.

use std::sync::atomic::{AtomicU64, Ordering};

use portitor_guest::{Event, HttpRequest, Identity, PluginError, PushOutcome, PushSource};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Counter;

impl PushSource for Counter {
    fn path() -> String {
        "/test/counter".into()
    }

    fn handle(request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        let id = String::from_utf8_lossy(&request.body).into_owned();
        let event = Event::new(
            "test",
            if id.is_empty() { "none".to_string() } else { id },
            &serde_json::json!({ "calls": calls }),
        )?;
        Ok(PushOutcome::events(vec![event]))
    }
}

portitor_guest::export_push_source!(Counter);
