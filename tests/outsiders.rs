//! End to end: what a stranger on the internet can reach and learn, against
//! the real binary (issue "Outsiders and bad input"; the rest of it is still
//! to come: time-outs and a connection limit, the token before the body, an
//! overall 429, fuzzing).

#[path = "support/mod.rs"]
mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::server::{Options, Portitor};

fn start(data: &std::path::Path, env: &[(&str, &str)]) -> Portitor {
    Portitor::start_with(Options {
        data_dir: Some(data.to_path_buf()),
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Options::default()
    })
}

#[tokio::test]
async fn readyz_says_ready_and_why_naming_nothing_internal() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), &[]);
    let response = Portitor::client().get(format!("{}/readyz", server.url)).send().await.expect("readyz");
    assert_eq!(response.status(), StatusCode::OK);
    let ready: Value = response.json().await.expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["store"]["state"], "reachable");
    let text = ready.to_string();
    let path = data.path().display().to_string();
    assert!(!text.contains(&path) && !text.contains("fs:"), "/readyz names the data directory: {text}");
}

#[tokio::test]
async fn metrics_can_require_a_platform_operator_token() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), &[("PORTITOR_METRICS__REQUIRE_TOKEN", "true")]);
    let get = |token: Option<String>| {
        let url = format!("{}/metrics", server.url);
        async move {
            let request = Portitor::client().get(url);
            let request = match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            };
            let response = request.send().await.expect("metrics");
            (response.status(), response.text().await.unwrap_or_default())
        }
    };
    assert_eq!(get(None).await.0, StatusCode::UNAUTHORIZED);
    let tenant_operator = Portitor::token("acme", &["platform-operator"]);
    assert_eq!(get(Some(tenant_operator)).await.0, StatusCode::FORBIDDEN, "a tenant's operator is not the platform's");
    let (status, text) = get(Some(Portitor::token("*", &["platform-operator"]))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("portitor_"), "{text}");
}

#[tokio::test]
async fn metrics_can_be_served_on_an_address_of_their_own() {
    let data = tempfile::tempdir().expect("tempdir");
    let port = support::free_port();
    let own = format!("127.0.0.1:{port}");
    let server = start(data.path(), &[("PORTITOR_METRICS__LISTEN", &own)]);
    let public = Portitor::client().get(format!("{}/metrics", server.url)).send().await.expect("public");
    assert_eq!(public.status(), StatusCode::NOT_FOUND, "not on the public listener");
    let scraped = Portitor::client().get(format!("http://{own}/metrics")).send().await.expect("own address");
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.text().await.expect("text").contains("portitor_"));
}

/// Sends a request's head announcing a large body, and none of the body;
/// what the server answers within `wait`, if anything.
async fn head_without_body(url: &str, request_line: &str, token: &str, wait: std::time::Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{request_line} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 900000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = vec![0u8; 4096];
    match tokio::time::timeout(wait, stream.read(&mut answer)).await {
        Ok(Ok(n)) if n > 0 => Some(String::from_utf8_lossy(&answer[..n]).into_owned()),
        _ => None,
    }
}

#[tokio::test]
async fn a_body_is_never_read_without_a_valid_token() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), &[]);
    let wait = std::time::Duration::from_secs(3);
    let forged = head_without_body(&server.url, "POST /acme/order", "not-a-token", wait).await;
    assert!(forged.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 401")), "answered before the body: {forged:?}");
    let globex = Portitor::token("globex", &["source-adapter"]);
    let other = head_without_body(&server.url, "POST /acme/order", &globex, wait).await;
    assert!(other.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 403")), "{other:?}");
    let admin = Portitor::token("globex", &["tenant-admin"]);
    let upload = head_without_body(&server.url, "PUT /acme/plugins/x", &admin, wait).await;
    assert!(upload.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 403")), "uploads too: {upload:?}");
    // With a valid token the server waits for the body it was promised.
    let acme = Portitor::token("acme", &["source-adapter"]);
    let waiting = head_without_body(&server.url, "POST /acme/order", &acme, std::time::Duration::from_secs(1)).await;
    assert_eq!(waiting, None, "a valid token's body is read");
}

#[tokio::test]
async fn an_upload_field_is_refused_the_moment_it_passes_its_limit() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), &[]);
    let admin = Portitor::token("acme", &["tenant-admin"]);
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    // A manifest field of 100 KiB that never ends (its limit is 64 KiB), in
    // a form announced as 30 MB.
    let head = format!(
        "PUT /acme/plugins/big HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 30000000\r\n\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"manifest\"\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&vec![b'#'; 100 * 1024]).await.expect("field");
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), stream.read(&mut answer)).await;
    let answer = match read {
        Ok(Ok(n)) => String::from_utf8_lossy(&answer[..n]).into_owned(),
        other => panic!("no answer while the field went on: {other:?}"),
    };
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("`manifest`"), "{answer}");
}
