//! `ftp`: list, retrieve, store, rename, delete and make directories on the
//! FTP and SFTP connections a manifest names (SFTP in [`super::sftp`]). The
//! host holds each connection's address and credentials and keeps one
//! logged-in session per connection for the length of an invocation.
//!
//! The server's address is checked against the egress policy after DNS
//! resolution, and passive-mode data connections go to that same checked
//! address (the NAT workaround), so a server cannot point Portitor at
//! another host through a `PASV` reply.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use suppaftp::tokio::AsyncFtpStream;
use suppaftp::types::FileType;
use suppaftp::{FtpError as ClientError, Status};
use tokio::io::AsyncReadExt;
use wasmtime::component::{HasSelf, Linker};

use super::HostState;
use super::sftp::{Credentials, SftpConnection};
use crate::engine::bindings::ftp::{self, Entry, FtpError};
use crate::engine::plugin::PluginShared;
use crate::host::FtpCall;
use crate::plugins::manifest::FileProtocol;
use crate::replay::fixture::{FtpEntry, FtpExchange, HostFailure, body_bytes, body_fields};
use serde_json::Value;

/// The most one FTP command may take, within the invocation's time.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Logged-in sessions of one invocation, by connection name.
#[derive(Default)]
pub(crate) struct FtpSessions {
    open: HashMap<String, Session>,
}

/// A logged-in session on a connection of either protocol.
enum Session {
    Ftp(AsyncFtpStream),
    Sftp(SftpConnection),
}

impl HostState {
    /// The invocation's session on connection `name`, opened on first use.
    async fn ftp_session(&mut self, name: &str) -> Result<&mut Session, FtpError> {
        if !self.ftp.open.contains_key(name) {
            let session = open_session(self.plugin.clone(), name, self.invocation.deadline).await?;
            self.ftp.open.insert(name.to_string(), session);
        }
        self.ftp.open.get_mut(name).ok_or_else(|| FtpError::Transport("session vanished".into()))
    }

    /// Runs one operation on a session; a broken session is dropped so that
    /// the next call reconnects.
    async fn ftp_call<T>(
        &mut self,
        connection: &str,
        op: impl AsyncFnOnce(&mut Session, usize) -> Result<T, FtpError>,
    ) -> Result<T, FtpError> {
        let remaining = self.remaining().min(COMMAND_TIMEOUT);
        let cap = self.plugin.limits.max_ftp_file_bytes;
        let session = self.ftp_session(connection).await?;
        let result = match tokio::time::timeout(remaining, op(session, cap)).await {
            Ok(result) => result,
            Err(_) => Err(FtpError::Timeout),
        };
        if matches!(result, Err(FtpError::Timeout | FtpError::Transport(_))) {
            self.ftp.open.remove(connection);
        }
        result
    }
}

/// Resolves the connection's host, checks every address against the egress
/// policy, then connects and logs in with the connection's protocol.
async fn open_session(plugin: Arc<PluginShared>, name: &str, deadline: Instant) -> Result<Session, FtpError> {
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let connection =
        plugin.manifest.ftp.connections.get(name).ok_or_else(|| FtpError::UnknownConnection(name.to_string()))?;
    let secret = |name: &Option<String>| -> Result<Option<String>, FtpError> {
        name.as_ref()
            .map(|secret| {
                plugin.secret(secret).map(|value| value.expose().to_string()).ok_or_else(|| {
                    FtpError::Denied(format!("the connection's secret `{secret}` is not set for this tenant"))
                })
            })
            .transpose()
    };
    let password = secret(&connection.password_secret)?;
    let limit = remaining().min(COMMAND_TIMEOUT);
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(limit, tokio::net::lookup_host((connection.host.as_str(), connection.port())))
            .await
            .map_err(|_| FtpError::Timeout)?
            .map_err(|e| FtpError::Transport(format!("cannot resolve {}: {e}", connection.host)))?
            .collect();
    let addr = *addrs.first().ok_or_else(|| FtpError::Transport(format!("{} has no address", connection.host)))?;
    for candidate in &addrs {
        plugin.egress.check_address(&connection.host, candidate.ip()).map_err(FtpError::Denied)?;
    }
    if connection.protocol == FileProtocol::Sftp {
        let credentials = Credentials { password, private_key: secret(&connection.private_key_secret)? };
        return SftpConnection::open(name, connection, addr, credentials, limit).await.map(Session::Sftp);
    }
    let password = password.unwrap_or_default();
    let mut stream = AsyncFtpStream::connect_timeout(addr, limit).await.map_err(|e| client_error(e, "connect"))?;
    stream.set_passive_nat_workaround(true);
    timed(remaining(), stream.login(connection.username.as_str(), password.as_str())).await?.map_err(|e| match e {
        ClientError::UnexpectedResponse(r) if r.status == Status::NotLoggedIn => {
            FtpError::Denied(format!("the FTP server refused the login for connection `{name}`"))
        }
        other => client_error(other, "login"),
    })?;
    timed(remaining(), stream.transfer_type(FileType::Binary)).await?.map_err(|e| client_error(e, "TYPE I"))?;
    Ok(Session::Ftp(stream))
}

/// `future`, or a time-out error once `limit` has passed.
pub(super) async fn timed<F: Future>(limit: Duration, future: F) -> Result<F::Output, FtpError> {
    tokio::time::timeout(limit, future).await.map_err(|_| FtpError::Timeout)
}

/// What a client error means to the guest; `op` names the command.
fn client_error(error: ClientError, op: &str) -> FtpError {
    match error {
        ClientError::ConnectionError(e) => FtpError::Transport(format!("{op}: {e}")),
        ClientError::UnexpectedResponse(r) if r.status == Status::FileUnavailable => {
            FtpError::NotFound(format!("{op}: {}", String::from_utf8_lossy(&r.body).trim()))
        }
        ClientError::UnexpectedResponse(r) => {
            FtpError::Refused(format!("{op}: {} {}", r.status.code(), String::from_utf8_lossy(&r.body).trim()))
        }
        other => FtpError::Transport(format!("{op}: {other}")),
    }
}

/// One MLSD line as an entry; the directory itself and its parent are
/// skipped, whether the server marks them (`type=cdir`, `type=pdir`) or
/// only names them (`.`, `..`): a plugin that walks its listing must never
/// be handed a way back up.
pub(crate) fn entry_from_mlsd(line: &str) -> Option<Entry> {
    let lower = line.to_ascii_lowercase();
    if lower.contains("type=cdir;") || lower.contains("type=pdir;") {
        return None;
    }
    let file = suppaftp::list::ListParser::parse_mlsd(line).ok()?;
    if matches!(file.name(), "." | "..") {
        return None;
    }
    let modified = file.modified().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs()).filter(|s| *s > 0);
    Some(Entry { name: file.name().to_string(), size: file.size() as u64, modified, is_dir: file.is_directory() })
}

impl ftp::Host for HostState {
    async fn list(&mut self, connection: String, dir: String) -> wasmtime::Result<Result<Vec<Entry>, FtpError>> {
        let call = FtpCall { op: "list", connection: connection.clone(), path: dir.clone(), to: None };
        Ok(self
            .ftp_recorded(call, entries_from, entries_into, async |state| state.live_list(connection, dir).await)
            .await)
    }

    async fn retrieve(&mut self, connection: String, path: String) -> wasmtime::Result<Result<Vec<u8>, FtpError>> {
        let call = FtpCall { op: "retrieve", connection: connection.clone(), path: path.clone(), to: None };
        Ok(self
            .ftp_recorded(call, data_from, data_into, async |state| state.live_retrieve(connection, path).await)
            .await)
    }

    async fn store(
        &mut self,
        connection: String,
        path: String,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), FtpError>> {
        let call = FtpCall { op: "store", connection: connection.clone(), path: path.clone(), to: None };
        Ok(self
            .ftp_recorded(call, done_from, done_into, async |state| state.live_store(connection, path, data).await)
            .await)
    }

    async fn rename(&mut self, connection: String, from: String, to: String) -> wasmtime::Result<Result<(), FtpError>> {
        let call = FtpCall { op: "rename", connection: connection.clone(), path: from.clone(), to: Some(to.clone()) };
        Ok(self
            .ftp_recorded(call, done_from, done_into, async |state| state.live_rename(connection, from, to).await)
            .await)
    }

    async fn delete(&mut self, connection: String, path: String) -> wasmtime::Result<Result<(), FtpError>> {
        let call = FtpCall { op: "delete", connection: connection.clone(), path: path.clone(), to: None };
        Ok(self.ftp_recorded(call, done_from, done_into, async |state| state.live_delete(connection, path).await).await)
    }

    async fn make_dir(&mut self, connection: String, path: String) -> wasmtime::Result<Result<(), FtpError>> {
        let call = FtpCall { op: "make-dir", connection: connection.clone(), path: path.clone(), to: None };
        Ok(self
            .ftp_recorded(call, done_from, done_into, async |state| state.live_make_dir(connection, path).await)
            .await)
    }
}

impl HostState {
    /// One operation: answered from the invocation's answers when it runs
    /// offline, else done on the server; kept on its tape when recorded.
    async fn ftp_recorded<T>(
        &mut self,
        call: FtpCall,
        from_recording: fn(&FtpExchange) -> T,
        into_recording: fn(&T, &mut FtpExchange),
        live: impl AsyncFnOnce(&mut Self) -> wasmtime::Result<Result<T, FtpError>>,
    ) -> Result<T, FtpError> {
        if let Some(answers) = self.invocation.answers.clone() {
            let exchange = answers.ftp(&call).ok_or_else(|| {
                FtpError::Transport(format!(
                    "no recorded answer for {} {} on `{}`",
                    call.op, call.path, call.connection
                ))
            })?;
            return match exchange.error {
                Some(failure) => Err(ftp_error(failure)),
                None => Ok(from_recording(&exchange)),
            };
        }
        let outcome = live(self).await.unwrap_or_else(|e| Err(FtpError::Transport(e.to_string())));
        if let Some(tape) = self.invocation.tape.clone() {
            let mut exchange = FtpExchange {
                op: call.op.to_string(),
                connection: call.connection,
                path: call.path,
                to: call.to,
                entries: None,
                data: None,
                data_base64: None,
                error: None,
            };
            match &outcome {
                Ok(value) => into_recording(value, &mut exchange),
                Err(error) => exchange.error = Some(host_failure(error)),
            }
            tape.ftp(&self.plugin, exchange);
        }
        outcome
    }

    async fn live_list(&mut self, connection: String, dir: String) -> wasmtime::Result<Result<Vec<Entry>, FtpError>> {
        if let Err(e) = plain_paths(&[&dir]) {
            return Ok(Err(e));
        }
        Ok(self
            .ftp_call(&connection, async move |session, _| match session {
                Session::Ftp(ftp) => {
                    let lines = ftp.mlsd(Some(&dir)).await.map_err(|e| client_error(e, "MLSD"))?;
                    Ok(lines.iter().filter_map(|line| entry_from_mlsd(line)).collect())
                }
                Session::Sftp(sftp) => sftp.list(&dir).await,
            })
            .await)
    }

    async fn live_retrieve(&mut self, connection: String, path: String) -> wasmtime::Result<Result<Vec<u8>, FtpError>> {
        if let Err(e) = plain_paths(&[&path]) {
            return Ok(Err(e));
        }
        Ok(self
            .ftp_call(&connection, async move |session, cap| match session {
                Session::Ftp(ftp) => ftp_retrieve(ftp, &path, cap).await,
                Session::Sftp(sftp) => sftp.retrieve(&path, cap).await,
            })
            .await
            .inspect_err(|e| {
                if matches!(e, FtpError::TooLarge(_)) {
                    // The transfer stopped mid-file; so does the session.
                    self.ftp.open.remove(&connection);
                }
            }))
    }

    async fn live_store(
        &mut self,
        connection: String,
        path: String,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), FtpError>> {
        if let Err(e) = plain_paths(&[&path]) {
            return Ok(Err(e));
        }
        Ok(self
            .ftp_call(&connection, async move |session, cap| {
                if data.len() > cap {
                    return Err(FtpError::TooLarge(format!("{} bytes is over the cap of {cap}", data.len())));
                }
                match session {
                    Session::Ftp(ftp) => {
                        ftp.put_file(&path, &mut data.as_slice()).await.map_err(|e| client_error(e, "STOR"))?;
                        Ok(())
                    }
                    Session::Sftp(sftp) => sftp.store(&path, &data).await,
                }
            })
            .await)
    }

    async fn live_rename(
        &mut self,
        connection: String,
        from: String,
        to: String,
    ) -> wasmtime::Result<Result<(), FtpError>> {
        if let Err(e) = plain_paths(&[&from, &to]) {
            return Ok(Err(e));
        }
        Ok(self
            .ftp_call(&connection, async move |session, _| match session {
                Session::Ftp(ftp) => ftp.rename(&from, &to).await.map_err(|e| client_error(e, "RNFR/RNTO")),
                Session::Sftp(sftp) => sftp.rename(&from, &to).await,
            })
            .await)
    }

    async fn live_delete(&mut self, connection: String, path: String) -> wasmtime::Result<Result<(), FtpError>> {
        if let Err(e) = plain_paths(&[&path]) {
            return Ok(Err(e));
        }
        Ok(self
            .ftp_call(&connection, async move |session, _| match session {
                Session::Ftp(ftp) => ftp.rm(&path).await.map_err(|e| client_error(e, "DELE")),
                Session::Sftp(sftp) => sftp.delete(&path).await,
            })
            .await)
    }

    async fn live_make_dir(&mut self, connection: String, path: String) -> wasmtime::Result<Result<(), FtpError>> {
        if let Err(e) = plain_paths(&[&path]) {
            return Ok(Err(e));
        }
        Ok(self
            .ftp_call(&connection, async move |session, _| match session {
                Session::Ftp(ftp) => match ftp.mkdir(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        // An existing directory is fine: it is what the caller wants.
                        let exists = ftp.cwd(&path).await.is_ok();
                        if exists {
                            ftp.cwd("/").await.map_err(|e| client_error(e, "CWD"))?;
                            Ok(())
                        } else {
                            Err(client_error(e, "MKD"))
                        }
                    }
                },
                Session::Sftp(sftp) => sftp.make_dir(&path).await,
            })
            .await)
    }
}

fn entries_from(exchange: &FtpExchange) -> Vec<Entry> {
    let entries = exchange.entries.iter().flatten();
    entries.map(|e| Entry { name: e.name.clone(), size: e.size, modified: e.modified, is_dir: e.is_dir }).collect()
}

#[allow(clippy::ptr_arg, reason = "the shape `ftp_recorded` takes for every operation: fn(&T, …)")]
fn entries_into(entries: &Vec<Entry>, exchange: &mut FtpExchange) {
    let kept = entries
        .iter()
        .map(|e| FtpEntry { name: e.name.clone(), size: e.size, modified: e.modified, is_dir: e.is_dir })
        .collect();
    exchange.entries = Some(kept);
}

fn data_from(exchange: &FtpExchange) -> Vec<u8> {
    let text = exchange.data.as_ref().map(|data| Value::String(data.clone())).unwrap_or(Value::Null);
    body_bytes(&text, exchange.data_base64.as_deref())
}

#[allow(clippy::ptr_arg, reason = "the shape `ftp_recorded` takes for every operation: fn(&T, …)")]
fn data_into(data: &Vec<u8>, exchange: &mut FtpExchange) {
    let (text, base64) = body_fields(data);
    exchange.data = text.as_str().map(str::to_string).or_else(|| base64.is_none().then(String::new));
    exchange.data_base64 = base64;
}

fn done_from(_: &FtpExchange) {}

fn done_into(_: &(), _: &mut FtpExchange) {}

/// An FTP error as a recording keeps it.
fn host_failure(error: &FtpError) -> HostFailure {
    let (kind, message) = match error {
        FtpError::Denied(m) => ("denied", m.clone()),
        FtpError::UnknownConnection(m) => ("unknown-connection", m.clone()),
        FtpError::NotFound(m) => ("not-found", m.clone()),
        FtpError::TooLarge(m) => ("too-large", m.clone()),
        FtpError::Timeout => ("timeout", String::new()),
        FtpError::Transport(m) => ("transport", m.clone()),
        FtpError::Refused(m) => ("refused", m.clone()),
    };
    HostFailure { kind: kind.to_string(), message }
}

/// A recorded failure as the error the plugin got.
fn ftp_error(failure: HostFailure) -> FtpError {
    match failure.kind.as_str() {
        "denied" => FtpError::Denied(failure.message),
        "unknown-connection" => FtpError::UnknownConnection(failure.message),
        "not-found" => FtpError::NotFound(failure.message),
        "too-large" => FtpError::TooLarge(failure.message),
        "timeout" => FtpError::Timeout,
        "refused" => FtpError::Refused(failure.message),
        _ => FtpError::Transport(failure.message),
    }
}

/// Refuses a path with a control character: on FTP's control connection a
/// CR/LF would end the command and start another the plugin made up.
fn plain_paths(paths: &[&str]) -> Result<(), FtpError> {
    match paths.iter().find(|path| path.chars().any(char::is_control)) {
        Some(path) => Err(FtpError::Denied(format!("the path {path:?} has a control character"))),
        None => Ok(()),
    }
}

/// RETR with a cap: a file over it is refused without reading past it.
async fn ftp_retrieve(ftp: &mut AsyncFtpStream, path: &str, cap: usize) -> Result<Vec<u8>, FtpError> {
    let mut download = ftp.retr_as_stream(path).await.map_err(|e| client_error(e, "RETR"))?;
    let mut data = Vec::new();
    (&mut download)
        .take(cap as u64 + 1)
        .read_to_end(&mut data)
        .await
        .map_err(|e| FtpError::Transport(format!("RETR {path}: {e}")))?;
    if data.len() > cap {
        return Err(FtpError::TooLarge(format!("{path} is over the cap of {cap} bytes")));
    }
    download.finish().await.map_err(|e| client_error(e, "RETR"))?;
    Ok(data)
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    ftp::add_to_linker::<_, HasSelf<HostState>>(linker, |state| state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_cannot_smuggle_a_command() {
        assert!(plain_paths(&["/in/ORD_1.csv", "/in/archive/ORD 1.csv"]).is_ok());
        for bad in ["/in/x\r\nDELE /in/other.csv", "/in/x\n", "/in/\0"] {
            assert!(matches!(plain_paths(&["/ok", bad]), Err(FtpError::Denied(_))), "{bad:?}");
        }
    }

    #[test]
    fn mlsd_lines_become_entries() {
        let entry = entry_from_mlsd("type=file;size=1234;modify=20260314101500; ORD_NVNO_1.csv").expect("file");
        assert_eq!(entry.name, "ORD_NVNO_1.csv");
        assert_eq!(entry.size, 1234);
        assert_eq!(entry.modified, Some(1_773_483_300));
        assert!(!entry.is_dir);
        assert!(entry_from_mlsd("type=cdir;modify=20260314101500; .").is_none());
        let dir = entry_from_mlsd("type=dir;modify=20260314101500; archive").expect("dir");
        assert!(dir.is_dir);
    }

    /// Found by the `ftp_listing` fuzz target: a line whose `type` fact is
    /// garbled still names `.`, which was handed to the plugin as a file.
    #[test]
    fn a_listing_never_names_the_directory_or_its_parent() {
        for line in ["pe=cdir; .", "type=file;size=1; .", "type=dir; ..", "modify=20260314101500; .."] {
            assert!(entry_from_mlsd(line).is_none(), "{line:?}");
        }
    }
}
