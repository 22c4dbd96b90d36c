//! S3-compatible servers for the tests, started on loopback and stopped when
//! dropped: moto's server (AWS's conditional-write semantics, its writes
//! serialized by `moto_serialized.py` to make them atomic) and Garage (a
//! real self-hosted store that ignores conditional writes).
//!
//! Both binaries are installed by `just setup` (`.ci/run` calls it): moto
//! from PyPI, Garage with `cargo install` into the tools directory.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portitor::store::s3::S3Config;

pub const ACCESS_KEY: &str = "AKIAPORTITORTEST0001";
pub const SECRET_KEY: &str = "portitor-test-secret-key-0000000000000000";
pub const BUCKET: &str = "portitor";

/// A running S3 server.
pub struct S3Server {
    child: Child,
    pub port: u16,
    pub access_key: String,
    pub secret_key: String,
    _dir: Option<tempfile::TempDir>,
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl S3Server {
    /// moto's server with an empty `portitor` bucket.
    pub async fn moto() -> Self {
        Self::moto_on(super::free_port()).await
    }

    /// moto's server on `port` (to restart one where a client expects it).
    pub async fn moto_on(port: u16) -> Self {
        // moto's server, its writes one at a time so that conditional
        // writes are atomic as on S3 (see the launcher).
        let launcher = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/support/moto_serialized.py");
        let child = Command::new("python3")
            .arg(launcher)
            .args(["-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto is installed (`pip install 'moto[server]'`; `just setup` does)");
        wait_for_port(port, "moto_server");
        let server = Self { child, port, access_key: ACCESS_KEY.into(), secret_key: SECRET_KEY.into(), _dir: None };
        server.create_bucket().await;
        server
    }

    /// A single-node Garage with a `portitor` bucket and a key allowed on it.
    pub async fn garage() -> Self {
        let binary = garage_binary();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = super::free_port();
        let rpc_port = super::free_port();
        let admin_port = super::free_port();
        let config = dir.path().join("garage.toml");
        std::fs::write(
            &config,
            format!(
                r#"
metadata_dir = "{root}/meta"
data_dir = "{root}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "4f1c6a3e9b2d7c8e5a0f1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{port}"
root_domain = ".s3.garage"

[admin]
api_bind_addr = "127.0.0.1:{admin_port}"
admin_token = "portitor-test-admin-token"
"#,
                root = dir.path().display()
            ),
        )
        .expect("write garage config");
        let garage = |args: &[&str]| -> String {
            let output = Command::new(&binary).arg("-c").arg(&config).args(args).output().expect("garage runs");
            assert!(output.status.success(), "garage {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8_lossy(&output.stdout).into_owned()
        };
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&config)
            .arg("server")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).map(Stdio::from).unwrap_or(Stdio::null()))
            .spawn()
            .expect("garage starts");
        wait_for_port(port, "garage");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status = Command::new(&binary).arg("-c").arg(&config).arg("status").output().expect("garage runs");
            if status.status.success() {
                break;
            }
            assert!(Instant::now() < deadline, "garage did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        let node_id = garage(&["node", "id"]);
        let node_id = &node_id.trim()[..64];
        garage(&["layout", "assign", node_id, "-c", "1G", "-z", "dc1"]);
        garage(&["layout", "apply", "--version", "1"]);
        let key: serde_json::Value =
            serde_json::from_str(&garage(&["json-api", "CreateKey", r#"{"name":"portitor"}"#])).expect("key json");
        let access_key = key["accessKeyId"].as_str().expect("key id").to_string();
        let secret_key = key["secretAccessKey"].as_str().expect("secret").to_string();
        garage(&["bucket", "create", BUCKET]);
        garage(&["bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", &access_key]);
        Self { child, port, access_key, secret_key, _dir: Some(dir) }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The store configuration that reaches this server.
    pub fn config(&self) -> S3Config {
        S3Config {
            bucket: BUCKET.into(),
            endpoint: Some(self.endpoint()),
            region: if self._dir.is_some() { "garage".into() } else { "us-east-1".into() },
            path_style: true,
            access_key_id: Some(self.access_key.clone()),
            secret_access_key: Some(self.secret_key.clone()),
            key_prefix: None,
            timeout_ms: 5_000,
        }
    }

    /// The `PORTITOR_*` variables that put a server's store on this one.
    pub fn portitor_env(&self) -> Vec<(String, String)> {
        let config = self.config();
        [
            ("PORTITOR_STORE__BACKEND", "s3".to_string()),
            ("PORTITOR_STORE__S3__BUCKET", config.bucket),
            ("PORTITOR_STORE__S3__ENDPOINT", self.endpoint()),
            ("PORTITOR_STORE__S3__REGION", config.region),
            ("PORTITOR_STORE__S3__ACCESS_KEY_ID", self.access_key.clone()),
            ("PORTITOR_STORE__S3__SECRET_ACCESS_KEY", self.secret_key.clone()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }

    /// A client of moto with the test credentials.
    fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    async fn create_bucket(&self) {
        self.client().create_bucket().bucket(BUCKET).send().await.expect("create bucket");
    }

    /// The object at `key` in the test bucket (moto only).
    pub async fn get_object(&self, key: &str) -> Vec<u8> {
        let object = self.client().get_object().bucket(BUCKET).key(key).send().await.expect("get object");
        object.body.collect().await.expect("object body").into_bytes().to_vec()
    }

    /// Stops the server (the store becomes unavailable).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `garage` binary: `$GARAGE_BIN`, the tools directory `just setup`
/// installs into, or `PATH`.
fn garage_binary() -> PathBuf {
    if let Ok(path) = std::env::var("GARAGE_BIN") {
        return PathBuf::from(path);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let tools = PathBuf::from(home).join(".cache/portitor-tools/bin/garage");
    if tools.exists() {
        return tools;
    }
    PathBuf::from("garage")
}
