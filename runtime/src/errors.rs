//! Where a typed error becomes text — a run record, a guest's `result`, a
//! log field — it is written with its causes, as `anyhow` writes `{:#}`.

use std::error::Error;

/// `error` and each of its sources, joined by `: `.
pub fn with_causes(error: &dyn Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("moving the cursor")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_cause_is_written_after_its_effect() {
        let error = Outer(std::io::Error::other("the store is down"));
        assert_eq!(with_causes(&error), "moving the cursor: the store is down");
    }
}
