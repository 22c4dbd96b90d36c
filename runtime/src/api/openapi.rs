//! `GET /openapi.json`: the HTTP surface as an OpenAPI 3.1 document
//! (`openapi.json` beside this file, written by hand and kept whole by the
//! tests: every route of [`super::app`] is in it, and every path in it is
//! served — `tests/lifecycle.rs::every_documented_route_is_served`).

use axum::http::header;
use axum::response::IntoResponse;

const DOCUMENT: &str = include_str!("openapi.json");

pub(super) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_route_of_the_router_is_documented() {
        let document: serde_json::Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(document["openapi"], "3.1.0");
        let documented: BTreeSet<&str> =
            document["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
        // The router's paths, as written in its source.
        let source = include_str!("mod.rs");
        let routed: BTreeSet<&str> = source
            .split(".route(")
            .skip(1)
            .filter_map(|call| call.trim_start().strip_prefix('"')?.split('"').next())
            .collect();
        assert!(routed.len() > 20, "the router's routes were not found: {routed:?}");
        let missing: Vec<&&str> = routed.difference(&documented).collect();
        assert!(missing.is_empty(), "routes missing from openapi.json: {missing:?}");
        // The push plugins' paths (the router's fallback) are documented as one.
        let extra: Vec<&&str> = documented.difference(&routed).filter(|p| **p != "/{company}/{pluginPath}").collect();
        assert!(extra.is_empty(), "openapi.json documents paths the router does not serve: {extra:?}");
    }
}
