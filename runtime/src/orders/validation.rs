//! Validation modes and verdicts (docs/DESIGN.md §7, ADR-013), in plain Rust.
//!
//! The mode is the order's flag, else its source plugin's default, else the
//! platform default `strict`. Strict: every finding that is not `info` is an
//! `error` and the order halts. Lenient: those findings become `warning`s
//! and the order goes on. `info` never halts an order. Never silent: both
//! verdicts carry every finding.

use serde::{Deserialize, Serialize};

use super::{Finding, Severity};
use crate::plugins::manifest::ValidationMode;

/// Where the mode came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeSource {
    Order,
    SourcePlugin,
    Platform,
}

/// The mode an order is validated in: order flag > source default > strict.
pub fn resolve_mode(
    order_flag: Option<ValidationMode>,
    source_default: Option<ValidationMode>,
) -> (ValidationMode, ModeSource) {
    match (order_flag, source_default) {
        (Some(mode), _) => (mode, ModeSource::Order),
        (None, Some(mode)) => (mode, ModeSource::SourcePlugin),
        (None, None) => (ValidationMode::Strict, ModeSource::Platform),
    }
}

/// What validation decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `OrderValidated`: the order goes on (findings are warnings or info).
    Validated(Vec<Finding>),
    /// `OrderValidationFailed`: the order halts (findings are errors or info).
    Failed(Vec<Finding>),
}

/// Applies `mode` to the findings of every validation step.
pub fn judge(mode: ValidationMode, findings: Vec<Finding>) -> Verdict {
    let halting = findings.iter().any(|f| f.severity != Severity::Info);
    let to = match mode {
        ValidationMode::Strict => Severity::Error,
        ValidationMode::Lenient => Severity::Warning,
    };
    let findings: Vec<Finding> = findings
        .into_iter()
        .map(|f| if f.severity == Severity::Info { f } else { Finding { severity: to, ..f } })
        .collect();
    if halting && mode == ValidationMode::Strict { Verdict::Failed(findings) } else { Verdict::Validated(findings) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding { field: "lineItems[0].hsCode".into(), value: "6101.20".into(), severity, message: "m".into() }
    }

    /// Every combination of order flag × source default × outcome, and the verdict it must give.
    #[test]
    fn the_mode_table() {
        use ValidationMode::{Lenient, Strict};
        let flags = [Some(Strict), Some(Lenient), None];
        for flag in flags {
            for source in flags {
                let (mode, from) = resolve_mode(flag, source);
                let expected_mode = flag.or(source).unwrap_or(Strict);
                assert_eq!(mode, expected_mode, "{flag:?} × {source:?}");
                let expected_from = match (flag, source) {
                    (Some(_), _) => ModeSource::Order,
                    (None, Some(_)) => ModeSource::SourcePlugin,
                    (None, None) => ModeSource::Platform,
                };
                assert_eq!(from, expected_from);

                // Clean: validated either way, no findings.
                assert_eq!(judge(mode, vec![]), Verdict::Validated(vec![]));
                // Only info: never halts.
                assert_eq!(
                    judge(mode, vec![finding(Severity::Info)]),
                    Verdict::Validated(vec![finding(Severity::Info)])
                );
                // Findings: strict fails with errors, lenient goes on with warnings.
                let verdict = judge(mode, vec![finding(Severity::Warning), finding(Severity::Info)]);
                match mode {
                    Strict => {
                        assert_eq!(verdict, Verdict::Failed(vec![finding(Severity::Error), finding(Severity::Info)]))
                    }
                    Lenient => assert_eq!(
                        verdict,
                        Verdict::Validated(vec![finding(Severity::Warning), finding(Severity::Info)])
                    ),
                }
            }
        }
    }
}
