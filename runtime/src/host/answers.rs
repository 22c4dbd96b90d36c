//! The seams through which a plugin's outgoing calls are answered without
//! the network, and through which a live invocation's calls are kept.
//!
//! [`HostAnswers`] answers HTTP requests and FTP operations that passed the
//! egress policy — from a fixture in `portitor plugin test`, from a
//! recording in a replay or a shadow run. A [`Tape`](crate::replay::Tape)
//! keeps what a live invocation asked and got, for its recording.

use std::sync::Arc;
use std::time::Instant;

use crate::engine::plugin::PluginShared;
use crate::replay::Tape;
use crate::replay::fixture::{FtpExchange, HostFailure};

/// Answers a plugin's outgoing calls in place of the network. A call
/// reaches it only after the egress policy has let it through, and without
/// the connection's credentials (which offline runs do not have).
pub trait HostAnswers: Send + Sync {
    /// The answer to `request`, or `None` when there is none for it.
    fn http(&self, request: &OutgoingRequest) -> Option<Result<RecordedResponse, HostFailure>>;

    /// The recorded operation `call` matches (its outcome in it), or `None`.
    fn ftp(&self, call: &FtpCall) -> Option<FtpExchange> {
        let _ = call;
        None
    }
}

/// A request as [`HostAnswers`] sees it: the method upper-cased, the URL
/// resolved against the connection's base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The answer [`HostAnswers`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An FTP or SFTP operation as [`HostAnswers`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpCall {
    /// `list`, `retrieve`, `store`, `rename`, `delete` or `make-dir`.
    pub op: &'static str,
    pub connection: String,
    pub path: String,
    pub to: Option<String>,
}

/// What an invocation's outgoing calls need: its plugin version, its
/// deadline, what answers in place of the network (offline runs), and
/// where its calls are kept (recorded runs).
#[derive(Clone)]
pub(crate) struct Outbound {
    pub(crate) plugin: Arc<PluginShared>,
    pub(crate) deadline: Instant,
    pub(crate) answers: Option<Arc<dyn HostAnswers>>,
    pub(crate) tape: Option<Arc<Tape>>,
}
