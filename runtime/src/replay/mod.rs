//! Recorded invocations, replay and shadow (docs/DESIGN.md §10): proving a
//! plugin version on real traffic before it goes live.
//!
//! - [`fixture`]: the file format of one invocation — a tenant's fixture
//!   and a server's recording alike;
//! - [`Tape`]: a live invocation's host calls as they happen;
//! - [`recorder`]: keeps live pushes and pull fetches as recordings, off
//!   the live path, within a retention per plugin;
//! - [`run`]: runs a fixture on a loaded plugin, its recorded answers
//!   served in place of the network;
//! - [`diff`]: what differs between two outcomes, by JSON Pointer;
//! - [`replays`]: a candidate version over a range of recordings, and the
//!   report;
//! - [`shadow`]: a version beside the active one on live traffic, its
//!   outcomes compared and counted, never stored.

pub mod diff;
pub mod fixture;
pub(crate) mod outcome;
pub mod recorder;
pub mod replays;
pub mod run;
pub mod shadow;
mod tape;

pub use recorder::Recorder;
pub use tape::{Calls, Tape};
