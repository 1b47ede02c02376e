//! Secret Manager v1, read side: the secrets, versions and IAM policies of a snapshot, served
//! with Google's paging, filtering, naming and error behaviour.
//!
//! Objects are stored exactly as the snapshot holds them (the API's own JSON), with enums
//! normalised to names so they can be sent either way. Secret payloads do not exist here:
//! `:access` is always refused, and recorded by the request log.

use crate::google::{ApiError, Enums, Params, encode_policy, encode_version};
use serde_json::{Map, Value, json};

/// The error domain Secret Manager reports.
const DOMAIN: &str = "secretmanager.googleapis.com";

/// The snapshot format version the fake reads (secretgate's `SNAPSHOT_VERSION`).
const SNAPSHOT_VERSION: u64 = 1;

/// Every project's secrets.
#[derive(Debug, Default)]
pub(crate) struct SecretStore {
    projects: Vec<Project>,
}

/// One project, reachable by its id and, once a secret name reveals it, by its number.
#[derive(Debug)]
pub(crate) struct Project {
    pub id: String,
    pub number: Option<String>,
    secrets: Vec<StoredSecret>,
}

/// One secret with its versions (newest first) and IAM policy.
#[derive(Debug)]
pub(crate) struct StoredSecret {
    pub id: String,
    pub secret: Value,
    pub versions: Vec<Value>,
    pub policy: Option<Value>,
}

impl SecretStore {
    /// Loads a snapshot in secretgate's format.
    pub fn from_snapshot(snapshot: &Value) -> Result<SecretStore, String> {
        let version = snapshot.get("snapshotVersion").and_then(Value::as_u64);
        if version != Some(SNAPSHOT_VERSION) {
            return Err(format!("snapshotVersion must be {SNAPSHOT_VERSION}, found {version:?}"));
        }
        let projects = snapshot
            .get("projects")
            .and_then(Value::as_object)
            .ok_or("the snapshot has no `projects` object")?;
        let mut store = SecretStore::default();
        for (key, content) in projects {
            let secrets = content
                .get("secrets")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("project {key} has no `secrets` array"))?;
            store.ensure(key);
            for entry in secrets {
                store.upsert(key, entry.clone())?;
            }
        }
        Ok(store)
    }

    /// The project named by id or number.
    pub fn project(&self, key: &str) -> Option<&Project> {
        self.position(key).map(|i| &self.projects[i])
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.projects.iter().position(|p| p.id == key || p.number.as_deref() == Some(key))
    }

    fn ensure(&mut self, key: &str) -> &mut Project {
        let index = self.position(key).unwrap_or_else(|| {
            self.projects.push(Project { id: key.to_string(), number: None, secrets: Vec::new() });
            self.projects.len() - 1
        });
        &mut self.projects[index]
    }

    /// Adds or replaces a secret, given in the snapshot's `{secret, versions, iamPolicy}` shape.
    pub fn upsert(&mut self, key: &str, entry: Value) -> Result<(), String> {
        let (number, stored) = StoredSecret::from_entry(entry)?;
        let project = self.ensure(key);
        if number != project.id && project.number.is_none() {
            project.number = Some(number);
        }
        match project.secrets.iter_mut().find(|s| s.id == stored.id) {
            Some(existing) => *existing = stored,
            None => project.secrets.push(stored),
        }
        Ok(())
    }

    /// Removes a secret; false when there was none.
    pub fn remove(&mut self, key: &str, id: &str) -> bool {
        let Some(index) = self.position(key) else { return false };
        let project = &mut self.projects[index];
        let before = project.secrets.len();
        project.secrets.retain(|s| s.id != id);
        project.secrets.len() != before
    }
}

impl Project {
    /// The number if known, as Google names resources by number.
    pub fn name_key(&self) -> &str {
        self.number.as_deref().unwrap_or(&self.id)
    }

    pub fn secret(&self, id: &str) -> Option<&StoredSecret> {
        self.secrets.iter().find(|s| s.id == id)
    }

    /// The full name of a secret, as Google spells it in messages.
    pub fn secret_name(&self, id: &str) -> String {
        format!("projects/{}/secrets/{id}", self.name_key())
    }
}

impl StoredSecret {
    /// Validates a snapshot entry; returns the project named in the secret's name too.
    fn from_entry(mut entry: Value) -> Result<(String, StoredSecret), String> {
        let secret = entry.get_mut("secret").map(Value::take).unwrap_or_default();
        let name = secret.get("name").and_then(Value::as_str).unwrap_or_default();
        let parts: Vec<&str> = name.split('/').collect();
        let ["projects", project, "secrets", id] = parts.as_slice() else {
            return Err(format!("secret name `{name}` is not projects/P/secrets/S"));
        };
        let (project, id) = (project.to_string(), id.to_string());
        let mut versions = match entry.get_mut("versions").map(Value::take) {
            Some(Value::Array(v)) => v,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(format!("versions of {name} are not an array")),
        };
        versions.iter_mut().for_each(|v| encode_version(v, Enums::Names));
        versions.sort_by_key(|v| std::cmp::Reverse(version_number(v)));
        let mut policy = entry.get_mut("iamPolicy").map(Value::take).filter(Value::is_object);
        policy.iter_mut().for_each(|p| encode_policy(p, Enums::Names));
        Ok((project, StoredSecret { id, secret, versions, policy }))
    }

    /// The version a version id names: a number, `latest` (the newest, whatever its state) or
    /// an alias from `versionAliases`.
    pub fn version(&self, wanted: &str) -> Option<&Value> {
        if wanted == "latest" {
            return self.versions.first();
        }
        let number = wanted.parse().ok().or_else(|| {
            let alias = self.secret.get("versionAliases")?.get(wanted)?;
            alias.as_u64().or_else(|| alias.as_str()?.parse().ok())
        })?;
        self.versions.iter().find(|v| version_number(v) == Some(number))
    }
}

/// The number at the end of a version's name.
pub(crate) fn version_number(version: &Value) -> Option<u64> {
    version.get("name")?.as_str()?.rsplit('/').next()?.parse().ok()
}

/// The state name of a version.
pub(crate) fn version_state(version: &Value) -> &str {
    version.get("state").and_then(Value::as_str).unwrap_or("STATE_UNSPECIFIED")
}

/// What a request names, for the handlers below.
pub(crate) struct Named<'a> {
    pub project: &'a str,
    pub secret: &'a str,
}

fn project_or_denied<'s>(
    store: &'s SecretStore,
    project: &str,
    permission: &str,
    resource: &str,
) -> Result<&'s Project, ApiError> {
    store.project(project).ok_or_else(|| ApiError::permission_denied(DOMAIN, permission, resource))
}

fn secret_not_found(project: &Project, id: &str) -> ApiError {
    let name = project.secret_name(id);
    ApiError::new(404, format!("Secret [{name}] not found or has no versions."))
}

/// `GET /v1/projects/{p}/secrets`.
pub(crate) fn list_secrets(
    store: &SecretStore,
    project: &str,
    params: &Params,
    cap: usize,
) -> Result<Value, ApiError> {
    let parent = format!("projects/{project}");
    let p = project_or_denied(store, project, "secretmanager.secrets.list", &parent)?;
    let filter = Filter::parse(params.get("filter"))?;
    let items = p.secrets.iter().map(|s| &s.secret).filter(|s| filter.matches(s)).cloned();
    let page = Page::cut(items.collect(), &parent, params, cap)?;
    Ok(page.into_json("secrets"))
}

/// `GET /v1/projects/{p}/secrets/{s}`.
pub(crate) fn get_secret(store: &SecretStore, t: &Named) -> Result<Value, ApiError> {
    let resource = format!("projects/{}/secrets/{}", t.project, t.secret);
    let p = project_or_denied(store, t.project, "secretmanager.secrets.get", &resource)?;
    let s = p.secret(t.secret).ok_or_else(|| secret_not_found(p, t.secret))?;
    Ok(s.secret.clone())
}

/// `GET /v1/projects/{p}/secrets/{s}/versions`, newest first.
pub(crate) fn list_versions(
    store: &SecretStore,
    t: &Named,
    params: &Params,
    cap: usize,
) -> Result<Value, ApiError> {
    let parent = format!("projects/{}/secrets/{}", t.project, t.secret);
    let p = project_or_denied(store, t.project, "secretmanager.versions.list", &parent)?;
    let s = p.secret(t.secret).ok_or_else(|| secret_not_found(p, t.secret))?;
    let filter = Filter::parse(params.get("filter"))?;
    let enums = params.enums();
    let items = s.versions.iter().filter(|v| filter.matches(v)).map(|v| {
        let mut v = v.clone();
        encode_version(&mut v, enums);
        v
    });
    let page = Page::cut(items.collect(), &parent, params, cap)?;
    Ok(page.into_json("versions"))
}

/// `GET /v1/projects/{p}/secrets/{s}/versions/{v}`.
pub(crate) fn get_version(
    store: &SecretStore,
    t: &Named,
    version: &str,
    enums: Enums,
) -> Result<Value, ApiError> {
    let resource = format!("projects/{}/secrets/{}/versions/{version}", t.project, t.secret);
    let p = project_or_denied(store, t.project, "secretmanager.versions.get", &resource)?;
    let s = p.secret(t.secret).ok_or_else(|| secret_not_found(p, t.secret))?;
    let mut found = s.version(version).cloned().ok_or_else(|| {
        let name = format!("{}/versions/{version}", p.secret_name(t.secret));
        ApiError::new(404, format!("Secret Version [{name}] not found."))
    })?;
    encode_version(&mut found, enums);
    Ok(found)
}

/// `…/secrets/{s}:getIamPolicy`: the stored policy, or the empty policy Google returns.
pub(crate) fn get_iam_policy(
    store: &SecretStore,
    t: &Named,
    enums: Enums,
) -> Result<Value, ApiError> {
    let resource = format!("projects/{}/secrets/{}", t.project, t.secret);
    let p = project_or_denied(store, t.project, "secretmanager.secrets.getIamPolicy", &resource)?;
    let s = p.secret(t.secret).ok_or_else(|| secret_not_found(p, t.secret))?;
    let mut policy = s.policy.clone().unwrap_or_else(|| json!({ "etag": "ACAB" }));
    encode_policy(&mut policy, enums);
    Ok(policy)
}

/// `…/versions/{v}:access`: always denied, as for a caller without `secretAccessor`.
pub(crate) fn access(t: &Named, version: &str) -> ApiError {
    let resource = format!("projects/{}/secrets/{}/versions/{version}", t.project, t.secret);
    ApiError::permission_denied(DOMAIN, "secretmanager.versions.access", &resource)
}

/// One page of a list, with Google's opaque continuation token.
struct Page {
    items: Vec<Value>,
    next: Option<String>,
    total: usize,
}

impl Page {
    /// Cuts the page `pageSize`/`pageToken` ask for; sizes above `cap` are capped, 0 means
    /// `cap`, as Secret Manager documents.
    fn cut(items: Vec<Value>, scope: &str, params: &Params, cap: usize) -> Result<Page, ApiError> {
        let size = match params.get("pageSize").filter(|s| !s.is_empty()) {
            None => 0,
            Some(s) => s.parse::<usize>().map_err(|_| {
                ApiError::new(400, format!("Invalid value at 'page_size' (TYPE_INT32), \"{s}\""))
            })?,
        };
        let size = if size == 0 { cap } else { size.min(cap) }.max(1);
        let start = match params.get("pageToken").filter(|t| !t.is_empty()) {
            None => 0,
            Some(token) => decode_token(token, scope, items.len())?,
        };
        let total = items.len();
        let end = start.saturating_add(size).min(total);
        let next = (end < total).then(|| encode_token(scope, end));
        Ok(Page { items: items[start..end].to_vec(), next, total })
    }

    /// The response object; empty fields are left out, as proto3 JSON does.
    fn into_json(self, key: &str) -> Value {
        let mut out = Map::new();
        if !self.items.is_empty() {
            out.insert(key.to_string(), Value::Array(self.items));
        }
        if let Some(token) = self.next {
            out.insert("nextPageToken".into(), Value::String(token));
        }
        if self.total > 0 {
            out.insert("totalSize".into(), Value::from(self.total));
        }
        Value::Object(out)
    }
}

/// A token that binds the offset to the list it continues, so a token reused on another list
/// is rejected as Google does.
fn encode_token(scope: &str, offset: usize) -> String {
    format!("{offset}|{scope}").bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(token: &str, scope: &str, len: usize) -> Result<usize, ApiError> {
    let invalid = || ApiError::new(400, "The page token is invalid.");
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    let text = String::from_utf8(bytes.ok_or_else(invalid)?).map_err(|_| invalid())?;
    let (offset, bound) = text.split_once('|').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    if bound != scope || offset > len {
        return Err(invalid());
    }
    Ok(offset)
}

/// The subset of Google's list filter syntax the fake understands: `field:value` (contains, or
/// has-key for maps, `*` for present) and `field=value` terms, joined by spaces or `AND`.
struct Filter {
    terms: Vec<(Vec<String>, bool, String)>,
}

impl Filter {
    fn parse(text: Option<&str>) -> Result<Filter, ApiError> {
        let unsupported = |t: &str| {
            ApiError::new(400, format!("fake-google does not support the filter term `{t}`"))
        };
        let mut terms = Vec::new();
        for token in text.unwrap_or_default().split_whitespace().filter(|t| *t != "AND") {
            let at = token.find([':', '=']).ok_or_else(|| unsupported(token))?;
            let (field, rest) = token.split_at(at);
            if field.is_empty() || field.starts_with(['-', '(']) || token == "OR" {
                return Err(unsupported(token));
            }
            let path = field.split('.').map(str::to_string).collect();
            let value = rest[1..].trim_matches('"').to_string();
            terms.push((path, rest.starts_with('='), value));
        }
        Ok(Filter { terms })
    }

    fn matches(&self, item: &Value) -> bool {
        self.terms.iter().all(|(path, exact, wanted)| {
            let found = path.iter().try_fold(item, |v, step| v.get(step));
            match (found, *exact) {
                (None, _) => false,
                (Some(_), false) if wanted == "*" => true,
                (Some(Value::Object(m)), false) => m.contains_key(wanted.as_str()),
                (Some(v), exact) => {
                    let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                    if exact { text == *wanted } else { text.contains(wanted.as_str()) }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> SecretStore {
        let snapshot = json!({"snapshotVersion": 1, "capturedAt": "x",
            "projects": {"p": {"secrets": [
            {"secret": {"name": "projects/42/secrets/a", "versionAliases": {"current": "1"}},
             "versions": [{"name": "projects/42/secrets/a/versions/1", "state": 1},
                          {"name": "projects/42/secrets/a/versions/2", "state": "DISABLED"}]}
        ]}}});
        SecretStore::from_snapshot(&snapshot).unwrap()
    }

    #[test]
    fn projects_answer_to_id_and_number() {
        let store = store();
        assert_eq!(store.project("42").unwrap().id, "p");
        assert!(store.project("p").unwrap().secret("a").is_some());
    }

    #[test]
    fn versions_are_newest_first_with_named_states() {
        let store = store();
        let s = store.project("p").unwrap().secret("a").unwrap();
        assert_eq!(version_state(s.version("latest").unwrap()), "DISABLED");
        assert_eq!(version_state(s.version("current").unwrap()), "ENABLED");
    }

    #[test]
    fn page_tokens_are_bound_to_their_list() {
        let token = encode_token("projects/p", 3);
        assert_eq!(decode_token(&token, "projects/p", 5).unwrap(), 3);
        assert!(decode_token(&token, "projects/q", 5).is_err());
        assert!(decode_token("zz", "projects/p", 5).is_err());
    }

    #[test]
    fn filters_match_fields_and_labels() {
        let filter = Filter::parse(Some("labels.env=prod AND name:api")).unwrap();
        assert!(
            filter
                .matches(&json!({"name": "projects/1/secrets/api-key", "labels": {"env": "prod"}}))
        );
        assert!(!filter.matches(&json!({"name": "projects/1/secrets/api-key"})));
        assert!(Filter::parse(Some("NOT state:ENABLED")).is_err());
    }
}
