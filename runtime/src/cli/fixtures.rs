//! `portitor plugin test`: runs a component in the engine, offline, over
//! fixture files and says for each whether it gave what the fixture expects.
//!
//! A fixture is one JSON file: one invocation's input (by plugin kind: a
//! partner `request`, a pull `cursor`, an `order`, a warehouse `document`),
//! the answers to the HTTP requests it makes (`http`, served after the
//! egress policy, never from the network), and what it must give (`expect`).
//! Only the keys present in `expect` are compared, so a fixture can pin the
//! events and leave the partner's response alone. `--bless` writes what the
//! component gave into `expect`, for a fixture's first run.
//!
//! The engine is the server's, with the manifest's limits and policy: a
//! plugin that passes here fails in production only on what the fixtures
//! do not show.
//!
//! `--recordings` runs recordings exported from a server (`portitor plugin
//! recordings export`) the same way: the whole recorded outcome must come
//! out again, each difference named by its JSON Pointer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use serde_json::{Map, Value};

use crate::engine::{CallOptions, Engine, EngineConfig};
use crate::host::{LogLine, LogSink};
use crate::plugins::manifest::Manifest;
use crate::replay::diff::diff;
use crate::replay::fixture::Fixture;
use crate::replay::run::invoke;
use crate::security::secrets::StaticSecrets;

/// The tenant and plugin id offline runs use.
const COMPANY: &str = "local";
const PLUGIN: &str = "plugin";

/// What `portitor plugin test` runs.
#[derive(Debug, Clone)]
pub struct TestRun {
    pub component: PathBuf,
    pub manifest: PathBuf,
    /// A fixture file or a directory of them (`*.json`).
    pub fixtures: PathBuf,
    /// Secrets the manifest names, as `NAME=VALUE`.
    pub secrets: Vec<(String, String)>,
    /// Writes what the component gives into each fixture's `expect`.
    pub bless: bool,
    /// The fixtures are recordings exported from a server: what the
    /// component gives must equal the whole recorded outcome, not only
    /// the keys `expect` names.
    pub recordings: bool,
}

/// How one fixture went.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureResult {
    pub path: PathBuf,
    /// Each difference between `expect` and what the component gave; none
    /// when it passed (or was blessed).
    pub differences: Vec<String>,
    /// The plugin's log lines, for a failure's context.
    pub log: Vec<String>,
}

impl FixtureResult {
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Loads the component and runs every fixture; an error only when nothing
/// could run (an unreadable file, a component the engine refuses).
pub async fn run(test: &TestRun) -> anyhow::Result<Vec<FixtureResult>> {
    let manifest_text =
        std::fs::read_to_string(&test.manifest).with_context(|| format!("reading {}", test.manifest.display()))?;
    let manifest = Manifest::parse(&manifest_text).with_context(|| format!("{}", test.manifest.display()))?;
    let component = std::fs::read(&test.component).with_context(|| format!("reading {}", test.component.display()))?;
    let secrets = test.secrets.iter().fold(StaticSecrets::new(), |secrets, (name, value)| secrets.with(name, value));
    let engine = Engine::new(EngineConfig { max_concurrent_instances: 4, ..EngineConfig::default() })?;
    let plugin = engine.load(COMPANY, PLUGIN, &component, manifest, Arc::new(secrets))?;

    let mut results = Vec::new();
    for path in fixture_files(&test.fixtures)? {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let mut document: Map<String, Value> =
            serde_json::from_str(&text).with_context(|| format!("{} is not a JSON object", path.display()))?;
        let fixture: Fixture = serde_json::from_value(Value::Object(document.clone()))
            .with_context(|| format!("{} is not a fixture", path.display()))?;
        let log = Arc::new(CollectedLog::default());
        let options = CallOptions { log_sink: Some(log.clone()), ..CallOptions::default() };
        let actual = invoke(&plugin, &fixture, COMPANY, options).await?;
        let differences = if test.bless {
            document.insert("expect".to_string(), actual);
            std::fs::write(&path, serde_json::to_string_pretty(&document)? + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            Vec::new()
        } else if test.recordings {
            compare_whole(&fixture.expect, &actual)
        } else {
            compare(&fixture.expect, &actual)
        };
        results.push(FixtureResult { path, differences, log: log.lines() });
    }
    Ok(results)
}

/// `path` itself, or the `*.json` files in it, sorted.
fn fixture_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{} holds no fixture (*.json)", path.display());
    }
    Ok(files)
}

/// A plugin's log lines, kept to show beside a failure.
#[derive(Debug, Default)]
struct CollectedLog(Mutex<Vec<String>>);

impl CollectedLog {
    fn lines(&self) -> Vec<String> {
        self.0.lock().map(|lines| lines.clone()).unwrap_or_default()
    }
}

impl LogSink for CollectedLog {
    fn record(&self, line: LogLine) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(format!("{:?}: {}", line.level, line.message));
        }
    }
}

/// Each place where a recording's outcome and `actual` differ, named by
/// its JSON Pointer.
fn compare_whole(expect: &Value, actual: &Value) -> Vec<String> {
    diff(expect, actual, 20)
        .into_iter()
        .map(|d| format!("`{}`: recorded {}, got {}", d.path, clip(&d.recorded), clip(&d.replayed)))
        .collect()
}

/// The differences between `expect` and `actual`, key by key of `expect`.
fn compare(expect: &Value, actual: &Value) -> Vec<String> {
    let Value::Object(expected) = expect else {
        return vec!["the fixture has no `expect` object; run with --bless to write what the component gives".into()];
    };
    expected
        .iter()
        .filter_map(|(key, want)| {
            let got = actual.get(key).unwrap_or(&Value::Null);
            (got != want).then(|| format!("`{key}`: expected {}, got {}", clip(want), clip(got)))
        })
        .chain(
            actual
                .get("error")
                .filter(|_| !expected.contains_key("error"))
                .map(|error| format!("the invocation failed: {}", clip(error))),
        )
        .collect()
}

/// Compact JSON, cut at a length a terminal shows.
fn clip(value: &Value) -> String {
    const MAX: usize = 2_000;
    let text = value.to_string();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_expected_keys_are_compared_and_a_failure_is_always_reported() {
        let actual = json!({ "events": [1], "response": { "status": 200 } });
        assert!(compare(&json!({ "events": [1] }), &actual).is_empty());
        let differences = compare(&json!({ "events": [2] }), &actual);
        assert_eq!(differences, vec!["`events`: expected [2], got [1]".to_string()]);

        let failed = json!({ "error": { "kind": "fatal", "message": "boom" } });
        let differences = compare(&json!({ "events": [] }), &failed);
        assert_eq!(differences.len(), 2, "{differences:?}");
        assert!(differences[1].contains("boom"));
        assert!(compare(&json!({ "error": { "kind": "fatal", "message": "boom" } }), &failed).is_empty());
        assert_eq!(compare(&Value::Null, &actual).len(), 1, "a fixture without `expect` fails");
    }
}
