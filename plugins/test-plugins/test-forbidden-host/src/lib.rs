//! Hostile: calls the URL in its configuration `target`, which its manifest
//! does not allow (or which resolves to a private address). The request
//! must be refused before anything reaches the host.

use portitor_guest::{Event, HttpRequest, Identity, PluginError, PushOutcome, PushSource, config, http};

struct Forbidden;

impl PushSource for Forbidden {
    fn path() -> String {
        "/test/forbidden-host".into()
    }

    fn handle(_request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        let target = config::require("target")?;
        let response = http::Request::get(target).send()?;
        // Reaching this line means the sandbox let the request through.
        let event = Event::new("breach", "forbidden-host", &serde_json::json!({ "status": response.status }))?;
        Ok(PushOutcome::events(vec![event]))
    }
}

portitor_guest::export_push_source!(Forbidden);
