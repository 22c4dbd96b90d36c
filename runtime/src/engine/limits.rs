//! The per-store memory limit, and a record of whether the guest hit it so
//! that the trap that follows can be reported as what it is.

use wasmtime::ResourceLimiter;

/// The most table elements a plugin may grow to (function references).
const MAX_TABLE_ELEMENTS: usize = 100_000;

#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit: usize,
    peak: usize,
    /// The size the guest asked for when a growth was refused.
    refused: Option<usize>,
}

impl MemoryLimiter {
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit, peak: 0, refused: None }
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak
    }

    pub(crate) fn refused(&self) -> Option<usize> {
        self.refused
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = Some(desired);
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
