//! The Cloud Run Admin API v1 (Knative) surface: reads, creates, replaces with optimistic
//! concurrency, readiness after polls, and revisions failing on unusable secrets.

mod common;

use common::{NUMBER, PROJECT, call, fake, fake_with, get};
use serde_json::{Value, json};

const SERVICES: &str = "/apis/serving.knative.dev/v1/namespaces/proj/services";

/// The account the seeded `api-key` grants access to.
const RUNTIME: &str = "run@proj.iam.gserviceaccount.com";

/// A service running as [`RUNTIME`].
fn service(name: &str, env: Value) -> Value {
    json!({
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": { "name": name },
        "spec": { "template": { "spec": {
            "serviceAccountName": RUNTIME,
            "containers": [{ "image": "us-docker.pkg.dev/proj/app/web:1", "env": env }]
        }}}
    })
}

fn secret_env(name: &str, secret: &str, key: &str) -> Value {
    json!({ "name": name, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
}

/// The `Ready` condition's status, reason and message.
fn ready(service: &Value) -> (String, String, String) {
    let conditions = service["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let c = conditions.iter().find(|c| c["type"] == "Ready").cloned().unwrap_or_default();
    let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    (text("status"), text("reason"), text("message"))
}

#[test]
fn a_missing_service_is_404_with_cloud_runs_message() {
    let fake = fake();
    let (status, error) = get(&fake, &format!("{SERVICES}/web"));
    assert_eq!(status, 404);
    assert_eq!(error["error"]["status"], "NOT_FOUND");
    assert_eq!(
        error["error"]["message"],
        "Resource 'web' of kind 'SERVICE' in region 'us-central1' in project 'proj' does not exist."
    );
}

#[test]
fn a_created_service_becomes_ready_after_the_pending_gets() {
    let fake = fake();
    let (status, created) = call(&fake, "POST", SERVICES, Some(&service("web", json!([]))));
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(created["metadata"]["namespace"], NUMBER);
    let revision = created["status"]["latestCreatedRevisionName"].as_str().unwrap().to_string();
    assert!(revision.starts_with("web-00001-") && revision.len() == "web-00001-abc".len());
    assert_eq!(ready(&created).0, "Unknown");
    let polls: Vec<String> =
        (0..3).map(|_| ready(&get(&fake, &format!("{SERVICES}/web")).1).0).collect();
    assert_eq!(polls, ["Unknown", "Unknown", "True"]);
    let (_, done) = get(&fake, &format!("{SERVICES}/web"));
    assert_eq!(done["status"]["latestReadyRevisionName"], revision.as_str());
    let url = done["status"]["url"].as_str().unwrap();
    assert!(url.starts_with("https://web-") && url.ends_with("-uc.a.run.app"), "{url}");
    assert_eq!(done["status"]["traffic"][0]["revisionName"], revision.as_str());
    let (status, conflict) = call(&fake, "POST", SERVICES, Some(&service("web", json!([]))));
    assert_eq!((status, &conflict["error"]["status"]), (409, &json!("ALREADY_EXISTS")));
}

#[test]
fn a_replace_with_a_stale_resource_version_is_a_conflict() {
    let fake = fake_with(|c| c.pending_gets = 0);
    let (_, created) = call(&fake, "POST", SERVICES, Some(&service("web", json!([]))));
    let stale = created["metadata"]["resourceVersion"].clone();
    let mut update = service("web", json!([{ "name": "MODE", "value": "b" }]));
    update["metadata"]["resourceVersion"] = stale.clone();
    let (status, replaced) = call(&fake, "PUT", &format!("{SERVICES}/web"), Some(&update));
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["metadata"]["generation"], 2);
    assert_ne!(replaced["metadata"]["resourceVersion"], stale);
    assert_eq!(replaced["metadata"]["uid"], created["metadata"]["uid"]);
    let (status, conflict) = call(&fake, "PUT", &format!("{SERVICES}/web"), Some(&update));
    assert_eq!((status, &conflict["error"]["status"]), (409, &json!("ABORTED")));
    let (status, _) =
        call(&fake, "PUT", &format!("{SERVICES}/other"), Some(&service("other", json!([]))));
    assert_eq!(status, 404);
}

#[test]
fn a_missing_secret_fails_the_revision_and_traffic_stays() {
    let fake = fake_with(|c| c.pending_gets = 1);
    fake.set_service(PROJECT, service("web", json!([]))).unwrap();
    let before = fake.service(PROJECT, "web").unwrap();
    let old = before["status"]["latestReadyRevisionName"].as_str().unwrap().to_string();
    let env = json!([{ "name": "A", "value": "x" }, secret_env("TOKEN", "nope", "latest")]);
    let (status, _) = call(&fake, "PUT", &format!("{SERVICES}/web"), Some(&service("web", env)));
    assert_eq!(status, 200);
    assert_eq!(ready(&get(&fake, &format!("{SERVICES}/web")).1).0, "Unknown");
    let (_, failed) = get(&fake, &format!("{SERVICES}/web"));
    let (state, reason, message) = ready(&failed);
    assert_eq!((state.as_str(), reason.as_str()), ("False", "RevisionFailed"));
    let revision = failed["status"]["latestCreatedRevisionName"].as_str().unwrap();
    assert_eq!(
        message,
        format!(
            "Revision '{revision}' is not ready and cannot serve traffic. \
             spec.template.spec.containers[0].env[1].value_from.secret_key_ref.name: \
             Secret projects/{NUMBER}/secrets/nope/versions/latest was not found"
        )
    );
    assert_eq!(failed["status"]["latestReadyRevisionName"], old.as_str());
    assert_eq!(failed["status"]["traffic"][0]["revisionName"], old.as_str());
}

#[test]
fn disabled_versions_and_aliased_secrets_are_checked() {
    let fake = fake_with(|c| c.pending_gets = 0);
    let deploy = |name: &str, body: Value| {
        let (status, created) = call(&fake, "POST", SERVICES, Some(&body));
        assert_eq!(status, 200, "{created}");
        ready(&get(&fake, &format!("{SERVICES}/{name}")).1)
    };
    let pinned = service("pinned", json!([secret_env("K", "api-key", "2")]));
    assert!(deploy("pinned", pinned).2.ends_with("api-key/versions/2 is in DISABLED state"));
    let retired = service("retired", json!([secret_env("K", "retired", "latest")]));
    assert!(deploy("retired", retired).2.ends_with("retired/versions/latest is in DISABLED state"));
    let mut aliased = service("aliased", json!([]));
    aliased["spec"]["template"]["metadata"] = json!({ "annotations": {
        "run.googleapis.com/secrets": format!("creds:projects/{NUMBER}/secrets/api-key") } });
    aliased["spec"]["template"]["spec"]["volumes"] = json!([{ "name": "v",
        "secret": { "secretName": "creds", "items": [{ "key": "3", "path": "k" }] } }]);
    assert_eq!(deploy("aliased", aliased).0, "True");
}

/// A revision whose account the secret's own policy does not let read it fails as Cloud Run
/// fails it; a secret without a policy of its own counts as granted on the project.
#[test]
fn a_secret_the_runtime_account_cannot_read_stops_the_revision() {
    let fake = fake_with(|c| c.pending_gets = 0);
    let deploy = |name: &str, body: Value| {
        let (status, created) = call(&fake, "POST", SERVICES, Some(&body));
        assert_eq!(status, 200, "{created}");
        ready(&get(&fake, &format!("{SERVICES}/{name}")).1)
    };
    let mut other = service("other", json!([secret_env("K", "api-key", "3")]));
    other["spec"]["template"]["spec"]["serviceAccountName"] =
        json!("web@proj.iam.gserviceaccount.com");
    let (state, _, message) = deploy("other", other);
    assert_eq!(state, "False");
    assert!(
        message.ends_with(&format!(
            "env[0].value_from.secret_key_ref.name: Permission denied on secret: \
             projects/{NUMBER}/secrets/api-key/versions/3 for Revision service account \
             web@proj.iam.gserviceaccount.com. The service account used must be granted the \
             'Secret Manager Secret Accessor' role (roles/secretmanager.secretAccessor) at the \
             secret, project or higher level."
        )),
        "{message}"
    );
    let mut default = service("default", json!([secret_env("K", "api-key", "3")]));
    default["spec"]["template"]["spec"].as_object_mut().unwrap().remove("serviceAccountName");
    let (state, _, message) = deploy("default", default);
    assert_eq!(state, "False");
    assert!(message.contains(&format!("account {NUMBER}-compute@developer.gserviceaccount.com")));
    let mut unguarded = service("unguarded", json!([secret_env("K", "db-password", "1")]));
    unguarded["spec"]["template"]["spec"]["serviceAccountName"] =
        json!("web@proj.iam.gserviceaccount.com");
    assert_eq!(deploy("unguarded", unguarded).0, "True");
    assert_eq!(
        deploy("granted", service("granted", json!([secret_env("K", "api-key", "3")]))).0,
        "True"
    );
}

#[test]
fn dry_runs_validate_without_persisting() {
    let fake = fake_with(|c| c.pending_gets = 0);
    let bad = service("web", json!([secret_env("K", "nope", "1")]));
    let (status, error) = call(&fake, "POST", &format!("{SERVICES}?dryRun=all"), Some(&bad));
    assert_eq!(status, 400);
    assert!(error["error"]["message"].as_str().unwrap().contains("nope/versions/1 was not found"));
    let good = service("web", json!([secret_env("K", "api-key", "latest")]));
    let (status, _) = call(&fake, "POST", &format!("{SERVICES}?dryRun=all"), Some(&good));
    assert_eq!(status, 200);
    assert_eq!(get(&fake, &format!("{SERVICES}/web")).0, 404, "a dry run stores nothing");
    let mut no_image = good.clone();
    no_image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
    let (status, error) = call(&fake, "POST", SERVICES, Some(&no_image));
    assert_eq!(status, 400);
    assert_eq!(error["error"]["message"], "spec.template.spec.containers[0].image: Required");
}

#[test]
fn services_are_listed_by_namespace_id_or_number() {
    let fake = fake();
    fake.set_service(PROJECT, service("web", json!([]))).unwrap();
    let (_, by_number) =
        get(&fake, &format!("/apis/serving.knative.dev/v1/namespaces/{NUMBER}/services"));
    assert_eq!(by_number["kind"], "ServiceList");
    assert_eq!(by_number["items"][0]["metadata"]["name"], "web");
    assert_eq!(ready(&by_number["items"][0]).0, "True");
}
