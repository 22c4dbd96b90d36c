//! The HTTP listener: accepts connections and serves each with hyper within
//! `[http]`'s limits, so that no client — silent, slow or one of many —
//! holds what other clients need (docs/decisions/0010-connections.md).
//!
//! - A connection has `header_read_timeout` to send a request's head: from
//!   when it connects for its first request, from the head's first byte for
//!   later ones. Between requests it may stay idle `keep_alive_idle`. Once a
//!   head is in, the body has `request_timeout` to arrive (a late body is
//!   answered 408); the server's own work on a request has no deadline here.
//! - At most `max_connections` are open. A client arriving at the limit
//!   takes the place of the connection that has waited longest without a
//!   request in flight (a slowloris's half-open connections are such); if
//!   every connection has a request in flight, the newcomer is closed at
//!   once. Either way file descriptors stay bounded and the server keeps
//!   answering whoever sends a request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The limits every connection is served within (`[http]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_idle: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
}

/// A request body that did not arrive within `request_timeout` of its
/// head; the API answers it 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} s of its headers", .0.as_secs())]
pub struct BodyTimedOut(pub Duration);

/// Serves `app` on `listener` until `stop` turns true, then stops accepting
/// and returns once every connection has finished its requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    on_shed: impl Fn(Shed) + Clone + Send + Sync + 'static,
    mut stop: watch::Receiver<bool>,
) {
    let open = Arc::new(Table::new(limits));
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Out of file descriptors (the limit is set too high for the
                // process) or a client gone before it was accepted: wait a
                // little rather than spin.
                tracing::warn!(%error, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(admitted) = open.admit() else {
            on_shed(Shed::Refused);
            drop(stream);
            continue;
        };
        if admitted.evicted {
            on_shed(Shed::Evicted);
        }
        let (open, app, builder, stop, on_shed) =
            (open.clone(), app.clone(), builder.clone(), stop.clone(), on_shed.clone());
        tokio::spawn(async move {
            let timed_out = serve_connection(stream, app, &open, &admitted.conn, &builder, stop).await;
            if timed_out {
                on_shed(Shed::TimedOut);
            }
            open.remove(admitted.id);
        });
    }
    drop(listener);
    open.wait_until_empty().await;
}

/// Why a connection was closed by the server rather than its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// At the limit with every connection busy: the newcomer was closed.
    Refused,
    /// At the limit: the longest-waiting connection made room.
    Evicted,
    /// A head, a body or an idle keep-alive took too long.
    TimedOut,
}

/// Serves one connection; true if it was closed for taking too long.
async fn serve_connection(
    stream: TcpStream,
    app: Router,
    open: &Table,
    conn: &Arc<Tracked>,
    builder: &auto::Builder<TokioExecutor>,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let clock = open.clock;
    let limits = open.limits;
    let io = TokioIo::new(Watched { stream, conn: conn.clone(), clock });
    let service = {
        let conn = conn.clone();
        hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let in_flight = InFlight::begin(conn.clone(), clock);
            let body_deadline = Box::pin(tokio::time::sleep(limits.request_timeout));
            let request = request
                .map(|body| Body::new(TimedBody { body, deadline: body_deadline, limit: limits.request_timeout }));
            let app = app.clone();
            async move {
                let response = match app.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(response.map(|body| Body::new(AnswerBody { body, _in_flight: in_flight })))
            }
        })
    };
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        // With a request in flight there is no deadline yet: look again soon.
        let soon = Instant::now() + limits.header_read_timeout.min(Duration::from_secs(1));
        let wake = conn.deadline(&limits).map_or(soon, |at| clock + at);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return false;
            }
            () = conn.close.notified() => return false,
            _ = stop.wait_for(|stop| *stop), if !draining => {
                connection.as_mut().graceful_shutdown();
                draining = true;
            }
            () = tokio::time::sleep_until(wake) => {
                if conn.deadline(&limits).is_some_and(|at| clock + at <= Instant::now()) {
                    tracing::debug!("closed a connection that took too long to send a request");
                    return true;
                }
            }
        }
    }
}

/// The open connections.
#[derive(Debug)]
struct Table {
    open: Mutex<HashMap<u64, Arc<Tracked>>>,
    next_id: AtomicU64,
    emptied: Notify,
    limits: ConnectionLimits,
    /// Times are kept as offsets from this, in atomics.
    clock: Instant,
}

struct Admitted {
    id: u64,
    conn: Arc<Tracked>,
    /// Whether another connection was closed to make room.
    evicted: bool,
}

impl Table {
    fn new(limits: ConnectionLimits) -> Self {
        Self {
            open: Mutex::default(),
            next_id: AtomicU64::new(0),
            emptied: Notify::new(),
            limits,
            clock: Instant::now(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Tracked>>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A place for a new connection: a free one, or the one of the
    /// connection that has waited longest with nothing in flight.
    fn admit(&self) -> Option<Admitted> {
        let mut open = self.lock();
        let mut evicted = false;
        if open.len() >= self.limits.max_connections.max(1) {
            let longest_waiting = open
                .iter()
                .filter(|(_, conn)| conn.in_flight.load(Ordering::Acquire) == 0)
                .min_by_key(|(_, conn)| conn.waiting_since.load(Ordering::Acquire))
                .map(|(id, _)| *id)?;
            if let Some(conn) = open.remove(&longest_waiting) {
                conn.close.notify_one();
                evicted = true;
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Tracked::new(offset(self.clock)));
        open.insert(id, conn.clone());
        Some(Admitted { id, conn, evicted })
    }

    fn remove(&self, id: u64) {
        let mut open = self.lock();
        open.remove(&id);
        if open.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    async fn wait_until_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if self.lock().is_empty() {
                return;
            }
            emptied.await;
        }
    }
}

const NOT_STARTED: u64 = u64::MAX;

/// What the table knows of one connection; times are offsets (ms) from
/// the table's clock.
#[derive(Debug)]
struct Tracked {
    in_flight: AtomicUsize,
    /// When the connection last had nothing in flight: opened, or its last
    /// answer sent.
    waiting_since: AtomicU64,
    /// When the first byte of the next request's head arrived.
    head_since: AtomicU64,
    /// Whether a request has come on it (later ones wait `keep_alive_idle`).
    served: AtomicBool,
    /// Closes the connection (to make room for a newcomer).
    close: Notify,
}

impl Tracked {
    fn new(now: u64) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(now),
            head_since: AtomicU64::new(NOT_STARTED),
            served: AtomicBool::new(false),
            close: Notify::new(),
        }
    }

    /// When the connection is to be closed if no request is in by then;
    /// `None` while one is in flight.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let head = self.head_since.load(Ordering::Acquire);
        let (since, allowed) = if head != NOT_STARTED {
            (head, limits.header_read_timeout)
        } else if self.served.load(Ordering::Acquire) {
            (self.waiting_since.load(Ordering::Acquire), limits.keep_alive_idle)
        } else {
            (self.waiting_since.load(Ordering::Acquire), limits.header_read_timeout)
        };
        Some(Duration::from_millis(since) + allowed)
    }
}

fn offset(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
}

/// A request in flight on a connection, until its answer is sent.
#[derive(Debug)]
struct InFlight {
    conn: Arc<Tracked>,
    clock: Instant,
}

impl InFlight {
    fn begin(conn: Arc<Tracked>, clock: Instant) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.served.store(true, Ordering::Release);
        conn.head_since.store(NOT_STARTED, Ordering::Release);
        Self { conn, clock }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn.waiting_since.store(offset(self.clock), Ordering::Release);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The socket, noting when the next request's head begins to arrive.
struct Watched {
    stream: TcpStream,
    conn: Arc<Tracked>,
    clock: Instant,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let conn = &self.conn;
            if conn.in_flight.load(Ordering::Acquire) == 0 {
                let _ = conn.head_since.compare_exchange(
                    NOT_STARTED,
                    offset(self.clock),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A request body that fails with [`BodyTimedOut`] once its time is up.
struct TimedBody {
    body: Incoming,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// An answer's body; the request is in flight until it is sent (or dropped).
struct AnswerBody {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
