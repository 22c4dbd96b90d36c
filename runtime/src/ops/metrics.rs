//! Counters served at `/metrics` in Prometheus' text format. A handful of
//! atomics: what an operator graphs and alerts on.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub orders_created: AtomicU64,
    pub orders_duplicate: AtomicU64,
    pub requests_2xx: AtomicU64,
    pub requests_4xx: AtomicU64,
    pub requests_5xx: AtomicU64,
    pub store_unavailable: AtomicU64,
    /// Connections closed at once: at `http.max_connections`, every one busy.
    pub connections_refused: AtomicU64,
    /// Connections the server closed: too slow or idle too long, or the
    /// longest-waiting one when a client came at the limit.
    pub connections_shed: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_status(&self, status: u16) {
        match status {
            200..=299 => Self::inc(&self.requests_2xx),
            400..=499 => Self::inc(&self.requests_4xx),
            500..=599 => Self::inc(&self.requests_5xx),
            _ => {}
        }
    }

    /// The counters, plus `extra` (name, help, value) gauges, as Prometheus text.
    pub fn render(&self, extra: &[(&str, &str, u64)]) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, labels: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name}{labels} {value}");
        };
        counter(
            "portitor_orders_ingested_total",
            "Orders stored as OrderReceived.",
            "{result=\"created\"}",
            get(&self.orders_created),
        );
        counter(
            "portitor_orders_duplicate_total",
            "Orders received again (nothing written).",
            "",
            get(&self.orders_duplicate),
        );
        let _ = writeln!(out, "# HELP portitor_http_responses_total HTTP responses by status class.");
        let _ = writeln!(out, "# TYPE portitor_http_responses_total counter");
        for (class, value) in [("2xx", &self.requests_2xx), ("4xx", &self.requests_4xx), ("5xx", &self.requests_5xx)] {
            let _ = writeln!(out, "portitor_http_responses_total{{class=\"{class}\"}} {}", get(value));
        }
        let mut counter = |name: &str, help: &str, labels: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name}{labels} {value}");
        };
        counter(
            "portitor_store_unavailable_total",
            "Requests answered 503 because the store was unavailable.",
            "",
            get(&self.store_unavailable),
        );
        counter(
            "portitor_connections_refused_total",
            "Connections closed on arrival: at http.max_connections with every connection busy.",
            "",
            get(&self.connections_refused),
        );
        counter(
            "portitor_connections_shed_total",
            "Connections the server closed: too slow to send a request, idle too long, or making room at the limit.",
            "",
            get(&self.connections_shed),
        );
        for (name, help, value) in extra {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}
