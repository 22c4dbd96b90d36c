//! End to end: what a stranger on the internet can reach, learn and hold,
//! against the real binary: connections that say nothing or say it slowly,
//! bodies sent without a valid token, floods, and what `/readyz` and
//! `/metrics` tell; webhook deliveries replayed, re-sent at once, or
//! stamped with an impossible time.

#[path = "support/mod.rs"]
mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::server::{Options, Portitor, files_under};
use support::tenant::Tenant;

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

/// Opens a connection and sends part of a request's head, never the end.
async fn half_open(addr: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes()).await.expect("write");
    stream
}

/// How many files (sockets included) process `pid` has open.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("/proc/<pid>/fd").count()
}

/// Whether the server closed `stream` (end of stream or a reset) within `wait`.
async fn closed_within(stream: &mut tokio::net::TcpStream, wait: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {} // an answer; wait for the close
        }
    }
}

#[tokio::test]
async fn a_flood_of_half_open_connections_neither_exhausts_files_nor_keeps_clients_out() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), &[("PORTITOR_HTTP__MAX_CONNECTIONS", "64")]);
    let addr = server.url.trim_start_matches("http://").to_string();
    let before = open_files(server.pid());
    // 400 slowloris connections, far past the limit, held open by the attacker.
    let mut flood = Vec::new();
    for _ in 0..400 {
        flood.push(half_open(&addr).await);
    }
    // Every new client is still served, at once, while the flood is held.
    for round in 0..10 {
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(std::time::Duration::from_secs(3))
            .build()
            .expect("client");
        let response = fresh.get(format!("{}/healthz", server.url)).send().await;
        assert!(
            response.as_ref().is_ok_and(|r| r.status() == StatusCode::OK),
            "round {round}: a client was kept out by the flood: {response:?}"
        );
        flood.push(half_open(&addr).await);
    }
    // The server holds at most its limit of connections, not the flood.
    let during = open_files(server.pid());
    assert!(during <= before + 64 + 8, "{during} files open during the flood ({before} before, limit 64)");
    let metrics = Portitor::client().get(format!("{}/metrics", server.url)).send().await.expect("metrics");
    let text = metrics.text().await.expect("text");
    let shed = text
        .lines()
        .find_map(|line| line.strip_prefix("portitor_connections_shed_total "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(shed.is_some_and(|n| n >= 300), "the shed connections are counted: {shed:?}");
    drop(flood);
}

#[tokio::test]
async fn a_connection_has_only_so_long_to_send_its_request() {
    use tokio::io::AsyncWriteExt;
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(
        data.path(),
        &[
            ("PORTITOR_HTTP__HEADER_READ_TIMEOUT_SECS", "1"),
            ("PORTITOR_HTTP__KEEP_ALIVE_IDLE_SECS", "2"),
            ("PORTITOR_HTTP__REQUEST_TIMEOUT_SECS", "1"),
        ],
    );
    let addr = server.url.trim_start_matches("http://").to_string();
    let seconds = std::time::Duration::from_secs;

    // A client that connects and says nothing.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    assert!(closed_within(&mut silent, seconds(4)).await, "a silent connection is closed");

    // A head sent a byte at a time, never finished: the time counts from
    // its first byte, not from the last.
    let mut trickle = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        if trickle.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        if closed_within(&mut trickle, std::time::Duration::from_millis(250)).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "a trickled head is cut off");
    assert!(started.elapsed() < seconds(5), "cut off after {:?}", started.elapsed());

    // A body announced and not sent, with a valid token: 408.
    let token = Portitor::token("acme", &["source-adapter"]);
    let answer = head_without_body(&server.url, "POST /acme/order", &token, seconds(4)).await;
    assert!(answer.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 408")), "{answer:?}");

    // A keep-alive connection idle past its time is closed; one request
    // first shows the connection was served.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.expect("request");
    let mut answer = vec![0u8; 1024];
    let n = tokio::io::AsyncReadExt::read(&mut idle, &mut answer).await.expect("answer");
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    assert!(!closed_within(&mut idle, std::time::Duration::from_millis(1500)).await, "idle is not a slow head");
    assert!(closed_within(&mut idle, seconds(3)).await, "an idle keep-alive connection is closed");
}

#[tokio::test]
async fn a_tenant_flood_is_answered_429_and_nothing_acknowledged_is_lost() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), &[("PORTITOR_HTTP__MAX_REQUESTS_PER_TENANT", "4")]);
    let acme = Portitor::token("acme", &["source-adapter", "tenant-admin"]);
    let post = |company: &'static str, token: String, n: usize| {
        let url = format!("{}/{company}/order", server.url);
        async move {
            let body = serde_json::json!({
                "source": "woo-no",
                "externalId": format!("flood-{n}"),
                "order": { "orderNumber": n, "currency": "NOK", "lineItems": [{ "sku": "NV-1", "quantity": 1 }] }
            });
            let response = Portitor::client().post(url).bearer_auth(token).json(&body).send().await.expect("post");
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_string());
            let status = response.status();
            let answer: Value = response.json().await.unwrap_or_default();
            (n, status, retry_after, answer)
        }
    };
    let flood: Vec<_> = (0..300).map(|n| tokio::spawn(post("acme", acme.clone(), n))).collect();
    // Another tenant, and the health check, are answered during the flood.
    let globex = post("globex", Portitor::token("globex", &["source-adapter"]), 0).await;
    assert_eq!(globex.1, StatusCode::CREATED, "another tenant is not refused: {:?}", globex.3);
    let health = Portitor::client().get(format!("{}/healthz", server.url)).send().await.expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for answer in flood {
        let (n, status, retry_after, body) = answer.await.expect("task");
        match status {
            StatusCode::CREATED => acknowledged.push(body["id"].as_str().expect("id").to_string()),
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok()), "429 without Retry-After ({n})");
                assert_eq!(body["error"]["code"], "too_many_requests");
            }
            other => panic!("order {n}: {other} {body}"),
        }
    }
    assert!(refused > 0, "a flood past the tenant's share is refused");
    assert!(!acknowledged.is_empty(), "and the share is served");
    // Every order acknowledged is there.
    for id in &acknowledged {
        let url = format!("{}/acme/order/{id}", server.url);
        let response = Portitor::client().get(url).bearer_auth(&acme).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::OK, "acknowledged order {id} is lost");
    }
}

/// The delivery id is claimed before the plugin runs, so a concurrent
/// duplicate never runs it twice, and released when the call fails, so the
/// partner's retry runs it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_claimed_before_the_plugin_runs_and_released_when_it_fails() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    // Loops until its time-out: a call that fails after a while.
    let manifest = "kind = \"push-source\"\n[limits]\ntimeout_ms = 1500\n[config]\npath = \"/slow\"\nloop = \"true\"\n";
    tenant.install("slow", "test-relay", manifest).await;
    let token = Portitor::token("acme", &["source-adapter"]);
    let deliver = || {
        let (url, token) = (format!("{}/acme/slow", server.url), token.clone());
        async move {
            let response = Portitor::client()
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "delivery-42")
                .body("{}")
                .send()
                .await
                .expect("deliver");
            let status = response.status();
            (status, response.text().await.unwrap_or_default())
        }
    };
    let (first, second) = tokio::join!(deliver(), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        deliver().await
    });
    assert_eq!(second.0, StatusCode::SERVICE_UNAVAILABLE, "{second:?}");
    assert!(second.1.contains("being handled by another request"), "{second:?}");
    assert_eq!(first.0, StatusCode::SERVICE_UNAVAILABLE, "the looping call timed out: {first:?}");
    let letters = |v: Value| v["deadLetters"].as_array().map(Vec::len).unwrap_or_default();
    assert_eq!(letters(tenant.get("/acme/deadletters").await), 1, "the plugin ran once");

    // Released: the partner's retry runs the plugin again.
    let retry = deliver().await;
    assert_eq!(retry.0, StatusCode::SERVICE_UNAVAILABLE, "{retry:?}");
    assert!(!retry.1.contains("being handled"), "{retry:?}");
    assert_eq!(letters(tenant.get("/acme/deadletters").await), 2, "the retry ran the plugin");
}

#[tokio::test]
async fn a_dead_letter_keeps_no_signature_or_credential() {
    use base64::Engine as _;
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), &[]);
    let tenant = Tenant::new(&server, "acme");
    let secret = "partner-shared-secret";
    tenant.secret("partner-secret", secret).await;
    // Verified by the runtime, then the plugin traps: a dead letter.
    let manifest = "kind = \"push-source\"\n[webhook]\nscheme = \"hmac-sha256\"\nheader = \"X-Partner-Signature\"\nsecret = \"partner-secret\"\nencoding = \"base64\"\n";
    tenant.install("panics", "test-panic", manifest).await;
    let body = "{\"order\": 1}";
    let signature = base64::engine::general_purpose::STANDARD
        .encode(portitor::security::webhooks::hmac_sha256(secret.as_bytes(), &[body.as_bytes()]));
    let response = Portitor::client()
        .post(format!("{}/acme/test/panic?page=1&api_key=k3y", server.url))
        .header("X-Partner-Signature", &signature)
        .header("X-Partner", "acme-partner")
        .body(body)
        .send()
        .await
        .expect("send");
    assert!(response.status().is_server_error(), "the plugin trapped: {}", response.status());
    let listed = tenant.get("/acme/deadletters").await;
    let id = listed["deadLetters"][0]["id"].as_str().expect("a dead letter").to_string();
    let letter = tenant.get(&format!("/acme/deadletters/panics/{id}")).await;
    let text = letter.to_string();
    assert!(!text.contains(&signature), "the dead letter keeps the signature: {text}");
    assert!(!text.contains("k3y"), "the dead letter keeps a credential in the query: {text}");
    assert!(text.contains("acme-partner"), "the other headers are kept: {text}");
    // What was kept is what the partner sent, minus what would replay it.
    let stored = files_under(&data.path().join("acme/deadletter/panics"));
    let raw = std::fs::read_to_string(data.path().join("acme/deadletter/panics").join(&stored[0])).expect("read");
    assert!(!raw.contains(&signature), "nor on disk");
}

#[tokio::test]
async fn an_impossible_webhook_timestamp_is_answered_401() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = start(data.path(), &[]);
    let tenant = Tenant::new(&server, "acme");
    tenant.secret("sw-secret", "whsec_c2VjcmV0LWtleS1mb3ItdGhlLXRlc3Q=").await;
    let manifest = "kind = \"push-source\"\n[webhook]\nscheme = \"standard-webhooks\"\nsecret = \"sw-secret\"\n";
    tenant.install("counter", "test-counter", manifest).await;
    let stripe_manifest = "kind = \"push-source\"\n[webhook]\nscheme = \"stripe\"\nsecret = \"sw-secret\"\n[config]\npath = \"/stripe\"\n";
    tenant.install("stripe", "test-relay", stripe_manifest).await;
    let extremes =
        [i64::MAX.to_string(), i64::MIN.to_string(), "99999999999999999999999".to_string(), "-0".to_string()];
    for timestamp in &extremes {
        let response = Portitor::client()
            .post(format!("{}/acme/test/counter", server.url))
            .header("webhook-id", "msg_1")
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", "v1,c2lnbmF0dXJl")
            .body("{}")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "webhook-timestamp {timestamp}");
    }
    for timestamp in &extremes {
        let stripe = Portitor::client()
            .post(format!("{}/acme/stripe", server.url))
            .header("stripe-signature", format!("t={timestamp},v1=00"))
            .body("{}")
            .send()
            .await
            .expect("send");
        assert_eq!(stripe.status(), StatusCode::UNAUTHORIZED, "Stripe-Signature t={timestamp}");
    }
    // And the server is still there.
    let health = Portitor::client().get(format!("{}/healthz", server.url)).send().await.expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
}

/// Found by fuzzing: such an order was acknowledged, and then neither the
/// pipeline nor a restart could read it again.
#[tokio::test]
async fn an_order_that_could_not_be_read_back_is_refused_and_the_server_restarts() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut server = start(data.path(), &[]);
    let token = Portitor::token("acme", &["source-adapter"]);
    let body = r#"{"source": "woo-no", "externalId": "x1", "order": {"lineItems": [{"quantity": 1e400}]}}"#;
    let response = Portitor::client()
        .post(format!("{}/acme/order", server.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.expect("json");
    assert!(answer["error"]["message"].as_str().unwrap_or_default().contains("not readable JSON"), "{answer}");
    assert!(server.terminate());
    let restarted = start(data.path(), &[]);
    let health = Portitor::client().get(format!("{}/readyz", restarted.url)).send().await.expect("readyz");
    assert_eq!(health.status(), StatusCode::OK);
}
