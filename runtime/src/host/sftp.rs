//! SFTP behind the `ftp` interface: the same operations on a connection
//! whose manifest says `protocol = "sftp"`, so a plugin does not care which
//! one a partner offers.
//!
//! The server must present the host key the manifest pins (as in
//! `known_hosts`); any other key ends the connection before a credential is
//! sent. The login is by private key, by password, or the key first and
//! then the password, from the tenant's secrets. The address was checked
//! against the egress policy by the caller.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use russh::Preferred;
use russh::client::{self, AuthResult, Handle};
use russh::keys::{Algorithm, HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ftp::timed;
use crate::engine::bindings::ftp::{Entry, FtpError};
use crate::plugins::manifest::FtpConnection;

/// The most one SFTP request may wait for its answer (the caller also
/// bounds each operation by what is left of the invocation).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// One logged-in SFTP session of an invocation.
pub(crate) struct SftpConnection {
    sftp: SftpSession,
    /// Keeps the SSH connection open for as long as the session is used.
    _ssh: Handle<PinnedHostKey>,
}

/// The credentials of a connection, from the tenant's secrets.
pub(crate) struct Credentials {
    pub password: Option<String>,
    pub private_key: Option<String>,
}

/// Accepts only the host key the manifest pins.
pub(crate) struct PinnedHostKey {
    expected: PublicKey,
}

impl client::Handler for PinnedHostKey {
    type Error = russh::Error;

    async fn check_server_key(&mut self, presented: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(match presented {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data() == self.expected.key_data(),
            PublicKeyOrCertificate::Certificate(_) => false,
        })
    }
}

impl SftpConnection {
    /// Connects to `addr`, checks the host key, logs in and starts the SFTP subsystem.
    pub(crate) async fn open(
        name: &str,
        connection: &FtpConnection,
        addr: SocketAddr,
        credentials: Credentials,
        limit: Duration,
    ) -> Result<Self, FtpError> {
        let host_key = connection.host_key.as_deref().unwrap_or_default();
        let expected = PublicKey::from_openssh(host_key)
            .map_err(|e| FtpError::Denied(format!("connection `{name}`: the pinned host key is not valid: {e}")))?;
        // Ask only for the pinned key's algorithm: a server with several host
        // keys then presents that one. No inactivity time-out: a plugin may
        // hold the session between calls for as long as its invocation runs;
        // each operation has its own.
        let algorithms = match expected.algorithm() {
            Algorithm::Rsa { .. } => vec![
                Algorithm::Rsa { hash: Some(HashAlg::Sha512) },
                Algorithm::Rsa { hash: Some(HashAlg::Sha256) },
                Algorithm::Rsa { hash: None },
            ],
            other => vec![other],
        };
        let preferred = Preferred { key: Cow::Owned(algorithms), ..Preferred::DEFAULT };
        let config = Arc::new(client::Config { preferred, ..client::Config::default() });
        let stream = timed(limit, tokio::net::TcpStream::connect(addr))
            .await?
            .map_err(|e| FtpError::Transport(format!("connect to {addr}: {e}")))?;
        let ssh_error = |op: &'static str| {
            move |e: russh::Error| match e {
                russh::Error::UnknownKey => FtpError::Denied(format!(
                    "connection `{name}`: the SFTP server's host key is not the one the manifest pins"
                )),
                other => FtpError::Transport(format!("{op}: {other}")),
            }
        };
        let mut ssh = timed(limit, client::connect_stream(config, stream, PinnedHostKey { expected }))
            .await?
            .map_err(ssh_error("SSH handshake"))?;
        let user = connection.username.as_str();
        let mut logged_in = false;
        if let Some(pem) = &credentials.private_key {
            let key = russh::keys::decode_secret_key(pem, None).map_err(|e| {
                FtpError::Denied(format!("connection `{name}`: the private key secret is not an OpenSSH key: {e}"))
            })?;
            let hash = if key.algorithm().is_rsa() {
                timed(limit, ssh.best_supported_rsa_hash()).await?.ok().flatten().flatten()
            } else {
                None
            };
            let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
            logged_in = timed(limit, ssh.authenticate_publickey(user, key)).await?.map_err(ssh_error("login"))?
                == AuthResult::Success;
        }
        if !logged_in && let Some(password) = &credentials.password {
            logged_in =
                timed(limit, ssh.authenticate_password(user, password.as_str())).await?.map_err(ssh_error("login"))?
                    == AuthResult::Success;
        }
        if !logged_in {
            return Err(FtpError::Denied(format!("the SFTP server refused the login for connection `{name}`")));
        }
        let channel = timed(limit, ssh.channel_open_session()).await?.map_err(ssh_error("open a channel"))?;
        timed(limit, channel.request_subsystem(true, "sftp")).await?.map_err(ssh_error("start SFTP"))?;
        let sftp =
            timed(limit, SftpSession::new(channel.into_stream())).await?.map_err(|e| sftp_error(e, "start SFTP"))?;
        sftp.set_timeout(OPERATION_TIMEOUT.as_secs());
        Ok(Self { sftp, _ssh: ssh })
    }

    pub(crate) async fn list(&self, dir: &str) -> Result<Vec<Entry>, FtpError> {
        let entries = self.sftp.read_dir(dir).await.map_err(|e| sftp_error(e, "list"))?;
        Ok(entries
            .filter(|entry| !matches!(entry.file_name().as_str(), "." | ".."))
            .map(|entry| {
                let metadata = entry.metadata();
                Entry {
                    name: entry.file_name(),
                    size: metadata.len(),
                    modified: metadata
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_secs())
                        .filter(|s| *s > 0),
                    is_dir: metadata.is_dir(),
                }
            })
            .collect())
    }

    /// Reads a file, refusing one over `cap` bytes without reading past it.
    pub(crate) async fn retrieve(&self, path: &str, cap: usize) -> Result<Vec<u8>, FtpError> {
        let file = self.sftp.open(path).await.map_err(|e| sftp_error(e, "open"))?;
        let mut data = Vec::new();
        file.take(cap as u64 + 1)
            .read_to_end(&mut data)
            .await
            .map_err(|e| FtpError::Transport(format!("read {path}: {e}")))?;
        if data.len() > cap {
            return Err(FtpError::TooLarge(format!("{path} is over the cap of {cap} bytes")));
        }
        Ok(data)
    }

    pub(crate) async fn store(&self, path: &str, data: &[u8]) -> Result<(), FtpError> {
        let mut file = self.sftp.create(path).await.map_err(|e| sftp_error(e, "create"))?;
        file.write_all(data).await.map_err(|e| FtpError::Transport(format!("write {path}: {e}")))?;
        file.shutdown().await.map_err(|e| FtpError::Transport(format!("close {path}: {e}")))
    }

    pub(crate) async fn rename(&self, from: &str, to: &str) -> Result<(), FtpError> {
        self.sftp.rename(from, to).await.map_err(|e| sftp_error(e, "rename"))
    }

    pub(crate) async fn delete(&self, path: &str) -> Result<(), FtpError> {
        self.sftp.remove_file(path).await.map_err(|e| sftp_error(e, "delete"))
    }

    /// Makes a directory; one that exists already is what the caller wants.
    pub(crate) async fn make_dir(&self, path: &str) -> Result<(), FtpError> {
        match self.sftp.create_dir(path).await {
            Ok(()) => Ok(()),
            Err(error) => match self.sftp.metadata(path).await {
                Ok(metadata) if metadata.is_dir() => Ok(()),
                _ => Err(sftp_error(error, "make directory")),
            },
        }
    }
}

/// What an SFTP error means to the guest; `op` names the operation.
fn sftp_error(error: SftpError, op: &str) -> FtpError {
    match error {
        SftpError::Status(status) if status.status_code == StatusCode::NoSuchFile => {
            FtpError::NotFound(format!("{op}: {}", status.error_message))
        }
        SftpError::Status(status) => {
            FtpError::Refused(format!("{op}: {}: {}", status.status_code, status.error_message))
        }
        SftpError::Timeout => FtpError::Timeout,
        other => FtpError::Transport(format!("{op}: {other}")),
    }
}
