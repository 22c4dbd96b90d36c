//! A real FTP server for the tests: pyftpdlib on loopback, serving a
//! temporary directory the test writes files into (and whose modification
//! times it sets, to the second).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const USER: &str = "bring";
pub const PASSWORD: &str = "ftp-secret-pw";

pub struct FtpServer {
    child: Child,
    pub port: u16,
    root: tempfile::TempDir,
}

impl FtpServer {
    /// Starts pyftpdlib; fails with what to install if it is missing.
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let port = super::free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "pyftpdlib",
                "-i",
                "127.0.0.1",
                "-w",
                "-u",
                USER,
                "-P",
                PASSWORD,
                "-p",
            ])
            .arg(port.to_string())
            .arg("-d")
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let server = Self { child, port, root };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pyftpdlib did not start on port {port}; install it with `pip install pyftpdlib` (`just setup` does)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative.trim_start_matches('/'))
    }

    /// Writes `contents` to `relative` with modification time `mtime` (Unix seconds).
    pub fn put(&self, relative: &str, contents: &str, mtime: u64) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        set_mtime(&path, mtime);
    }

    pub fn exists(&self, relative: &str) -> bool {
        self.path(relative).exists()
    }
}

pub fn set_mtime(path: &Path, mtime: u64) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    file.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .expect("set mtime");
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
