//! Tenant set-up over the real API: secrets and plugin installs.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::server::Portitor;

/// A tenant on a running server, with an admin token.
pub struct Tenant<'a> {
    pub server: &'a Portitor,
    pub company: String,
    pub admin: String,
}

impl<'a> Tenant<'a> {
    pub fn new(server: &'a Portitor, company: &str) -> Self {
        Self { server, company: company.to_string(), admin: Portitor::token(company, &["tenant-admin"]) }
    }

    /// GETs `path` (from the server's root, e.g. `/acme/orders`) with the
    /// admin token; the JSON body.
    pub async fn get(&self, path: &str) -> Value {
        Portitor::client()
            .get(format!("{}{path}", self.server.url))
            .bearer_auth(&self.admin)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}"))
    }

    pub async fn secret(&self, name: &str, value: &str) {
        let response = Portitor::client()
            .put(format!("{}/{}/secrets/{name}", self.server.url, self.company))
            .bearer_auth(&self.admin)
            .json(&json!({ "value": value }))
            .send()
            .await
            .expect("put secret");
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{:?}", response.text().await);
    }

    /// Uploads `plugin` (built by build.rs) as `id` with `manifest`; the response.
    pub async fn try_install(&self, id: &str, plugin: &str, manifest: &str) -> (StatusCode, Value) {
        self.try_install_bytes(id, super::plugin_bytes(plugin), manifest).await
    }

    /// Uploads `component` as `id` with `manifest`; the response.
    pub async fn try_install_bytes(&self, id: &str, component: Vec<u8>, manifest: &str) -> (StatusCode, Value) {
        let form = reqwest::multipart::Form::new()
            .text("manifest", manifest.to_string())
            .part("component", reqwest::multipart::Part::bytes(component).file_name("component.wasm"));
        let response = Portitor::client()
            .put(format!("{}/{}/plugins/{id}", self.server.url, self.company))
            .bearer_auth(&self.admin)
            .multipart(form)
            .send()
            .await
            .expect("install");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn install(&self, id: &str, plugin: &str, manifest: &str) -> Value {
        let (status, body) = self.try_install(id, plugin, manifest).await;
        assert_eq!(status, StatusCode::CREATED, "install {id}: {body}");
        body
    }

    /// `POST …/run`: runs a pull plugin now; the run record.
    pub async fn run(&self, id: &str) -> Value {
        let response = Portitor::client()
            .post(format!("{}/{}/plugins/{id}/run", self.server.url, self.company))
            .bearer_auth(&self.admin)
            .send()
            .await
            .expect("run");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("run record")
    }
}
