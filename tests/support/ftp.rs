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
        Self::start_with(tempfile::tempdir().expect("tempdir"), super::free_port(), None)
    }

    /// Starts the server on `root` and `port`; with `drop_on_retr`, it drops
    /// the connection at that RETR.
    pub fn start_with(root: tempfile::TempDir, port: u16, drop_on_retr: Option<u32>) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/ftp_server.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .args(["--user", USER, "--password", PASSWORD, "--port"])
            .arg(port.to_string())
            .arg("--root")
            .arg(root.path());
        if let Some(n) = drop_on_retr {
            command.args(["--drop-on-retr", &n.to_string()]);
        }
        let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("python3 runs");
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
        put_under(self.root.path(), relative, contents, mtime);
    }

    pub fn exists(&self, relative: &str) -> bool {
        self.path(relative).exists()
    }
}

/// Writes `contents` to `relative` under `root` with modification time `mtime`.
pub fn put_under(root: &Path, relative: &str, contents: &str, mtime: u64) {
    let path = root.join(relative.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, contents).expect("write");
    set_mtime(&path, mtime);
}

pub fn set_mtime(path: &Path, mtime: u64) {
    let file = std::fs::File::options().write(true).open(path).expect("open");
    file.set_modified(UNIX_EPOCH + Duration::from_secs(mtime)).expect("set mtime");
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

impl FtpServer {
    /// Stops the server and hands back its directory (to restart on it).
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let placeholder = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.root, placeholder)
    }
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Bring drop-folder file (`bring-ftp`'s CSV) of orders `{prefix}-{first}`
/// on, `count` of them.
pub fn orders_file(prefix: &str, first: usize, count: usize) -> String {
    let mut csv = String::from(
        "order_number;order_date;shop_code;currency;line_no;sku;quantity;unit_price;vat_rate;recipient_name;recipient_company;address1;address2;postal_code;city;country_code;phone;email;carrier_service;pickup_point_id;delivery_instruction\n",
    );
    for n in first..first + count {
        csv.push_str(&format!(
            "{prefix}-{n};2026-03-14T11:02:45+01:00;NVNO;NOK;1;NV-JKT-SHL-M;1;1899.00;0.25;Kari Nordmann;;Karl Johans gate 22;;0159;Oslo;NO;+4791234567;kari@example.no;BRING_5800;151243;\n"
        ));
    }
    csv
}
