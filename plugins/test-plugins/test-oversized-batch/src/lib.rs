//! Hostile: returns a batch of 100,000 events. The host must refuse it at
//! the plugin's cap, whole: no event of it is ingested.

use portitor_guest::{Batch, Event, PluginError, PullSource};

struct Flood;

impl PullSource for Flood {
    fn schedule() -> String {
        "* * * * *".into()
    }

    fn cursor_key() -> String {
        "cursor".into()
    }

    fn fetch(_cursor: Option<String>) -> Result<Batch, PluginError> {
        let events = (0..100_000)
            .map(|i| Event::new("order", i.to_string(), &serde_json::json!({ "n": i })))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Batch::new(events, "flooded", false))
    }
}

portitor_guest::export_pull_source!(Flood);
