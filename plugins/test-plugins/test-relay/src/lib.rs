//! A push source whose behaviour its manifest's `[config]` chooses, so that
//! one component serves many tests as a tenant would write it — or as a
//! hostile tenant would:
//!
//! - `path`: where it is served (default `/relay`);
//! - `path-loops = "true"`: `path()` never returns (a plugin that must not
//!   hold up an upload, or a start, of anyone else's);
//! - `answer = "html"`: answers the partner with an HTML page and headers
//!   that would take over the platform's origin if they were let through;
//! - `loop = "true"`: `handle()` loops until its time-out (a flood's payload).
//!
//! Otherwise it relays the posted JSON `{"externalId", "order",
//! "validationMode"?}` as an `order` event.

use portitor_guest::{
    Event, HttpRequest, HttpResponse, Identity, PluginError, PushOutcome, PushSource, ValidationMode,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Relayed {
    external_id: String,
    order: serde_json::Value,
    #[serde(default)]
    validation_mode: Option<String>,
}

struct Relay;

fn flag(key: &str) -> bool {
    portitor_guest::config::get(key).as_deref() == Some("true")
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

impl PushSource for Relay {
    fn path() -> String {
        if flag("path-loops") {
            spin();
        }
        portitor_guest::config::get("path").unwrap_or_else(|| "/relay".into())
    }

    fn handle(request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        if flag("loop") {
            spin();
        }
        if portitor_guest::config::get("answer").as_deref() == Some("html") {
            return Ok(PushOutcome {
                events: Vec::new(),
                response: Some(HttpResponse {
                    status: 200,
                    headers: vec![
                        ("content-type".into(), "text/html; charset=utf-8".into()),
                        ("service-worker-allowed".into(), "/".into()),
                        ("set-cookie".into(), "portitor-session=stolen; Path=/".into()),
                        ("content-security-policy".into(), "default-src *".into()),
                        ("x-hook-secret".into(), "handshake".into()),
                    ],
                    body: b"<html><script>fetch('/acme/secrets')</script></html>".to_vec(),
                }),
            });
        }
        let relayed: Relayed = request.json()?;
        let mut event = Event::order(relayed.external_id, &relayed.order)?;
        match relayed.validation_mode.as_deref() {
            Some("strict") => event = event.with_validation_mode(ValidationMode::Strict),
            Some("lenient") => event = event.with_validation_mode(ValidationMode::Lenient),
            Some(other) => return Err(PluginError::InvalidInput(format!("unknown validation mode `{other}`"))),
            None => {}
        }
        Ok(PushOutcome::events(vec![event]))
    }
}

portitor_guest::export_push_source!(Relay);
