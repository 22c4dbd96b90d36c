//! The key schema of docs/DESIGN.md §4, tenant first so that a tenant's data is
//! one prefix. Every key Portitor writes is built here, from checked
//! segments: plugins and partners never choose a key.

use thiserror::Error;

use crate::store::{ObjectStore, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{value}` is not a valid {what}: use 1 to 63 lowercase letters, digits and hyphens")]
pub struct InvalidSegment {
    pub what: &'static str,
    pub value: String,
}

/// Checks a key segment: lowercase letters, digits and hyphens, not
/// starting or ending with a hyphen.
pub fn check_segment(what: &'static str, value: &str) -> Result<(), InvalidSegment> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && !value.starts_with('-')
        && !value.ends_with('-')
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(InvalidSegment { what, value: value.chars().take(80).collect() }) }
}

/// The tenants with data in `store`: the names at its top that are company
/// segments (the data directory's own folders, `.keys` and `.journal`, are
/// none). One listing: callers that load several things per tenant list once
/// and pass the names on.
pub async fn companies(store: &dyn ObjectStore) -> Result<Vec<String>, StoreError> {
    let mut companies = store.list_children("").await?;
    companies.retain(|company| check_segment("company", company).is_ok());
    Ok(companies)
}

/// Checks an event type: PascalCase ASCII letters and digits.
pub fn check_event_type(value: &str) -> Result<(), InvalidSegment> {
    let ok = value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_uppercase())
        && value.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok { Ok(()) } else { Err(InvalidSegment { what: "event type", value: value.to_string() }) }
}

/// Versions are zero-padded to 10 digits so that keys sort in order.
pub fn version_segment(version: u64) -> String {
    format!("{version:010}")
}

/// `{company}/events/{aggregate-type}/{aggregate-id}/`
pub fn aggregate_prefix(company: &str, aggregate_type: &str, aggregate_id: &str) -> String {
    format!("{company}/events/{aggregate_type}/{aggregate_id}/")
}

/// `{company}/events/{aggregate-type}/`
pub fn aggregate_type_prefix(company: &str, aggregate_type: &str) -> String {
    format!("{company}/events/{aggregate_type}/")
}

/// `{company}/events/{aggregate-type}/{aggregate-id}/{version}/`: every
/// event stored at one version (more than one is a conflict).
pub fn version_prefix(company: &str, aggregate_type: &str, aggregate_id: &str, version: u64) -> String {
    format!("{}{}/", aggregate_prefix(company, aggregate_type, aggregate_id), version_segment(version))
}

/// `{company}/events/{aggregate-type}/{aggregate-id}/{version}/{EventType}`
pub fn event_key(company: &str, aggregate_type: &str, aggregate_id: &str, version: u64, event_type: &str) -> String {
    format!("{}{event_type}", version_prefix(company, aggregate_type, aggregate_id, version))
}

/// The (version, event type) of an event key below `prefix`.
pub fn parse_event_key<'a>(prefix: &str, key: &'a str) -> Option<(u64, &'a str)> {
    let rest = key.strip_prefix(prefix)?;
    let (version, event_type) = rest.split_once('/')?;
    if version.len() != 10 || event_type.contains('/') {
        return None;
    }
    Some((version.parse().ok()?, event_type))
}

/// `{company}/derived/`: state derived from the event log (projections),
/// which `portitor reindex` deletes and writes again.
pub fn derived_prefix(company: &str) -> String {
    format!("{company}/derived/")
}

/// `{company}/derived/orders/{order-id}`: an order's summary.
pub fn summary_key(company: &str, order_id: &str) -> String {
    format!("{}orders/{order_id}", derived_prefix(company))
}

/// `{company}/derived/lists/{list}/`: one entry per order in a list
/// (`failed`, `unhandled`, `in-progress`, `all`, `source-{source}`).
pub fn list_prefix(company: &str, list: &str) -> String {
    format!("{}lists/{list}/", derived_prefix(company))
}

/// `{company}/derived/hours/{yyyymmddhh}/{what}/`: the orders received, or
/// first failed, in one hour (UTC).
pub fn hour_prefix(company: &str, hour: &str, what: &str) -> String {
    format!("{}hours/{hour}/{what}/", derived_prefix(company))
}

/// `{company}/derived/claims/{order-id}`: which node sweeps an unfinished
/// order (several nodes).
pub fn sweep_claim_key(company: &str, order_id: &str) -> String {
    format!("{}claims/{order_id}", derived_prefix(company))
}

/// `{company}/derived/open/`: markers of changes whose derived writes may
/// not have happened yet.
pub fn open_prefix(company: &str) -> String {
    format!("{}open/", derived_prefix(company))
}

/// `{company}/plugins/{plugin-id}/runs/` — a pull plugin's run history.
pub fn runs_prefix(company: &str, plugin_id: &str) -> String {
    format!("{company}/plugins/{plugin_id}/runs/")
}

/// `{company}/plugins/{plugin-id}/runs/{started}-{run-id}.json`, `started`
/// a sortable UTC time, so the history lists oldest first.
pub fn run_key(company: &str, plugin_id: &str, started: &str, run_id: &str) -> String {
    format!("{}{started}-{run_id}.json", runs_prefix(company, plugin_id))
}

/// `{company}/secrets/` — a tenant's sealed secrets.
pub fn secrets_prefix(company: &str) -> String {
    format!("{company}/secrets/")
}

/// `{company}/secrets/{name}.json`
pub fn secret_key(company: &str, name: &str) -> String {
    format!("{}{name}.json", secrets_prefix(company))
}

/// `{company}/cursors/{plugin-id}/{name}.json` (`cursor.json` by default).
pub fn cursor_key(company: &str, plugin_id: &str, name: &str) -> String {
    format!("{company}/cursors/{plugin_id}/{name}.json")
}

/// `{company}/plugins/`: every plugin of a tenant.
pub fn plugins_prefix(company: &str) -> String {
    format!("{company}/plugins/")
}

/// `{company}/plugins/{plugin-id}/versions/`: every stored version of a plugin.
pub fn plugin_versions_prefix(company: &str, plugin_id: &str) -> String {
    format!("{}{plugin_id}/versions/", plugins_prefix(company))
}

/// `{company}/plugins/{plugin-id}/versions/{sha256}/component.wasm`
pub fn plugin_component_key(company: &str, plugin_id: &str, sha256: &str) -> String {
    format!("{}{sha256}/component.wasm", plugin_versions_prefix(company, plugin_id))
}

/// `{company}/plugins/{plugin-id}/versions/{sha256}/manifest.json`
pub fn plugin_manifest_key(company: &str, plugin_id: &str, sha256: &str) -> String {
    format!("{}{sha256}/manifest.json", plugin_versions_prefix(company, plugin_id))
}

/// `{company}/deliveries/{plugin-id}/{sha256 of the delivery id}`: a
/// partner's delivery, claimed or handled (replay protection).
pub fn delivery_key(company: &str, plugin_id: &str, delivery_id: &str) -> String {
    use sha2::Digest;
    format!("{company}/deliveries/{plugin_id}/{}", hex::encode(sha2::Sha256::digest(delivery_id.as_bytes())))
}

/// `{company}/plugins/{plugin-id}/versions/{sha256}/described.json`: what
/// the version's own code said at upload (path, schedule, cursor name).
pub fn plugin_described_key(company: &str, plugin_id: &str, sha256: &str) -> String {
    format!("{}{sha256}/described.json", plugin_versions_prefix(company, plugin_id))
}

/// `{company}/plugins/{plugin-id}/active.json`
pub fn plugin_active_key(company: &str, plugin_id: &str) -> String {
    format!("{}{plugin_id}/active.json", plugins_prefix(company))
}

/// `{company}/plugins/{plugin-id}/schedule-lease.json`: the last tick of
/// the plugin's schedule a node took (several nodes, docs/DESIGN.md §11).
pub fn schedule_lease_key(company: &str, plugin_id: &str) -> String {
    format!("{}{plugin_id}/schedule-lease.json", plugins_prefix(company))
}

/// `{company}/refs/{warehouse-reference}`
pub fn reference_key(company: &str, reference: &str) -> String {
    format!("{company}/refs/{reference}")
}

/// `{company}/deadletter/`: every dead letter of a tenant.
pub fn deadletters_prefix(company: &str) -> String {
    format!("{company}/deadletter/")
}

/// `{company}/deadletter/{plugin-id}/{request-id}`
pub fn deadletter_key(company: &str, plugin_id: &str, request_id: &str) -> String {
    format!("{}{plugin_id}/{request_id}", deadletters_prefix(company))
}

/// `{company}/recordings/{plugin-id}/`: a plugin's recorded invocations.
pub fn recordings_prefix(company: &str, plugin_id: &str) -> String {
    format!("{company}/recordings/{plugin_id}/")
}

/// `{company}/recordings/{plugin-id}/{recording-id}.json`, the id a UUIDv7:
/// the recordings list oldest first.
pub fn recording_key(company: &str, plugin_id: &str, recording_id: &str) -> String {
    format!("{}{recording_id}.json", recordings_prefix(company, plugin_id))
}

/// `{company}/plugins/{plugin-id}/replays/`: a plugin's replay reports.
pub fn replays_prefix(company: &str, plugin_id: &str) -> String {
    format!("{}{plugin_id}/replays/", plugins_prefix(company))
}

/// `{company}/plugins/{plugin-id}/replays/{report-id}.json`, the id a UUIDv7.
pub fn replay_key(company: &str, plugin_id: &str, report_id: &str) -> String {
    format!("{}{report_id}.json", replays_prefix(company, plugin_id))
}

/// `{company}/plugins/{plugin-id}/shadow.json`: the version that runs in
/// shadow beside the active one, if any.
pub fn shadow_key(company: &str, plugin_id: &str) -> String {
    format!("{}{plugin_id}/shadow.json", plugins_prefix(company))
}

/// `{company}/config/{name}.json`
pub fn config_key(company: &str, name: &str) -> String {
    format!("{company}/config/{name}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_and_dead_letter_keys_follow_the_schema_under_their_prefixes() {
        let component = plugin_component_key("acme", "shop", "ab12");
        assert_eq!(component, "acme/plugins/shop/versions/ab12/component.wasm");
        assert_eq!(plugin_manifest_key("acme", "shop", "ab12"), "acme/plugins/shop/versions/ab12/manifest.json");
        assert_eq!(plugin_active_key("acme", "shop"), "acme/plugins/shop/active.json");
        assert!(component.starts_with(&plugin_versions_prefix("acme", "shop")));
        assert!(plugin_versions_prefix("acme", "shop").starts_with(&plugins_prefix("acme")));
        let letter = deadletter_key("acme", "shop", "r1");
        assert_eq!(letter, "acme/deadletter/shop/r1");
        assert!(letter.starts_with(&deadletters_prefix("acme")));
    }

    #[test]
    fn event_keys_follow_the_schema_and_parse_back() {
        let key = event_key("acme", "orders", "0b9f", 1, "OrderReceived");
        assert_eq!(key, "acme/events/orders/0b9f/0000000001/OrderReceived");
        let prefix = aggregate_prefix("acme", "orders", "0b9f");
        assert_eq!(parse_event_key(&prefix, &key), Some((1, "OrderReceived")));
        assert_eq!(parse_event_key(&prefix, "acme/events/orders/0b9f/1/OrderReceived"), None);
    }

    #[test]
    fn segments_are_checked() {
        assert!(check_segment("company", "nordvik-outdoor").is_ok());
        for bad in ["", "Acme", "a/b", "-a", "a-", "a_b", "a.b", &"x".repeat(64)] {
            assert!(check_segment("company", bad).is_err(), "{bad:?}");
        }
        assert!(check_event_type("OrderReceived").is_ok());
        assert!(check_event_type("orderReceived").is_err());
        assert!(check_event_type("Order/Received").is_err());
    }
}
