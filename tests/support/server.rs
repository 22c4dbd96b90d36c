//! The real `portitor` binary, started by end-to-end tests: it listens on a
//! free port (it prints the address it bound) and is killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portitor"))
}

/// A running `portitor serve`.
pub struct Portitor {
    child: Child,
    pub url: String,
    /// Lines the server printed on stdout after the listening line.
    pub stdout: mpsc::Receiver<String>,
}

/// The keys every test server and `portitor token` call here share, so
/// that a test mints tokens without knowing a server's data directory.
/// Test support only: the binary has no key built in, and a server started
/// `bare` generates its own.
pub const TEST_JWT_KEY: &str = "portitor-test-harness-key-not-for-any-server";
pub const TEST_SECRETS_KEY: &str = "dGVzdC1oYXJuZXNzLXNlY3JldHMta2V5LTMyLWJ5dGU=";

/// What the harness configures on every server unless it starts `bare`:
/// the test keys, and loopback granted to every tenant (the partners the
/// tests start listen there).
pub fn harness_env() -> Vec<(String, String)> {
    vec![
        ("PORTITOR_AUTH__HS256_SECRET".into(), TEST_JWT_KEY.into()),
        ("PORTITOR_SECRETS__KEY".into(), TEST_SECRETS_KEY.into()),
        ("PORTITOR_EGRESS__PRIVATE_HOSTS".into(), "[\"127.0.0.1\", \"localhost\"]".into()),
    ]
}

/// How to start the server.
#[derive(Default, Clone)]
pub struct Options {
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// Listen where the configuration says instead of on a free port.
    pub keep_listen: bool,
    /// Write the server's log (stderr) to this file.
    pub stderr: Option<PathBuf>,
    /// Started as the README starts it: no harness keys, no network grants.
    pub bare: bool,
}

impl Portitor {
    /// Starts `portitor serve` on `data_dir` and a free port.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(Options { data_dir: Some(data_dir.to_path_buf()), ..Options::default() })
    }

    pub fn start_with(options: Options) -> Self {
        let mut command = Command::new(binary());
        command.arg("serve");
        if !options.keep_listen {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        if let Some(dir) = &options.data_dir {
            command.arg("--data-dir").arg(dir);
        }
        if let Some(config) = &options.config {
            command.arg("--config").arg(config);
        }
        command.args(&options.args);
        if let Some(cwd) = &options.cwd {
            command.current_dir(cwd);
        }
        command.env("RUST_LOG", "error");
        if !options.bare {
            command.envs(harness_env());
        }
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let stderr = match &options.stderr {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::inherit(),
        };
        command.stdout(Stdio::piped()).stderr(stderr);
        let mut child = command.spawn().expect("portitor starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            let status = child.try_wait();
            panic!("portitor did not start listening (exit: {status:?})")
        });
        let url = first
            .strip_prefix("portitor listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .to_string();
        Self { child, url, stdout: rx }
    }

    /// Runs `portitor token` (the CLI) for a token.
    pub fn token(company: &str, roles: &[&str]) -> String {
        token_with_env(company, roles, &[])
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no shutdown, no flushing, nothing.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success());
        self.child.wait().expect("wait").success()
    }

    pub fn client() -> reqwest::Client {
        reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
    }
}

/// Runs `portitor serve` on `data_dir` with `env` (nothing else configured),
/// expecting it to refuse to start; returns what it printed on stderr. A
/// server that starts instead is killed after 30 s and the caller fails.
pub fn serve_refused(data_dir: &Path, env: &[(&str, &str)]) -> String {
    let mut command = Command::new(binary());
    command.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
    command.envs(env.iter().copied()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("portitor starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("portitor started although it should have refused to");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "portitor exited cleanly although it should have refused to start");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    stderr
}

/// `portitor token` with extra environment (e.g. the server's configured key).
pub fn token_with_env(company: &str, roles: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(binary());
    command.args(["token", "--company", company]);
    for role in roles {
        command.args(["--role", role]);
    }
    command.envs(harness_env());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("portitor token runs");
    assert!(output.status.success(), "portitor token failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8").trim().to_string()
}

/// Runs `portitor plugin` with `args` and extra environment; asserts it
/// succeeded and returns its JSON output (`null` when it printed none).
pub fn plugin_cli(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut command = Command::new(binary());
    command.arg("plugin").args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("portitor plugin runs");
    assert!(output.status.success(), "portitor plugin {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
}

impl Drop for Portitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir`, relative, sorted (the store's keys on `fs`).
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}
