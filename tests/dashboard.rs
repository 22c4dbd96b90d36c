//! End to end in a real browser: the operator dashboard in headless
//! Chromium (Debian's `chromium` and `chromium-driver`, which `just setup`
//! installs), driven over WebDriver. Screenshots of each page go to
//! `tests/screenshots/` (not in git).

#[path = "support/mod.rs"]
mod support;

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::ftp::FtpServer;
use support::orders::{ADMIN_TOKEN, good_order, post_order, set_up, wait_for_state};
use support::server::Portitor;
use support::tenant::Tenant;
use support::warehouse;

/// chromedriver and a browser session. `close` ends the session, and with
/// it Chromium. chromedriver runs in its own process group, which Chromium's
/// processes join, so that dropping the browser of a test that panicked
/// kills the whole group: no browser outlives its test.
struct Browser {
    driver: Child,
    client: Client,
}

impl Browser {
    async fn start() -> Self {
        let port = support::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (Debian's chromium-driver; `just setup` installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("PORTITOR_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-quic", "--no-first-run", "--window-size=1366,900"]
            }),
        );
        let client = ClientBuilder::rustls()
            .expect("tls")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Self { driver, client }
    }

    /// Opens the dashboard of `company` and signs in with `token`.
    async fn sign_in(&self, url: &str, company: &str, token: &str) {
        self.client.goto(&format!("{url}/{company}/dashboard")).await.expect("goto");
        let input = self.client.wait().for_element(Locator::Css("#token-input")).await.expect("token field");
        input.send_keys(token).await.expect("type the token");
        self.client
            .find(Locator::Css("#login-form button[type=submit]"))
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
    }

    /// Waits until `script` (a JS expression) is truthy.
    async fn until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let value = self.client.execute(&format!("return !!({script});"), vec![]).await.expect("script");
            if value == json!(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self) -> String {
        self.client.find(Locator::Css("body")).await.expect("body").text().await.expect("text")
    }

    /// Ends the session so that chromedriver stops Chromium: killing
    /// chromedriver alone leaves Chromium's processes behind.
    async fn close(self) {
        self.client.clone().close().await.expect("end the browser session");
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/screenshots");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_forces_a_failed_order_and_sees_it_sent() {
    let (wms_server, _wms) = warehouse::start_wms().await;
    let (webshop, _updates) = warehouse::start_webshop(ADMIN_TOKEN).await;
    let ftp = FtpServer::start();
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    set_up(&tenant, &wms_server.url(), &webshop.url(), ftp.port).await;
    tenant.secret("bring-ftp-password", support::ftp::PASSWORD).await;
    let bring = format!(
        "kind = \"pull-source\"\nschedule = \"0 0 1 1 *\"\n[network]\nprivate_hosts = [\"127.0.0.1\"]\n\
         [ftp.connections.drop-folder]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"{}\"\npassword_secret = \"bring-ftp-password\"\n",
        ftp.port,
        support::ftp::USER
    );
    tenant.install("bring-ftp", "bring-ftp", &bring).await;
    std::fs::create_dir_all(ftp.path("in")).expect("the partner's empty drop folder");
    tenant.install("panics", "test-panic", "kind = \"push-source\"\nwebhook = { scheme = \"none\" }\n").await;
    let _ = Portitor::client().post(format!("{}/acme/test/panic", server.url)).body("{}").send().await;
    // A good order, and one that fails strict validation.
    let good =
        post_order(&server, json!({"source": "woo-no", "externalId": "NV-1", "order": good_order("NV-1")})).await;
    wait_for_state(&tenant, &good, "sent").await;
    let mut bad = good_order("NV-2");
    bad["currency"] = json!("SKR");
    let failed = post_order(&server, json!({"source": "woo-no", "externalId": "NV-2", "order": bad})).await;
    wait_for_state(&tenant, &failed, "failed").await;
    // Another tenant's failed order, which acme must never see.
    let globex = Tenant::new(&server, "globex");
    let globex_source = Portitor::token("globex", &["source-adapter"]);
    let mut secret = good_order("GLOBEX-ONLY");
    secret.as_object_mut().expect("order").remove("lineItems");
    let response = Portitor::client()
        .post(format!("{}/globex/order", server.url))
        .bearer_auth(globex_source)
        .json(&json!({"source": "woo-no", "externalId": "GLOBEX-ONLY", "order": secret}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);

    let browser = Browser::start().await;
    let operator = Portitor::token("acme", &["platform-operator"]);
    browser.sign_in(&server.url, "acme", &operator).await;
    browser.until("the failed queue", "document.querySelector('tr[data-order]')").await;
    let page = browser.text().await;
    assert!(page.contains("NV-2"), "{page}");
    assert!(page.contains("currency") && page.contains("SKR"), "the findings show: {page}");
    assert!(!page.contains("GLOBEX-ONLY"));
    assert!(browser.client.find(Locator::Css("figure.chart svg rect")).await.is_ok(), "the hourly chart is drawn");
    browser.screenshot("failed-orders").await;

    // Force it, with a reason.
    browser
        .client
        .find(Locator::Css(&format!("tr[data-order='{failed}'] button")))
        .await
        .expect("Force button")
        .click()
        .await
        .expect("click");
    let reason = browser.client.wait().for_element(Locator::Css(".force-form textarea")).await.expect("reason field");
    reason.send_keys("SKR is how this shop writes SEK").await.expect("type");
    browser.screenshot("force-form").await;
    browser
        .client
        .find(Locator::Css(".force-form button[type=submit]"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    browser
        .until(
            "the forced order to leave the queue",
            &format!("!document.querySelector(\"tr[data-order='{failed}']\")"),
        )
        .await;
    wait_for_state(&tenant, &failed, "sent").await;

    // It is now at the warehouse, with its timeline.
    browser.client.goto(&format!("{}/acme/dashboard#unhandled", server.url)).await.expect("goto");
    browser.until("the unhandled list", &format!("document.querySelector(\"tr[data-order='{failed}']\")")).await;
    browser.screenshot("unhandled-orders").await;
    browser.client.goto(&format!("{}/acme/dashboard#order/{failed}", server.url)).await.expect("goto");
    browser.until("the order's timeline", "document.querySelector('.timeline li')").await;
    let page = browser.text().await;
    for expected in [
        "OrderValidationFailed",
        "OrderValidationOverridden",
        "OrderSentToWarehouse",
        "SKR is how this shop writes SEK",
    ] {
        assert!(page.contains(expected), "{expected} in {page}");
    }
    browser
        .client
        .find(Locator::XPath("//button[contains(., 'Show the order as received')]"))
        .await
        .expect("payload")
        .click()
        .await
        .expect("click");
    browser.until("the raw payload", "document.querySelector('pre')").await;
    browser.screenshot("order-detail").await;

    // Plugins and dead letters.
    browser.client.goto(&format!("{}/acme/dashboard#plugins", server.url)).await.expect("goto");
    browser.until("the plugins", "document.querySelector('tr[data-plugin]')").await;
    let page = browser.text().await;
    assert!(page.contains("shopify-orders") && page.contains("ongoing-wms"), "{page}");
    let row = |plugin: &str| format!("//tr[@data-plugin='{plugin}']");
    let panics = browser.client.find(Locator::XPath(&row("panics"))).await.expect("row").text().await.expect("text");
    assert!(panics.contains("100 % of 1"), "the failed webhook counts as an error: {panics}");
    let wms = browser.client.find(Locator::XPath(&row("ongoing-wms"))).await.expect("row").text().await.expect("text");
    assert!(wms.contains("0 % of 2"), "both dispatches count, neither failed: {wms}");
    // A pull plugin runs from the page, and its run shows with its details;
    // the table is redrawn with the run counted.
    let calls = |row: &str| row.split("% of ").nth(1).and_then(|n| n.split_whitespace().next()?.parse::<u64>().ok());
    let bring = browser.client.find(Locator::XPath(&row("bring-ftp"))).await.expect("row").text().await.expect("text");
    let calls_before = calls(&bring).unwrap_or(0);
    browser
        .client
        .find(Locator::XPath("//tr[@data-plugin='bring-ftp']//button[.='Run now']"))
        .await
        .expect("Run now")
        .click()
        .await
        .expect("click");
    browser.until("the run", "document.querySelector('#plugin-detail table.runs tbody tr')").await;
    let runs =
        browser.client.find(Locator::Css("#plugin-detail table.runs")).await.expect("runs").text().await.expect("text");
    assert!(
        runs.contains("manual") && runs.contains("0 (0)") && !runs.contains("refused"),
        "a clean empty run: {runs}"
    );
    let bring = browser.client.find(Locator::XPath(&row("bring-ftp"))).await.expect("row").text().await.expect("text");
    assert_eq!(calls(&bring), Some(calls_before + 1), "the table shows the run: {bring}");
    browser.screenshot("plugin-runs").await;
    browser.screenshot("plugins").await;
    browser.client.goto(&format!("{}/acme/dashboard#deadletters", server.url)).await.expect("goto");
    // The plugins page also has table rows; wait for the dead letters' own button.
    browser
        .until(
            "the dead letters",
            "[...document.querySelectorAll('#view button')].some((b) => b.textContent === 'Show request')",
        )
        .await;
    browser
        .client
        .find(Locator::XPath("//button[contains(., 'Show request')]"))
        .await
        .expect("show")
        .click()
        .await
        .expect("click");
    browser.until("the request", "document.querySelector('#view pre')").await;
    let request = browser.client.find(Locator::Css("#view pre")).await.expect("request").text().await.expect("text");
    assert!(request.ends_with("{}"), "the partner's body as sent: {request}");
    assert!(browser.text().await.contains("deliberate panic"), "the letter says why the plugin failed");
    browser.screenshot("dead-letters").await;
    browser.close().await;
    drop(globex);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_sees_no_force_button_and_other_tenants_see_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    let mut bad = good_order("NV-9");
    bad.as_object_mut().expect("order").remove("lineItems");
    let failed = post_order(&server, json!({"source": "woo-no", "externalId": "NV-9", "order": bad})).await;
    wait_for_state(&tenant, &failed, "failed").await;
    // A partner's text is shown as text, never run as markup.
    let hostile = "<img src=x onerror=\"document.title='pwned'\">";
    let mut odd = good_order("NV-10");
    odd["currency"] = json!(hostile);
    let odd = post_order(&server, json!({"source": "woo-no", "externalId": hostile, "order": odd})).await;
    wait_for_state(&tenant, &odd, "failed").await;

    let browser = Browser::start().await;
    browser.sign_in(&server.url, "acme", &tenant.admin).await;
    browser.until("the failed queue", "document.querySelectorAll('tr[data-order]').length == 2").await;
    assert!(browser.text().await.contains(hostile), "the hostile text shows literally");
    assert!(
        browser.client.find_all(Locator::Css("#view img")).await.expect("query").is_empty(),
        "no element was injected"
    );
    let title = browser.client.execute("return document.title;", vec![]).await.expect("title");
    assert_eq!(title, json!("Portitor — acme"));
    let buttons = browser.client.find_all(Locator::Css("tr[data-order] button")).await.expect("buttons");
    assert!(buttons.is_empty(), "a tenant-admin sees no Force button");
    browser.screenshot("failed-orders-as-tenant-admin").await;
    // And the server refuses the call anyway, from the page itself.
    let refused = browser
        .client
        .execute_async(
            &format!(
                "const done = arguments[arguments.length - 1];
                 fetch('/acme/order/{failed}/force', {{method: 'POST', headers: {{Authorization: 'Bearer ' + sessionStorage.getItem('portitor-token'), 'Content-Type': 'application/json'}}, body: JSON.stringify({{reason: 'try'}})}}).then(r => done(r.status));"
            ),
            vec![],
        )
        .await
        .expect("fetch");
    assert_eq!(refused, json!(403));

    // Another tenant's token shows none of acme's orders.
    browser.client.find(Locator::Css("#sign-out")).await.expect("sign out").click().await.expect("click");
    let globex = Portitor::token("globex", &["tenant-admin", "platform-operator"]);
    browser.sign_in(&server.url, "acme", &globex).await;
    browser.until("the refusal", "document.querySelector('#status').textContent.length > 0").await;
    let page = browser.text().await;
    assert!(page.contains("globex"), "the page says whose token it is: {page}");
    assert!(!page.contains("NV-9"), "another tenant's order is visible: {page}");
    // Even if the page tried, the server answers 403.
    let status = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/acme/orders?state=failed', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('portitor-token')}}).then(r => done(r.status));",
            vec![],
        )
        .await
        .expect("fetch");
    assert_eq!(status, json!(403));
    browser.screenshot("other-tenant").await;

    // A token the server refuses: back to the sign-in form, which says why.
    browser.client.find(Locator::Css("#sign-out")).await.expect("sign out").click().await.expect("click");
    browser.sign_in(&server.url, "acme", "not-a-token").await;
    browser
        .until(
            "the sign-in form again",
            "!document.querySelector('#login').hidden && document.querySelector('#status').textContent.length > 0",
        )
        .await;
    let said = browser.client.find(Locator::Css("#status")).await.expect("status").text().await.expect("text");
    assert!(said.contains("token was refused") && !said.contains("Could not load"), "{said}");
    browser.close().await;
}

/// 10,000 failed orders, written into the store's layout before the server
/// starts and indexed by `portitor reindex`; the time to the first page of
/// the failed queue is measured in the browser (from navigation start) and
/// printed for BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_queue_of_10000_orders_renders_its_first_page() {
    let data = tempfile::tempdir().expect("tempdir");
    let now = chrono::Utc::now();
    for n in 0..10_000 {
        let id = portitor::orders::order_id("big", "woo-no", &n.to_string()).to_string();
        for (version, event_type, payload) in [
            (
                1,
                "OrderReceived",
                json!({"source": "woo-no", "externalId": format!("BIG-{n}"), "order": good_order(&format!("BIG-{n}"))}),
            ),
            (
                2,
                "OrderValidationFailed",
                json!({"mode": "strict", "modeSource": "platform", "findings": [{"field": "currency", "value": "SKR", "severity": "error", "message": "`SKR` is not an ISO 4217 currency code"}]}),
            ),
        ] {
            let event = json!({
                "id": uuid::Uuid::new_v4(), "type": event_type, "aggregateType": "orders", "aggregateId": id,
                "version": version, "company": "big", "occurredAt": now - chrono::Duration::seconds(n),
                "actor": {"kind": "system", "id": "test"}, "data": payload,
            });
            let path = data.path().join(portitor::events::keys::event_key("big", "orders", &id, version, event_type));
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, event.to_string()).expect("write");
        }
    }
    let reindexed = std::process::Command::new(support::server::binary())
        .args(["reindex", "--data-dir"])
        .arg(data.path())
        .output()
        .expect("portitor reindex");
    let said = String::from_utf8_lossy(&reindexed.stdout);
    assert!(reindexed.status.success() && said.contains("reindexed 10000 orders of 1 tenant(s)"), "{said}");
    let server = Portitor::start(data.path());
    let admin = Portitor::token("big", &["tenant-admin"]);
    let browser = Browser::start().await;
    browser.sign_in(&server.url, "big", &admin).await;
    browser.until("the failed queue", "document.querySelector('tr[data-order]')").await;
    assert!(browser.text().await.contains("of 10000"), "the whole queue is counted");
    // A fresh load with the token in the tab: navigation start → first page drawn.
    browser.client.refresh().await.expect("reload");
    browser.until("the failed queue", "performance.getEntriesByName('failed-queue-rendered').length > 0").await;
    let ms = browser
        .client
        .execute("return performance.getEntriesByName('failed-queue-rendered')[0].startTime;", vec![])
        .await
        .expect("measure");
    let ms: f64 = ms.as_f64().expect("a number");
    let rows = browser.client.find_all(Locator::Css("tr[data-order]")).await.expect("rows").len();
    assert_eq!(rows, 50, "one page of 50");
    println!(
        "DASHBOARD-MEASUREMENT failed queue of 10000 orders: first page rendered {ms:.0} ms after navigation start"
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/screenshots");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("measurement.txt"), format!("{ms:.0} ms\n")).expect("write");
    browser.screenshot("failed-orders-10000").await;
    browser.close().await;
}

/// From a plugin's page an operator replays a stored version over the
/// recordings and runs it in shadow, and sees the report and the shadow's
/// counts; a dead letter is replayed from its row. The candidate is a
/// version that panics: its replay fails on every recording, and so does
/// its shadow on a live copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_page_shows_its_shadow_and_last_replay_and_dead_letters_replay_from_their_row() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Portitor::start(data.path());
    let tenant = Tenant::new(&server, "acme");
    let unsigned = "kind = \"push-source\"\nwebhook = { scheme = \"none\" }\n";
    tenant.install("shopify-orders", "shopify-orders", unsigned).await;
    let order = include_str!("fixtures/shopify-orders-create.json");
    let webhook = |body: &'static str| {
        Portitor::client().post(format!("{}/acme/webhooks/shopify/orders", server.url)).body(body).send()
    };
    for _ in 0..3 {
        assert!(webhook(order).await.expect("webhook").status().is_success());
    }
    // The panicking version, uploaded beside the active one.
    let form = reqwest::multipart::Form::new().text("manifest", unsigned.to_string()).part(
        "component",
        reqwest::multipart::Part::bytes(support::plugin_bytes("test-panic")).file_name("component.wasm"),
    );
    let uploaded: serde_json::Value = Portitor::client()
        .put(format!("{}/acme/plugins/shopify-orders?activate=false", server.url))
        .bearer_auth(&tenant.admin)
        .multipart(form)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("JSON");
    let candidate = uploaded["version"].as_str().expect("version").to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(data.path().join("acme/recordings/shopify-orders")).map_or(0, Iterator::count) < 3 {
        assert!(Instant::now() < deadline, "the webhooks were not recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A dead letter, from a plugin that panics on every request.
    tenant.install("panics", "test-panic", unsigned).await;
    let _ = Portitor::client().post(format!("{}/acme/test/panic", server.url)).body("{}").send().await;

    let browser = Browser::start().await;
    browser.sign_in(&server.url, "acme", &tenant.admin).await;
    browser.client.goto(&format!("{}/acme/dashboard#plugins", server.url)).await.expect("goto");
    browser.until("the plugins", "document.querySelector(\"tr[data-plugin='shopify-orders'] button\")").await;
    let open_detail = async || {
        let logs = "//tr[@data-plugin='shopify-orders']//button[.='Logs']";
        browser.client.find(Locator::XPath(logs)).await.expect("Logs").click().await.expect("click");
        browser.until("the plugin's versions", "document.querySelector('#plugin-detail .versions')").await;
    };
    let click_for_candidate = async |label: &str| {
        let button = format!("//tr[@data-version='{candidate}']//button[.='{label}']");
        browser.client.find(Locator::XPath(&button)).await.expect(label).click().await.expect("click");
    };
    // Replay the candidate from its row: the report shows, every recording failed, each saying why.
    open_detail().await;
    click_for_candidate("Replay").await;
    browser.until("the replay report", "document.querySelector('#plugin-detail .replay')").await;
    let detail = browser.client.find(Locator::Css("#plugin-detail")).await.expect("detail").text().await.expect("text");
    assert!(
        detail.contains("over 3 recorded invocation(s)") && detail.contains("0 equal · 0 different · 3 failed"),
        "{detail}"
    );
    assert!(detail.contains("trapped"), "each failure says why: {detail}");
    // Run it in shadow from its row; a live webhook is copied to it after its answer.
    click_for_candidate("Shadow").await;
    browser.until("the shadow", "document.querySelector('#plugin-detail .shadow')").await;
    assert!(webhook(order).await.expect("webhook").status().is_success(), "the live answer is the active version's");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        open_detail().await;
        let detail =
            browser.client.find(Locator::Css("#plugin-detail")).await.expect("detail").text().await.expect("text");
        if detail.contains("1 failed · 0 skipped") || Instant::now() > deadline {
            assert!(detail.contains("0 equal · 0 different · 1 failed · 0 skipped, on this node"), "{detail}");
            assert!(detail.contains("Stop shadow"), "{detail}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.screenshot("plugin-replay-and-shadow").await;
    let audit = tenant.get("/acme/audit").await.to_string();
    assert!(audit.contains("PluginReplayed") && audit.contains("ShadowSet"), "{audit}");
    let replayed = tenant.get("/acme/plugins/shopify-orders/replay").await;
    assert_eq!(replayed["version"], candidate.as_str(), "the report is the candidate's");

    browser.client.goto(&format!("{}/acme/dashboard#deadletters", server.url)).await.expect("goto");
    browser
        .until(
            "the dead letters",
            "[...document.querySelectorAll('#view button')].some((b) => b.textContent === 'Replay')",
        )
        .await;
    browser.client.find(Locator::XPath("//button[.='Replay']")).await.expect("Replay").click().await.expect("click");
    browser
        .until("the replay's outcome", "document.querySelector('#status').textContent.includes('failed again')")
        .await;
    let status = browser.client.find(Locator::Css("#status")).await.expect("status").text().await.expect("text");
    assert!(status.contains("trapped"), "the replay went through the active version, which panics again: {status}");
    assert!(tenant.get("/acme/audit").await.to_string().contains("DeadLetterReplayed"), "the replay is audited");
    browser.close().await;
}
