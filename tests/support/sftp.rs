//! A real SFTP server for the tests: asyncssh on loopback (`tests/peers/sftp_server.py`),
//! serving a temporary directory to one user by password or client key, with
//! a host key it generates and hands over for the manifest to pin.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "bring";
pub const PASSWORD: &str = "sftp-secret-pw";

pub struct SftpServer {
    child: Child,
    pub port: u16,
    /// The server's public host keys, as a manifest pins them: ed25519 and ECDSA.
    pub host_key: String,
    pub host_key_ecdsa: String,
    /// A private key (OpenSSH format) the server accepts for `USER`.
    pub client_key: String,
    root: tempfile::TempDir,
    _keys: tempfile::TempDir,
}

impl SftpServer {
    /// Starts the server; fails with what to install if asyncssh is missing.
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let keys = tempfile::tempdir().expect("tempdir");
        let port = super::free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/sftp_server.py");
        let child = Command::new("python3")
            .arg(script)
            .args(["--user", USER, "--password", PASSWORD, "--port"])
            .arg(port.to_string())
            .arg("--root")
            .arg(root.path())
            .arg("--keys-out")
            .arg(keys.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !keys.path().join("ready").exists() {
            assert!(
                Instant::now() < deadline,
                "the SFTP server did not start on port {port}; install asyncssh with `pip install asyncssh` (`just setup` does)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let read = |name: &str| std::fs::read_to_string(keys.path().join(name)).expect("key written");
        let host_key = read("host_key.pub").trim().to_string();
        let host_key_ecdsa = read("host_key_ecdsa.pub").trim().to_string();
        let client_key = read("client_key");
        Self { child, port, host_key, host_key_ecdsa, client_key, root, _keys: keys }
    }

    /// A manifest's `[network]` and `[ftp.connections.{name}]` for this
    /// server, pinning `host_key` and logging in with `login` (a
    /// `password_secret` or `private_key_secret` line).
    pub fn connection(&self, name: &str, host_key: &str, login: &str) -> String {
        format!(
            "[network]\nprivate_hosts = [\"127.0.0.1\"]\n[ftp.connections.{name}]\nprotocol = \"sftp\"\n\
             host = \"127.0.0.1\"\nport = {}\nusername = \"{USER}\"\nhost_key = \"{host_key}\"\n{login}\n",
            self.port
        )
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative.trim_start_matches('/'))
    }

    /// Writes `contents` to `relative` with modification time `mtime` (Unix seconds).
    pub fn put(&self, relative: &str, contents: &str, mtime: u64) {
        super::ftp::put_under(self.root.path(), relative, contents, mtime);
    }

    pub fn exists(&self, relative: &str) -> bool {
        self.path(relative).exists()
    }
}

impl Drop for SftpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
