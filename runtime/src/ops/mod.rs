//! What operators see of a running node: plugins' activity and recent log
//! lines, the audit trail of admin actions, and the counters at `/metrics`.
//! None of it decides anything; the order flow only reports into it.

pub mod activity;
pub mod audit;
pub mod metrics;
pub mod per_plugin;
pub mod plugin_logs;
