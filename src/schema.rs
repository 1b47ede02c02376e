//! The JSON Schema of `secrets.yaml`, for editors (`# yaml-language-server: $schema=...`).
//!
//! These types exist to describe the file; the manifest reader in [`crate::manifest`] does the
//! reading, because it must report every problem with its span rather than stop at the first.

use schemars::JsonSchema;
use std::collections::BTreeMap;

/// secretgate manifest: which Secret Manager secret each Cloud Run service must receive.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code, reason = "describes the file; never constructed")]
struct SecretsManifest {
    /// Manifest format version; this release reads 1.
    #[schemars(range(min = 1, max = 1))]
    version: u32,
    /// Deployment environments by name.
    environments: BTreeMap<String, EnvironmentSchema>,
    /// Organisation-wide rules.
    #[serde(default)]
    policy: Option<PolicySchema>,
    /// Cloud Run services by name.
    services: BTreeMap<String, ServiceSchema>,
}

/// One Google Cloud project and region.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code, reason = "describes the file; never constructed")]
struct EnvironmentSchema {
    /// Google Cloud project id holding the services and their secrets.
    project: String,
    /// Cloud Run region, such as us-central1.
    region: String,
    /// Default runtime service account of the environment's services.
    #[serde(default)]
    service_account: Option<String>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code, reason = "describes the file; never constructed")]
struct PolicySchema {
    /// Environments where `latest` is an error (rule unpinned-version).
    #[serde(default)]
    pin_versions: Vec<String>,
    /// Classes whose secrets are required whatever `required` says.
    #[serde(default)]
    required_classes: Vec<String>,
    /// Maximum age of the version in use, checked by `check`.
    #[serde(default)]
    #[schemars(range(min = 1))]
    max_version_age_days: Option<u32>,
    /// Secret name patterns owned by other systems, ignored by `audit`'s orphan report.
    #[serde(default)]
    ignore_orphans: Vec<String>,
}

/// A value for every environment, or a map from environment name to value.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "describes the file; never constructed")]
enum PerEnv {
    Same(String),
    ByEnv(BTreeMap<String, String>),
}

/// A version: `latest`, a positive integer or a version alias; or a map from environment name
/// to one.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "describes the file; never constructed")]
enum VersionSpec {
    Number(#[schemars(range(min = 1))] u64),
    Word(String),
    ByEnv(BTreeMap<String, VersionValue>),
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "describes the file; never constructed")]
enum VersionValue {
    Number(#[schemars(range(min = 1))] u64),
    Word(String),
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code, reason = "describes the file; never constructed")]
struct ServiceSchema {
    /// Path of the Cloud Run service spec, relative to the manifest; `{env}`, `{project}`,
    /// `{region}` and `{service}` are filled in.
    spec: PerEnv,
    /// The container that receives the secrets; default: the only container, or the one that
    /// declares a port.
    #[serde(default)]
    container: Option<String>,
    /// Environments the service is deployed to; default: all.
    #[serde(default)]
    environments: Option<Vec<String>>,
    /// Runtime service account, overriding the environment's.
    #[serde(default)]
    service_account: Option<PerEnv>,
    /// Env var names (or absolute file paths, starting with `/`) and their secrets.
    #[serde(default)]
    secrets: BTreeMap<String, EntrySchema>,
}

#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code, reason = "describes the file; never constructed")]
struct EntrySchema {
    /// Secret id in the environment's project, or `projects/P/secrets/S`; placeholders allowed.
    secret: PerEnv,
    /// `latest` (default), a positive integer, a version alias, or a map per environment.
    #[serde(default)]
    version: Option<VersionSpec>,
    /// A free word such as auth, db, api or other (default other).
    #[serde(default)]
    class: Option<String>,
    /// Whether a problem with this secret blocks a deploy (default true).
    #[serde(default)]
    required: Option<bool>,
}

/// The schema as pretty-printed JSON, with a trailing newline.
pub fn json() -> String {
    let schema = schemars::schema_for!(SecretsManifest);
    let mut value = serde_json::to_value(&schema).unwrap_or_default();
    drop_null(&mut value);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// schemars describes an `Option<T>` field as "T or null", but the manifest reader refuses
/// `null` for every optional key (a key is left out to take its default): remove `null` from
/// every type, every `anyOf` and every default, so that an editor flags what lint would.
fn drop_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if map.get("default") == Some(&Value::Null) {
                map.shift_remove("default");
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".to_string(), only);
                }
            }
            if let Some(Value::Array(options)) = map.get_mut("anyOf") {
                options.retain(|o| o.get("type") != Some(&Value::from("null")));
                if options.len() == 1
                    && let Some(Value::Object(only)) = options.pop()
                {
                    map.shift_remove("anyOf");
                    map.extend(only);
                }
            }
            map.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}
