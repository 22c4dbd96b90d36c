//! The host side of the plugin contract: the state every invocation's
//! `Store` carries, and one module per WIT interface (`http`, `ftp`,
//! `cursor`, `log`, `config`, `crypto`), each with its `Host` impl and an
//! `add_to_linker`; `wasi_http` puts the standard `wasi:http` under the
//! same egress policy as `http`.
//!
//! Host functions return `wasmtime::Result<Result<T, E>>`: the inner error
//! is the guest's to handle (a refused host, a missing file); the outer one
//! is a trap, kept for host bugs and for limits that end the invocation.

pub mod answers;
pub(crate) mod config;
pub(crate) mod crypto;
pub(crate) mod cursor;
pub mod egress;
pub(crate) mod ftp;
pub(crate) mod http;
pub(crate) mod log;
pub(crate) mod sftp;
pub(crate) mod wasi_http;

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::engine::limits::MemoryLimiter;
use crate::engine::plugin::PluginShared;

pub use answers::{FtpCall, HostAnswers, OutgoingRequest, RecordedResponse};
pub use cursor::{Checkpointer, CursorAccess};
pub use log::{LogLevel, LogLine, LogSink};

/// Everything an invocation's `Store` holds. Created fresh for each call:
/// nothing a plugin does survives into the next call.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// `wasi:http`, for components whose toolchain imports it: every
    /// request goes through the plugin's egress policy (`wasi_http.rs`).
    http: WasiHttpCtx,
    http_hooks: wasi_http::EgressHooks,
    /// The plugin version's policies, connections and limits.
    pub(crate) plugin: Arc<PluginShared>,
    pub(crate) invocation: InvocationState,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) ftp: ftp::FtpSessions,
    /// The guest's stdout and stderr (a panic message lands here), capped.
    pub(crate) stdio: MemoryOutputPipe,
}

/// What is particular to one call.
pub(crate) struct InvocationState {
    pub(crate) id: String,
    pub(crate) deadline: Instant,
    pub(crate) cursor: Option<CursorAccess>,
    pub(crate) log: log::LogBudget,
    pub(crate) log_sink: Option<Arc<dyn LogSink>>,
    /// Offline runs: what answers outgoing calls instead of the network.
    pub(crate) answers: Option<Arc<dyn HostAnswers>>,
    /// Recorded runs: where the host calls and their answers are kept.
    pub(crate) tape: Option<Arc<crate::replay::Tape>>,
}

/// The most of a guest's stdout and stderr the host keeps per invocation.
const STDIO_CAPACITY: usize = 16 * 1024;

impl HostState {
    pub(crate) fn new(plugin: Arc<PluginShared>, invocation: InvocationState) -> Self {
        let stdio = MemoryOutputPipe::new(STDIO_CAPACITY);
        // No arguments, environment, preopened directories or sockets: the
        // guest reaches the world only through Portitor's interfaces.
        let wasi = wasmtime_wasi::WasiCtxBuilder::new().stdout(stdio.clone()).stderr(stdio.clone()).build();
        let limiter = MemoryLimiter::new(plugin.limits.memory_bytes);
        let outbound = answers::Outbound {
            plugin: plugin.clone(),
            deadline: invocation.deadline,
            answers: invocation.answers.clone(),
            tape: invocation.tape.clone(),
        };
        let http_hooks = wasi_http::EgressHooks::new(outbound, invocation.log_sink.clone(), invocation.id.clone());
        Self {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            http_hooks,
            plugin,
            invocation,
            limiter,
            ftp: ftp::FtpSessions::default(),
            stdio,
        }
    }

    /// Time left before the invocation's deadline.
    pub(crate) fn remaining(&self) -> std::time::Duration {
        self.invocation.deadline.saturating_duration_since(Instant::now())
    }

    /// What the invocation's outgoing calls need.
    pub(crate) fn outbound(&self) -> answers::Outbound {
        answers::Outbound {
            plugin: self.plugin.clone(),
            deadline: self.invocation.deadline,
            answers: self.invocation.answers.clone(),
            tape: self.invocation.tape.clone(),
        }
    }

    /// What the guest wrote to stdout and stderr, as text.
    pub(crate) fn stdio_text(&self) -> String {
        String::from_utf8_lossy(&self.stdio.contents()).trim().to_string()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.http_hooks }
    }
}

/// A linker with WASI (nothing granted; `wasi:http` under the egress
/// policy) and every Portitor interface.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    http::add_to_linker(&mut linker)?;
    ftp::add_to_linker(&mut linker)?;
    cursor::add_to_linker(&mut linker)?;
    log::add_to_linker(&mut linker)?;
    config::add_to_linker(&mut linker)?;
    crypto::add_to_linker(&mut linker)?;
    Ok(linker)
}
