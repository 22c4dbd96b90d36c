//! The differences between what a recorded invocation gave and what a
//! replay gave, as JSON Pointer paths (RFC 6901) with both values: a
//! changed field is named by where it is (`/events/0/payload/orderNumber`).

use serde::Serialize;
use serde_json::Value;

/// One place where the two differ. A value missing on one side is `null`
/// there, with `missing` naming the side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub path: String,
    pub recorded: Value,
    pub replayed: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<&'static str>,
}

/// Every difference between `recorded` and `replayed`, depth first; at
/// most `limit` of them (an entirely different output would list every leaf).
pub fn diff(recorded: &Value, replayed: &Value, limit: usize) -> Vec<Difference> {
    let mut found = Vec::new();
    walk(&mut String::new(), recorded, replayed, limit, &mut found);
    found
}

fn walk(path: &mut String, recorded: &Value, replayed: &Value, limit: usize, found: &mut Vec<Difference>) {
    if found.len() >= limit || recorded == replayed {
        return;
    }
    match (recorded, replayed) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let len = path.len();
                path.push('/');
                path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(path, x, y, limit, found),
                    (x, y) => push(found, path, x, y, limit),
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => walk(path, x, y, limit, found),
                    (x, y) => push(found, path, x, y, limit),
                }
                path.truncate(len);
            }
        }
        _ => push(found, path, Some(recorded), Some(replayed), limit),
    }
}

fn push(found: &mut Vec<Difference>, path: &str, recorded: Option<&Value>, replayed: Option<&Value>, limit: usize) {
    if found.len() >= limit {
        return;
    }
    let missing = match (recorded, replayed) {
        (None, _) => Some("recorded"),
        (_, None) => Some("replayed"),
        _ => None,
    };
    found.push(Difference {
        path: if path.is_empty() { "/".to_string() } else { path.to_string() },
        recorded: recorded.cloned().unwrap_or(Value::Null),
        replayed: replayed.cloned().unwrap_or(Value::Null),
        missing,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_changed_field_is_named_by_its_path() {
        let recorded = json!({ "events": [{ "payload": { "orderNumber": "1001", "a/b": 1 } }] });
        let replayed = json!({ "events": [{ "payload": { "orderNumber": "#1001", "a/b": 1 } }] });
        let found = diff(&recorded, &replayed, 10);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "/events/0/payload/orderNumber");
        assert_eq!((found[0].recorded.clone(), found[0].replayed.clone()), (json!("1001"), json!("#1001")));
        assert!(diff(&recorded, &recorded, 10).is_empty());
    }

    #[test]
    fn missing_values_name_their_side_and_the_list_is_bounded() {
        let found = diff(&json!({ "a": [1], "b": 2 }), &json!({ "a": [1, 5], "c": 3 }), 10);
        let paths: Vec<_> = found.iter().map(|d| (d.path.as_str(), d.missing)).collect();
        assert_eq!(paths, vec![("/a/1", Some("recorded")), ("/b", Some("replayed")), ("/c", Some("recorded"))]);
        let wide = json!((0..100).collect::<Vec<_>>());
        assert_eq!(diff(&wide, &json!([]), 5).len(), 5);
        assert_eq!(diff(&json!(1), &json!("x"), 5)[0].path, "/");
    }
}
