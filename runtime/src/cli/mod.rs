//! `portitor plugin`: a client of the admin API for uploading and running
//! plugins from a terminal or a CI job, and the two commands a tenant runs
//! without a server: `new` (a plugin project, `scaffold.rs`) and `test`
//! (a component over fixtures, `fixtures.rs`). The server and token come
//! from `--url`/`--token` or `PORTITOR_URL`/`PORTITOR_TOKEN`; the company
//! from `--company`, else the token's own `company` claim.

pub mod fixtures;
pub mod scaffold;

use std::path::PathBuf;

use anyhow::{Context, bail};
use base64::Engine as _;
use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct PluginArgs {
    /// The server, e.g. `http://127.0.0.1:8080`.
    #[arg(long, env = "PORTITOR_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A bearer token (`portitor token` mints one for development); the
    /// commands that talk to a server need it.
    #[arg(long, env = "PORTITOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The company; by default the one the token is for.
    #[arg(long)]
    pub company: Option<String>,
    #[command(subcommand)]
    pub command: PluginCommand,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Writes a new plugin project: source, manifest, a fixture and how to
    /// build and test it (no server needed).
    New {
        /// The project's name, also its directory under --dir.
        name: String,
        #[arg(long, value_parser = scaffold::Kind::parse)]
        kind: scaffold::Kind,
        #[arg(long, value_parser = scaffold::Language::parse)]
        lang: scaffold::Language,
        /// Where to create the project directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Runs a component over fixture files, offline, in the server's engine
    /// under its manifest; fails when one gives other than it expects.
    Test {
        #[arg(long)]
        component: PathBuf,
        #[arg(long)]
        manifest: PathBuf,
        /// A fixture file or a directory of them.
        #[arg(long, default_value = "fixtures")]
        fixtures: PathBuf,
        /// Recordings exported from a server (`portitor plugin recordings
        /// export`), in place of fixtures: each must give its whole recorded
        /// outcome again.
        #[arg(long, conflicts_with_all = ["fixtures", "bless"])]
        recordings: Option<PathBuf>,
        /// A secret the manifest names, `NAME=VALUE` (repeatable).
        #[arg(long = "secret", value_parser = parse_secret)]
        secrets: Vec<(String, String)>,
        /// Writes what the component gives into each fixture's `expect`.
        #[arg(long)]
        bless: bool,
    },
    /// The commands that talk to a server.
    #[command(flatten)]
    Server(ServerCommand),
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Uploads a version (and activates it unless --no-activate).
    Upload {
        id: String,
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long)]
        component: PathBuf,
        #[arg(long)]
        no_activate: bool,
    },
    /// Lists the company's plugins.
    List,
    /// Shows one plugin.
    Show {
        id: String,
    },
    /// Lists a plugin's stored versions.
    Versions {
        id: String,
    },
    /// Makes a stored version the active one (roll forward or back).
    Activate {
        id: String,
        version: String,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    Delete {
        id: String,
    },
    /// Runs a pull plugin now and prints the run.
    Run {
        id: String,
    },
    /// A pull plugin's run history.
    Runs {
        id: String,
    },
    /// A plugin's recent log lines.
    Logs {
        id: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Runs a stored version over the plugin's recorded invocations, the
    /// recorded answers in place of the network, and prints the report.
    Replay {
        id: String,
        /// The version to replay (a SHA-256 from `versions`).
        #[arg(long)]
        version: String,
        /// The first recording id to replay.
        #[arg(long)]
        from: Option<String>,
        /// The last recording id to replay.
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        /// Fails unless every invocation came out equal (for a CI gate).
        #[arg(long)]
        expect_equal: bool,
        /// Prints the whole report as JSON instead of its summary.
        #[arg(long)]
        json: bool,
    },
    /// A plugin's recorded invocations.
    Recordings {
        id: String,
        #[command(subcommand)]
        action: RecordingsAction,
    },
    /// Runs a stored version in shadow beside the active one, or stops it.
    Shadow {
        id: String,
        /// The version; none stops the shadow.
        #[arg(long)]
        version: Option<String>,
    },
    /// A pull plugin's cursor: show it, set it, or reset it (platform-operator).
    Cursor {
        id: String,
        #[command(subcommand)]
        action: Option<CursorAction>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RecordingsAction {
    /// Writes the recordings as files for `portitor plugin test --recordings`.
    Export {
        #[arg(long)]
        out: PathBuf,
        /// The most to export (the newest are kept by the server).
        #[arg(long, default_value_t = 1_000)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum CursorAction {
    Get,
    Set {
        cursor: String,
    },
    /// The next run reads from the beginning.
    Reset,
}

/// The `company` claim of a JWT (not verified: the server does that).
fn company_of(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let claims: crate::security::auth::Claims =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    Some(claims.company).filter(|company| company != "*")
}

fn parse_secret(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

pub async fn run(args: PluginArgs) -> anyhow::Result<()> {
    match args.command {
        PluginCommand::New { name, kind, lang, dir } => {
            let project = scaffold::create(&dir, &name, kind, lang)?;
            println!("{}", scaffold::next_steps(&project, lang));
            Ok(())
        }
        PluginCommand::Test { component, manifest, fixtures, recordings, secrets, bless } => {
            let (fixtures, recorded) = match recordings {
                Some(dir) => (dir, true),
                None => (fixtures, false),
            };
            let run = fixtures::TestRun { component, manifest, fixtures, secrets, bless, recordings: recorded };
            let results = fixtures::run(&run).await?;
            report(&results, bless)
        }
        PluginCommand::Server(command) => on_server(&args.url, args.token, args.company, command).await,
    }
}

/// Runs a command against the server's admin API.
async fn on_server(
    url: &str,
    token: Option<String>,
    company: Option<String>,
    command: ServerCommand,
) -> anyhow::Result<()> {
    let Some(token) = token else {
        bail!("give --token or set PORTITOR_TOKEN (`portitor token` mints one for development)");
    };
    let company = match company.or_else(|| company_of(&token)) {
        Some(company) => company,
        None => bail!("give --company (the token is not for one company)"),
    };
    let base = format!("{}/{company}/plugins", url.trim_end_matches('/'));
    let client = Client { http: reqwest::Client::new(), token };
    let answer = match command {
        ServerCommand::Upload { id, manifest, component, no_activate } => {
            let manifest =
                std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
            let bytes = std::fs::read(&component).with_context(|| format!("reading {}", component.display()))?;
            let form = reqwest::multipart::Form::new()
                .text("manifest", manifest)
                .part("component", reqwest::multipart::Part::bytes(bytes).file_name("component.wasm"));
            let url = format!("{base}/{id}?activate={}", !no_activate);
            client.send(client.http.put(url).multipart(form)).await?
        }
        ServerCommand::List => client.call(Method::GET, &base, None).await?,
        ServerCommand::Show { id } => client.call(Method::GET, &format!("{base}/{id}"), None).await?,
        ServerCommand::Versions { id } => client.call(Method::GET, &format!("{base}/{id}/versions"), None).await?,
        ServerCommand::Activate { id, version } => {
            client.call(Method::POST, &format!("{base}/{id}/activate"), Some(json!({ "version": version }))).await?
        }
        ServerCommand::Enable { id } => client.call(Method::POST, &format!("{base}/{id}/enable"), None).await?,
        ServerCommand::Disable { id } => client.call(Method::POST, &format!("{base}/{id}/disable"), None).await?,
        ServerCommand::Delete { id } => client.call(Method::DELETE, &format!("{base}/{id}"), None).await?,
        ServerCommand::Run { id } => client.call(Method::POST, &format!("{base}/{id}/run"), None).await?,
        ServerCommand::Runs { id } => client.call(Method::GET, &format!("{base}/{id}/runs"), None).await?,
        ServerCommand::Logs { id, limit } => {
            client.call(Method::GET, &format!("{base}/{id}/logs?limit={limit}"), None).await?
        }
        ServerCommand::Replay { id, version, from, to, limit, expect_equal, json } => {
            let body = json!({ "version": version, "from": from, "to": to, "limit": limit });
            let report = client.call(Method::POST, &format!("{base}/{id}/replay"), Some(body)).await?;
            if let Some(report) = &report {
                match json {
                    true => println!("{}", serde_json::to_string_pretty(report)?),
                    false => print!("{}", replay_summary(report)),
                }
                let counts = &report["counts"];
                let unequal = counts["different"].as_u64().unwrap_or(0) + counts["failed"].as_u64().unwrap_or(0);
                if expect_equal && unequal > 0 {
                    bail!("{unequal} invocations did not come out equal");
                }
            }
            None
        }
        ServerCommand::Recordings { id, action: RecordingsAction::Export { out, limit } } => {
            let written = export_recordings(&client, &format!("{base}/{id}/recordings"), &out, limit).await?;
            println!("{written} recordings written to {}", out.display());
            None
        }
        ServerCommand::Shadow { id, version } => {
            let url = format!("{base}/{id}/shadow");
            match version {
                Some(version) => client.call(Method::PUT, &url, Some(json!({ "version": version }))).await?,
                None => client.call(Method::DELETE, &url, None).await?,
            }
        }
        ServerCommand::Cursor { id, action } => {
            let url = format!("{base}/{id}/cursor");
            match action.unwrap_or(CursorAction::Get) {
                CursorAction::Get => client.call(Method::GET, &url, None).await?,
                CursorAction::Set { cursor } => {
                    client.call(Method::PUT, &url, Some(json!({ "cursor": cursor }))).await?
                }
                CursorAction::Reset => client.call(Method::DELETE, &url, None).await?,
            }
        }
    };
    if let Some(answer) = answer {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    }
    Ok(())
}

/// The most invocations a replay's summary lists.
const SUMMARY_ROWS: usize = 20;

/// A replay report for a terminal: the counts, then each invocation that
/// did not come out equal with its first difference or its error.
fn replay_summary(report: &Value) -> String {
    let counts = &report["counts"];
    let invocations = report["invocations"].as_array().map(Vec::as_slice).unwrap_or_default();
    let version = report["version"].as_str().unwrap_or_default();
    let mut out = format!(
        "{} over {} recorded invocation(s): {} equal, {} different, {} failed (report {})\n",
        &version[..version.len().min(12)],
        invocations.len(),
        counts["equal"],
        counts["different"],
        counts["failed"],
        report["id"].as_str().unwrap_or_default(),
    );
    let unequal: Vec<&Value> = invocations.iter().filter(|i| i["verdict"] != "equal").collect();
    for invocation in unequal.iter().take(SUMMARY_ROWS) {
        let recording = invocation["recording"].as_str().unwrap_or_default();
        let what = match invocation["error"].as_object() {
            Some(error) => format!("{}: {}", error["kind"].as_str().unwrap_or("error"), error["message"]),
            None => {
                let first = &invocation["differences"][0];
                let more = invocation["differences"].as_array().map_or(0, Vec::len).saturating_sub(1);
                let more = if more > 0 { format!(" (+{more} more)") } else { String::new() };
                format!(
                    "{}: recorded {}, replayed {}{more}",
                    first["path"].as_str().unwrap_or("/"),
                    first["recorded"],
                    first["replayed"]
                )
            }
        };
        out.push_str(&format!("{:>9}  {recording}  {what}\n", invocation["verdict"].as_str().unwrap_or_default()));
    }
    if unequal.len() > SUMMARY_ROWS {
        out.push_str(&format!("… and {} more; --json prints the whole report\n", unequal.len() - SUMMARY_ROWS));
    }
    out
}

/// Pages through a plugin's recordings and writes each as `{id}.json`.
async fn export_recordings(client: &Client, url: &str, out: &std::path::Path, limit: usize) -> anyhow::Result<usize> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut after: Option<String> = None;
    let mut written = 0;
    while written < limit {
        let page = (limit - written).min(100);
        let mut url = format!("{url}?limit={page}");
        if let Some(after) = &after {
            url.push_str(&format!("&after={after}"));
        }
        let answer = client.call(Method::GET, &url, None).await?.unwrap_or(Value::Null);
        let recordings = answer["recordings"].as_array().cloned().unwrap_or_default();
        for recording in &recordings {
            let id = recording["recording"]["id"].as_str().context("a recording without an id")?;
            crate::events::keys::check_segment("recording id", id)?;
            let path = out.join(format!("{id}.json"));
            std::fs::write(&path, serde_json::to_string_pretty(recording)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            written += 1;
        }
        match answer["next"].as_str() {
            Some(next) if !recordings.is_empty() => after = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(written)
}

/// Prints each fixture's result; an error when one failed.
fn report(results: &[fixtures::FixtureResult], blessed: bool) -> anyhow::Result<()> {
    for result in results {
        let verdict = if blessed {
            "blessed"
        } else if result.passed() {
            "ok"
        } else {
            "FAILED"
        };
        println!("{verdict:>7}  {}", result.path.display());
        if !result.passed() {
            for difference in &result.differences {
                println!("         {difference}");
            }
            for line in &result.log {
                println!("         log {line}");
            }
        }
    }
    let failed = results.iter().filter(|result| !result.passed()).count();
    println!("{} fixtures: {} passed, {failed} failed", results.len(), results.len() - failed);
    if failed > 0 {
        bail!("{failed} of {} fixtures failed", results.len());
    }
    Ok(())
}

struct Client {
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn call(&self, method: Method, url: &str, body: Option<Value>) -> anyhow::Result<Option<Value>> {
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// Sends with the token; the answer's JSON, or an error with the server's message.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Option<Value>> {
        let response = request.bearer_auth(&self.token).send().await.context("the server could not be reached")?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status == StatusCode::NO_CONTENT || text.is_empty() {
            return if status.is_success() { Ok(None) } else { bail!("{status}") };
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let message = body["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| body.to_string());
            bail!("{status}: {message}");
        }
        Ok(Some(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_summary_names_each_unequal_invocation_by_its_first_difference_or_error() {
        let report = json!({
            "id": "r1", "version": "ab".repeat(32),
            "counts": { "equal": 1, "different": 1, "failed": 1 },
            "invocations": [
                { "recording": "a", "verdict": "equal" },
                { "recording": "b", "verdict": "different", "differences": [
                    { "path": "/events/0/payload/orderNumber", "recorded": "1", "replayed": "#1" },
                    { "path": "/events/0/payload/x", "recorded": 1, "replayed": 2 } ] },
                { "recording": "c", "verdict": "failed", "error": { "kind": "trapped", "message": "boom" } },
            ],
        });
        let summary = replay_summary(&report);
        let first = "abababababab over 3 recorded invocation(s): 1 equal, 1 different, 1 failed (report r1)";
        assert!(summary.starts_with(first), "{summary}");
        let different = "different  b  /events/0/payload/orderNumber: recorded \"1\", replayed \"#1\" (+1 more)";
        assert!(summary.contains(different), "{summary}");
        assert!(summary.contains("   failed  c  trapped: \"boom\""), "{summary}");
        assert!(!summary.contains("  a  "), "equal ones are not listed: {summary}");
    }
}
