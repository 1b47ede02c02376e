//! The Secret Manager surface over plain HTTP: paging, enum encodings, errors, IAM policies,
//! payload access refusal, tokens, and fault injection.

mod common;

use common::{NUMBER, PROJECT, call, client, fake, fake_with, get};
use fake_google::{Fault, Route, Target};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn names(list: &Value, key: &str) -> Vec<String> {
    let items = list[key].as_array().cloned().unwrap_or_default();
    items.iter().map(|i| i["name"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn list_secrets_pages_with_next_page_token() {
    let fake = fake();
    let base = format!("/v1/projects/{PROJECT}/secrets?pageSize=3");
    let (status, first) = get(&fake, &base);
    assert_eq!(status, 200);
    assert_eq!(names(&first, "secrets").len(), 3);
    assert_eq!(first["totalSize"], 4);
    let token = first["nextPageToken"].as_str().expect("a next page");
    let (_, second) = get(&fake, &format!("{base}&pageToken={token}"));
    assert_eq!(names(&second, "secrets"), [format!("projects/{NUMBER}/secrets/no-versions")]);
    assert!(second.get("nextPageToken").is_none(), "last page has no token: {second}");
}

#[test]
fn page_size_cap_forces_paging_and_foreign_tokens_are_rejected() {
    let fake = fake_with(|c| c.page_size_cap = 1);
    let (_, page) = get(&fake, &format!("/v1/projects/{PROJECT}/secrets?pageSize=25000"));
    assert_eq!(names(&page, "secrets").len(), 1);
    let token = page["nextPageToken"].as_str().unwrap();
    let other = format!("/v1/projects/{PROJECT}/secrets/api-key/versions?pageToken={token}");
    let (status, error) = get(&fake, &other);
    assert_eq!((status, error["error"]["status"].as_str()), (400, Some("INVALID_ARGUMENT")));
}

#[test]
fn projects_are_reachable_by_id_and_number() {
    let fake = fake();
    let (_, by_id) = get(&fake, &format!("/v1/projects/{PROJECT}/secrets"));
    let (_, by_number) = get(&fake, &format!("/v1/projects/{NUMBER}/secrets"));
    assert_eq!(by_id, by_number);
    assert_eq!(names(&by_id, "secrets").len(), 4);
}

#[test]
fn version_states_are_names_by_default_and_numbers_on_request() {
    let fake = fake();
    let path = format!("/v1/projects/{PROJECT}/secrets/api-key/versions");
    let (_, named) = get(&fake, &path);
    let states: Vec<&Value> =
        named["versions"].as_array().unwrap().iter().map(|v| &v["state"]).collect();
    assert_eq!(states, [&json!("ENABLED"), &json!("DISABLED"), &json!("DESTROYED")]);
    let (_, numbered) = get(&fake, &format!("{path}?%24alt=json%3Benum-encoding%3Dint"));
    let states: Vec<&Value> =
        numbered["versions"].as_array().unwrap().iter().map(|v| &v["state"]).collect();
    assert_eq!(states, [&json!(1), &json!(2), &json!(3)]);
    let (_, db) = get(&fake, &format!("/v1/projects/{PROJECT}/secrets/db-password/versions/1"));
    assert_eq!(db["state"], "ENABLED", "numeric snapshot states are served as names");
}

#[test]
fn versions_resolve_latest_numbers_and_aliases_and_filter() {
    let fake = fake();
    let base = format!("/v1/projects/{PROJECT}/secrets/api-key/versions");
    for (wanted, name) in [("latest", "3"), ("2", "2"), ("stable", "3")] {
        let (status, v) = get(&fake, &format!("{base}/{wanted}"));
        assert_eq!(status, 200);
        assert!(v["name"].as_str().unwrap().ends_with(&format!("/versions/{name}")));
    }
    let (_, enabled) = get(&fake, &format!("{base}?filter=state%3AENABLED"));
    assert_eq!(names(&enabled, "versions").len(), 1);
    let (status, missing) = get(&fake, &format!("{base}/9"));
    assert_eq!(status, 404);
    let message = missing["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!("Secret Version [projects/{NUMBER}/secrets/api-key/versions/9] not found.")
    );
}

#[test]
fn errors_use_googles_envelope() {
    let fake = fake();
    let (status, denied) = get(&fake, "/v1/projects/elsewhere/secrets");
    assert_eq!(status, 403);
    assert_eq!(denied["error"]["code"], 403);
    assert_eq!(denied["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(
        denied["error"]["message"],
        "Permission 'secretmanager.secrets.list' denied for resource 'projects/elsewhere' \
         (or it may not exist)."
    );
    let (status, missing) = get(&fake, &format!("/v1/projects/{PROJECT}/secrets/nope"));
    assert_eq!((status, &missing["error"]["status"]), (404, &json!("NOT_FOUND")));
    assert_eq!(
        missing["error"]["message"],
        format!("Secret [projects/{NUMBER}/secrets/nope] not found or has no versions.")
    );
    let (status, _) = get(&fake, &format!("/v1/projects/{PROJECT}/secrets/nope/versions"));
    assert_eq!(status, 404);
}

#[test]
fn iam_policy_by_get_or_post_and_empty_policy_etag() {
    let fake = fake();
    let path = format!("/v1/projects/{PROJECT}/secrets/api-key:getIamPolicy");
    let (status, policy) = get(&fake, &path);
    assert_eq!(status, 200);
    assert_eq!(policy["bindings"][0]["role"], "roles/secretmanager.secretAccessor");
    let (_, posted) = call(&fake, "POST", &path, Some(&json!({})));
    assert_eq!(posted, policy);
    let (_, empty) =
        get(&fake, &format!("/v1/projects/{PROJECT}/secrets/db-password:getIamPolicy"));
    assert_eq!(empty, json!({ "etag": "ACAB" }));
}

#[test]
fn payload_access_is_refused_and_recorded() {
    let fake = fake();
    assert!(fake.accesses().is_empty());
    let path = format!("/v1/projects/{PROJECT}/secrets/api-key/versions/latest:access");
    let (status, error) = get(&fake, &path);
    assert_eq!((status, &error["error"]["status"]), (403, &json!("PERMISSION_DENIED")));
    assert_eq!(fake.accesses(), [path]);
    let (_, log) = get(&fake, "/_fake/requests");
    assert_eq!(log[0]["route"], "access-version");
    assert_eq!(log[0]["status"], 403);
}

#[test]
fn injected_503s_come_first_then_the_real_answer() {
    let fake = fake();
    fake.inject(Route::ListSecrets, vec![Fault::Status(503), Fault::Status(503)]);
    let path = format!("/v1/projects/{PROJECT}/secrets");
    let statuses: Vec<u16> = (0..3).map(|_| get(&fake, &path).0).collect();
    assert_eq!(statuses, [503, 503, 200]);
    let (_, body) = {
        fake.inject(Route::ListSecrets, vec![Fault::Status(429)]);
        get(&fake, &path)
    };
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    let logged: Vec<Option<u16>> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(logged, [Some(503), Some(503), Some(200), Some(429)]);
}

#[test]
fn prefix_faults_malformed_bodies_and_sticky_faults() {
    let fake = fake();
    fake.inject(
        Target::Prefix(format!("/v1/projects/{PROJECT}/secrets/api-key")),
        vec![Fault::Malformed],
    );
    let url = format!("{}/v1/projects/{PROJECT}/secrets/api-key", fake.url());
    let response = client().get(&url).send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(serde_json::from_str::<Value>(&response.text().unwrap()).is_err());
    fake.inject_spec("get-secret=500*").unwrap();
    for _ in 0..3 {
        assert_eq!(get(&fake, &format!("/v1/projects/{PROJECT}/secrets/api-key")).0, 500);
    }
    fake.clear_faults();
    assert_eq!(get(&fake, &format!("/v1/projects/{PROJECT}/secrets/api-key")).0, 200);
}

#[test]
fn hang_never_answers_and_shutdown_releases_it() {
    let fake = fake();
    fake.inject(Route::GetSecret, vec![Fault::Hang]);
    let url = format!("{}/v1/projects/{PROJECT}/secrets/api-key", fake.url());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let quick = reqwest::blocking::Client::builder().timeout(Duration::from_millis(300)).build();
    let error = quick.unwrap().get(&url).send().expect_err("no answer");
    assert!(error.is_timeout(), "{error}");
    let started = Instant::now();
    drop(fake);
    assert!(started.elapsed() < Duration::from_secs(5), "drop must not wait for hung requests");
}

#[test]
fn latency_delays_every_answer() {
    let fake = fake_with(|c| c.latency = Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(get(&fake, &format!("/v1/projects/{PROJECT}/secrets")).0, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[test]
fn token_endpoint_issues_tokens_and_the_log_shows_their_use() {
    let fake = fake_with(|c| c.require_token = true);
    let path = format!("/v1/projects/{PROJECT}/secrets");
    assert_eq!(get(&fake, &path).0, 401);
    let form = [("grant_type", "refresh_token"), ("refresh_token", "r"), ("client_id", "c")];
    let token: Value =
        client().post(format!("{}/token", fake.url())).form(&form).send().unwrap().json().unwrap();
    assert_eq!(token["access_token"], "fake-token-1");
    assert_eq!(token["token_type"], "Bearer");
    let url = format!("{}{path}", fake.url());
    let listed = client().get(url).bearer_auth("fake-token-1").send().unwrap();
    assert_eq!(listed.status().as_u16(), 200);
    let last = fake.requests().pop().unwrap();
    assert_eq!(last.authorization.as_deref(), Some("Bearer fake-token-1"));
    assert_eq!(fake.tokens(), ["fake-token-1"]);
}

#[test]
fn control_endpoints_reset_the_log_and_take_fault_specs() {
    let fake = fake();
    get(&fake, &format!("/v1/projects/{PROJECT}/secrets"));
    let (status, _) = call(&fake, "POST", "/_fake/reset", None);
    assert_eq!(status, 200);
    assert!(fake.requests().is_empty());
    let url = format!("{}/_fake/faults", fake.url());
    let refused = client().post(&url).body("list-secrets=teapot").send().unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let added = client().post(&url).body("list-secrets=504").send().unwrap();
    assert_eq!(added.status().as_u16(), 200);
    assert_eq!(get(&fake, &format!("/v1/projects/{PROJECT}/secrets")).0, 504);
}

#[test]
fn secrets_can_be_changed_while_running() {
    let fake = fake();
    let entry = json!({ "secret": { "name": format!("projects/{NUMBER}/secrets/new") },
                        "versions": [{ "name": format!("projects/{NUMBER}/secrets/new/versions/1"),
                                       "state": "ENABLED" }] });
    fake.set_secret(PROJECT, entry).unwrap();
    assert_eq!(get(&fake, &format!("/v1/projects/{PROJECT}/secrets/new")).0, 200);
    assert!(fake.remove_secret(PROJECT, "new"));
    assert_eq!(get(&fake, &format!("/v1/projects/{PROJECT}/secrets/new")).0, 404);
}
