//! Fixtures shared by the integration tests: a small snapshot and blocking HTTP helpers.
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use fake_google::{FakeConfig, FakeGoogle};
use serde_json::{Value, json};
use std::time::Duration;

/// The seeded project's id and number.
pub const PROJECT: &str = "proj";
pub const NUMBER: &str = "123456";

/// `proj` (number 123456) with four secrets:
/// - `api-key`: versions 3 ENABLED, 2 DISABLED, 1 DESTROYED; alias `stable` → 3; a policy.
/// - `db-password`: version 1 ENABLED (state written as a number, as the Rust client does).
/// - `retired`: version 1 DISABLED only.
/// - `no-versions`: none listed.
pub fn snapshot() -> Value {
    let version = |secret: &str, n: u32, state: Value| {
        json!({
            "name": format!("projects/{NUMBER}/secrets/{secret}/versions/{n}"),
            "createTime": format!("2026-0{n}-01T00:00:00Z"),
            "state": state,
            "replicationStatus": { "automatic": {} },
        })
    };
    let secret = |id: &str| {
        json!({ "name": format!("projects/{NUMBER}/secrets/{id}"),
                "replication": { "automatic": {} }, "createTime": "2026-01-01T00:00:00Z" })
    };
    let mut api_key = secret("api-key");
    api_key["versionAliases"] = json!({ "stable": "3" });
    json!({
        "snapshotVersion": 1,
        "capturedAt": "2026-06-01T00:00:00Z",
        "projects": { PROJECT: { "secrets": [
            { "secret": api_key,
              "versions": [version("api-key", 1, "DESTROYED".into()),
                           version("api-key", 3, "ENABLED".into()),
                           version("api-key", 2, "DISABLED".into())],
              "iamPolicy": { "version": 1, "etag": "BwYV1s0kq3A=", "bindings": [
                  { "role": "roles/secretmanager.secretAccessor",
                    "members": ["serviceAccount:run@proj.iam.gserviceaccount.com"] }] } },
            { "secret": secret("db-password"), "versions": [version("db-password", 1, 1.into())],
              "iamPolicy": null },
            { "secret": secret("retired"), "versions": [version("retired", 1, "DISABLED".into())] },
            { "secret": secret("no-versions") },
        ]}}
    })
}

/// A fake on its own thread, seeded with [`snapshot`] and otherwise configured by `tweak`.
pub fn fake_with(tweak: impl FnOnce(&mut FakeConfig)) -> FakeGoogle {
    let mut config = FakeConfig { snapshot: Some(snapshot()), ..FakeConfig::default() };
    tweak(&mut config);
    FakeGoogle::spawn(config).expect("the fake starts")
}

pub fn fake() -> FakeGoogle {
    fake_with(|_| {})
}

/// A blocking HTTP client. reqwest is built with rustls but no crypto provider (the Google
/// crates ask for that), so one is installed first, even though the fake is plain HTTP.
pub fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// Sends a request; returns the status and the JSON body (`Null` when the body is not JSON).
pub fn call(fake: &FakeGoogle, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = client().request(method, format!("{}{path}", fake.url()));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().expect("the fake answers");
    let status = response.status().as_u16();
    let text = response.text().expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn get(fake: &FakeGoogle, path: &str) -> (u16, Value) {
    call(fake, "GET", path, None)
}
