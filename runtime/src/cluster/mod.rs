//! Several nodes on one store (docs/DESIGN.md §11): the admin API's changes
//! told to the other nodes, the pointer queue they share, and the leases
//! that give each schedule tick to one node. A single node uses none of it.

pub mod lease;
pub mod node_sync;
pub mod shared_queue;
