//! Fidelity against the official Rust client (`google-cloud-secretmanager-v1`), the one
//! secretgate uses: its requests (int enums, paging, `:getIamPolicy`) must decode, its errors
//! must parse into statuses, and `authorized_user` credentials must get their token here.

mod common;

use common::{NUMBER, PROJECT, snapshot};
use fake_google::{FakeConfig, FakeGoogle};
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_secretmanager_v1::model::secret_version::State;

async fn start(config: FakeConfig) -> FakeGoogle {
    let config = FakeConfig { snapshot: Some(snapshot()), ..config };
    FakeGoogle::start(config).await.expect("the fake starts")
}

async fn client(
    fake: &FakeGoogle,
    credentials: google_cloud_auth::credentials::Credentials,
) -> SecretManagerService {
    let _ = rustls::crypto::ring::default_provider().install_default();
    SecretManagerService::builder()
        .with_endpoint(fake.url())
        .with_credentials(credentials)
        .with_retry_policy(NeverRetry)
        .build()
        .await
        .expect("a client")
}

fn anonymous() -> google_cloud_auth::credentials::Credentials {
    google_cloud_auth::credentials::anonymous::Builder::new().build()
}

#[tokio::test]
async fn pages_versions_and_policies_decode() {
    let fake = start(FakeConfig { page_size_cap: 3, ..FakeConfig::default() }).await;
    let client = client(&fake, anonymous()).await;
    let parent = format!("projects/{PROJECT}");
    let first = client.list_secrets().set_parent(&parent).set_page_size(25_000).send().await;
    let first = first.expect("first page");
    assert_eq!((first.secrets.len(), first.total_size), (3, 4));
    let second = client
        .list_secrets()
        .set_parent(&parent)
        .set_page_token(&first.next_page_token)
        .send()
        .await
        .expect("second page");
    assert_eq!(second.secrets.len(), 1);
    assert!(second.next_page_token.is_empty());
    let name = format!("projects/{NUMBER}/secrets/api-key");
    let versions = client.list_secret_versions().set_parent(&name).send().await.unwrap();
    let states: Vec<State> = versions.versions.iter().map(|v| v.state.clone()).collect();
    assert_eq!(states, [State::Enabled, State::Disabled, State::Destroyed]);
    let policy = client.get_iam_policy().set_resource(&name).send().await.unwrap();
    assert_eq!(policy.bindings[0].role, "roles/secretmanager.secretAccessor");
    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.path.contains("enum-encoding%3Dint")), "{requests:?}");
}

#[tokio::test]
async fn errors_parse_into_statuses() {
    let fake = start(FakeConfig::default()).await;
    let client = client(&fake, anonymous()).await;
    let denied = client.list_secrets().set_parent("projects/elsewhere").send().await.unwrap_err();
    let status = denied.status().expect("a status");
    assert_eq!(status.code, Code::PermissionDenied);
    assert!(!status.details.is_empty(), "ErrorInfo details parse");
    let name = format!("projects/{PROJECT}/secrets/nope");
    let missing = client.get_secret().set_name(&name).send().await.unwrap_err();
    assert_eq!(missing.status().map(|s| s.code), Some(Code::NotFound));
    fake.inject(fake_google::Route::GetSecret, vec![fake_google::Fault::Status(503)]);
    let name = format!("projects/{PROJECT}/secrets/api-key");
    let unavailable = client.get_secret().set_name(&name).send().await.unwrap_err();
    assert_eq!(unavailable.status().map(|s| s.code), Some(Code::Unavailable));
    assert_eq!(unavailable.http_status_code(), Some(503));
    let access = client.access_secret_version().set_name(format!("{name}/versions/1")).send().await;
    assert!(access.is_err());
    assert_eq!(fake.accesses().len(), 1);
}

#[tokio::test]
async fn authorized_user_credentials_fetch_and_send_a_fake_token() {
    let fake = start(FakeConfig { require_token: true, ..FakeConfig::default() }).await;
    let credentials =
        google_cloud_auth::credentials::user_account::Builder::new(serde_json::json!({
            "type": "authorized_user",
            "client_id": "fake-client",
            "client_secret": "fake-secret",
            "refresh_token": "fake-refresh",
            "token_uri": format!("{}/token", fake.url()),
        }))
        .build()
        .expect("credentials");
    let client = client(&fake, credentials).await;
    let name = format!("projects/{PROJECT}/secrets/api-key");
    client.get_secret().set_name(&name).send().await.expect("an authorised call");
    assert_eq!(fake.tokens(), ["fake-token-1"]);
    let call = fake.requests().into_iter().find(|r| r.route == fake_google::Route::GetSecret);
    assert_eq!(call.unwrap().authorization.as_deref(), Some("Bearer fake-token-1"));
}
