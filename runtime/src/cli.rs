//! `portitor plugin`: a client of the admin API for uploading and running
//! plugins from a terminal or a CI job. The server and token come from
//! `--url`/`--token` or `PORTITOR_URL`/`PORTITOR_TOKEN`; the company from
//! `--company`, else the token's own `company` claim.

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
    /// A bearer token (`portitor token` mints one for development).
    #[arg(long, env = "PORTITOR_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The company; by default the one the token is for.
    #[arg(long)]
    pub company: Option<String>,
    #[command(subcommand)]
    pub command: PluginCommand,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
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
    /// A pull plugin's cursor: show it, set it, or reset it (platform-operator).
    Cursor {
        id: String,
        #[command(subcommand)]
        action: Option<CursorAction>,
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

pub async fn run(args: PluginArgs) -> anyhow::Result<()> {
    let company = match args.company.clone().or_else(|| company_of(&args.token)) {
        Some(company) => company,
        None => bail!("give --company (the token is not for one company)"),
    };
    let base = format!("{}/{company}/plugins", args.url.trim_end_matches('/'));
    let client = Client { http: reqwest::Client::new(), token: args.token.clone() };
    let answer = match args.command {
        PluginCommand::Upload { id, manifest, component, no_activate } => {
            let manifest =
                std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
            let bytes = std::fs::read(&component).with_context(|| format!("reading {}", component.display()))?;
            let form = reqwest::multipart::Form::new()
                .text("manifest", manifest)
                .part("component", reqwest::multipart::Part::bytes(bytes).file_name("component.wasm"));
            let url = format!("{base}/{id}?activate={}", !no_activate);
            client.send(client.http.put(url).multipart(form)).await?
        }
        PluginCommand::List => client.call(Method::GET, &base, None).await?,
        PluginCommand::Show { id } => client.call(Method::GET, &format!("{base}/{id}"), None).await?,
        PluginCommand::Versions { id } => client.call(Method::GET, &format!("{base}/{id}/versions"), None).await?,
        PluginCommand::Activate { id, version } => {
            client.call(Method::POST, &format!("{base}/{id}/activate"), Some(json!({ "version": version }))).await?
        }
        PluginCommand::Enable { id } => client.call(Method::POST, &format!("{base}/{id}/enable"), None).await?,
        PluginCommand::Disable { id } => client.call(Method::POST, &format!("{base}/{id}/disable"), None).await?,
        PluginCommand::Delete { id } => client.call(Method::DELETE, &format!("{base}/{id}"), None).await?,
        PluginCommand::Run { id } => client.call(Method::POST, &format!("{base}/{id}/run"), None).await?,
        PluginCommand::Runs { id } => client.call(Method::GET, &format!("{base}/{id}/runs"), None).await?,
        PluginCommand::Logs { id, limit } => {
            client.call(Method::GET, &format!("{base}/{id}/logs?limit={limit}"), None).await?
        }
        PluginCommand::Cursor { id, action } => {
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
