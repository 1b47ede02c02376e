//! What Secret Manager knows about the declared secrets, from the live API or from snapshots.
//!
//! The inventory is built from the REST API's JSON objects in both cases, so `check` runs the same
//! code online and offline. Anything that could not be read is kept as an explicit "unverified"
//! state with its reason, never as "absent": the gate fails closed.

pub mod live;
pub mod snapshot;

use jiff::Timestamp;
use serde_json::Value;
use snapshot::{SecretSnapshot, Snapshot};
use std::collections::{BTreeMap, HashMap};

/// The state of a secret version, as the API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionState {
    Enabled,
    Disabled,
    Destroyed,
    Unknown,
}

impl VersionState {
    fn parse(value: Option<&Value>) -> VersionState {
        match value.and_then(Value::as_str) {
            Some("ENABLED") => VersionState::Enabled,
            Some("DISABLED") => VersionState::Disabled,
            Some("DESTROYED") => VersionState::Destroyed,
            _ => match value.and_then(Value::as_i64) {
                Some(1) => VersionState::Enabled,
                Some(2) => VersionState::Disabled,
                Some(3) => VersionState::Destroyed,
                _ => VersionState::Unknown,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Enabled => "ENABLED",
            VersionState::Disabled => "DISABLED",
            VersionState::Destroyed => "DESTROYED",
            VersionState::Unknown => "STATE_UNSPECIFIED",
        }
    }
}

/// One version of a secret.
#[derive(Clone, Debug)]
pub struct VersionInfo {
    pub number: u64,
    pub state: VersionState,
    pub create_time: Option<Timestamp>,
}

/// An IAM policy's bindings as (role, members).
pub type RoleBindings = Vec<(String, Vec<String>)>;

/// What is known of one secret.
#[derive(Clone, Debug)]
pub struct SecretInfo {
    pub expire_time: Option<Timestamp>,
    pub next_rotation_time: Option<Timestamp>,
    pub rotation_period: Option<String>,
    /// Version aliases and the version number each points to.
    pub aliases: BTreeMap<String, u64>,
    /// Versions, newest (highest number) first; `Err` says why they could not be listed.
    pub versions: Result<Vec<VersionInfo>, String>,
    /// Members holding a role, by role; `None` when the policy was not asked for (no runtime
    /// account, or `--no-iam`), `Err` when it was and could not be read or was not captured.
    pub iam: Option<Result<RoleBindings, String>>,
}

/// What is known of one project: its secrets, or why they could not be listed.
#[derive(Clone, Debug)]
pub enum ProjectInventory {
    Listed(HashMap<String, SecretInfo>),
    Unverified(String),
}

/// Everything `check` knows, by project id.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    pub projects: HashMap<String, ProjectInventory>,
    /// API requests made to build the inventory (0 for snapshots).
    pub requests: usize,
    /// When the snapshot was taken; `None` for live data.
    pub captured_at: Option<Timestamp>,
}

impl Inventory {
    /// Builds the inventory from snapshot files; later files win for a project both capture.
    pub fn from_snapshots(snapshots: &[Snapshot]) -> Inventory {
        let mut inventory = Inventory::default();
        for snapshot in snapshots {
            let captured: Option<Timestamp> = snapshot.captured_at.parse().ok();
            inventory.captured_at = match (inventory.captured_at, captured) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for (project, content) in &snapshot.projects {
                let secrets = content.secrets.iter().map(|s| (s.id(), secret_info(s)));
                inventory.projects.insert(project.clone(), listed(secrets));
            }
        }
        inventory
    }

    /// The inventory without any IAM policy, for `--no-iam`: the IAM check is then skipped
    /// rather than reported as unverified.
    pub fn without_iam(mut self) -> Inventory {
        for project in self.projects.values_mut() {
            if let ProjectInventory::Listed(secrets) = project {
                secrets.values_mut().for_each(|s| s.iam = None);
            }
        }
        self
    }
}

/// A project's secrets by id, from the entries of a listing or a snapshot. Entries Secret
/// Manager would not list are not taken as absent: one without a secret id leaves the whole
/// project unverified (the secret it stands for is unknown), and a secret listed twice is
/// unverified rather than whichever entry came last.
pub(crate) fn listed<'a>(
    entries: impl Iterator<Item = (Option<&'a str>, SecretInfo)>,
) -> ProjectInventory {
    let mut secrets: HashMap<String, SecretInfo> = HashMap::new();
    for (id, info) in entries {
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            return ProjectInventory::Unverified(format!(
                "{BAD_ANSWER}: a secret whose name is not `projects/PROJECT/secrets/ID`"
            ));
        };
        if secrets.contains_key(id) {
            let reason = format!("{BAD_ANSWER}: secret `{id}` is listed twice");
            secrets.insert(id.to_string(), SecretInfo::unreadable(reason));
        } else {
            secrets.insert(id.to_string(), info);
        }
    }
    ProjectInventory::Listed(secrets)
}

/// How a reason starts when Secret Manager's answer (or a snapshot) holds what it never
/// writes.
pub const BAD_ANSWER: &str = "bad answer";

/// The secret id of a secret's resource name, `projects/PROJECT/secrets/ID`; `None` for any
/// other shape, which no secret Secret Manager lists has.
pub(crate) fn secret_id(secret: &serde_json::Value) -> Option<&str> {
    let name = secret.get("name")?.as_str()?;
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["projects", project, "secrets", id] if !project.is_empty() && !id.is_empty() => Some(id),
        _ => None,
    }
}

impl SecretInfo {
    /// A secret of which nothing could be read, for `reason`: its versions and its IAM policy
    /// are unverified.
    fn unreadable(reason: String) -> SecretInfo {
        SecretInfo {
            expire_time: None,
            next_rotation_time: None,
            rotation_period: None,
            aliases: BTreeMap::new(),
            versions: Err(reason.clone()),
            iam: Some(Err(reason)),
        }
    }
}

/// Why a snapshot entry without `versions` cannot be checked.
pub const VERSIONS_NOT_CAPTURED: &str = "versions not in the snapshot; capture it again";

/// Why a snapshot entry without `iamPolicy` cannot be checked.
pub const POLICY_NOT_CAPTURED: &str = "IAM policy not in the snapshot; capture it again";

/// Reads a snapshot entry. Versions or a policy the entry leaves out were not captured: they
/// are unverified, never "none", so that an incomplete snapshot cannot pass the gate.
pub fn secret_info(snapshot: &SecretSnapshot) -> SecretInfo {
    let versions = snapshot.versions.as_deref().ok_or_else(|| VERSIONS_NOT_CAPTURED.to_string());
    let policy = snapshot.iam_policy.as_ref().ok_or_else(|| POLICY_NOT_CAPTURED.to_string());
    read_secret(&snapshot.secret, versions, Some(policy))
}

/// Reads the fields `check` uses from the API's JSON objects: the secret, its versions (or why
/// they are unknown) and its IAM policy (`None` when it was not asked for).
pub fn read_secret(
    secret: &Value,
    versions: Result<&[Value], String>,
    policy: Option<Result<&Value, String>>,
) -> SecretInfo {
    let time = |v: Option<&Value>| v.and_then(Value::as_str).and_then(|s| s.parse().ok());
    let aliases = secret
        .get("versionAliases")
        .and_then(Value::as_object)
        .map(|m| {
            let number = |v: &Value| v.as_u64().or_else(|| v.as_str()?.parse().ok());
            m.iter().filter_map(|(k, v)| Some((k.clone(), number(v)?))).collect()
        })
        .unwrap_or_default();
    let versions = versions.and_then(read_versions);
    SecretInfo {
        expire_time: time(secret.get("expireTime")),
        next_rotation_time: time(secret.pointer("/rotation/nextRotationTime")),
        rotation_period: secret
            .pointer("/rotation/rotationPeriod")
            .and_then(Value::as_str)
            .map(str::to_string),
        aliases,
        versions,
        iam: policy.map(|p| p.map(bindings)),
    }
}

/// The versions of a secret, newest first. Secret Manager numbers versions in creation order,
/// and `latest` is the highest number; `createTime` is only shown, so a missing or odd time
/// does not decide which version `latest` is. A version whose number cannot be read, or a
/// number listed twice, makes the whole list unverified: dropping or picking one could make
/// `latest` an older version.
fn read_versions(list: &[Value]) -> Result<Vec<VersionInfo>, String> {
    let mut read = list.iter().map(version_info).collect::<Result<Vec<_>, _>>()?;
    read.sort_by_key(|v| std::cmp::Reverse(v.number));
    if let Some(twice) = read.windows(2).find(|w| w[0].number == w[1].number) {
        return Err(format!("{BAD_ANSWER}: version {} is listed twice", twice[0].number));
    }
    Ok(read)
}

/// One version entry; `Err` when its name does not end in a version number.
fn version_info(version: &Value) -> Result<VersionInfo, String> {
    let name = version.get("name").and_then(Value::as_str);
    let last = name.and_then(|n| n.rsplit('/').next()).unwrap_or_default();
    let Ok(crate::manifest::Version::Number(number)) = crate::manifest::Version::read(last) else {
        let Some(name) = name else {
            return Err(format!("{BAD_ANSWER}: a version without a name"));
        };
        let name = crate::diagnostic::quote(name);
        return Err(format!("{BAD_ANSWER}: version name {name} does not end in a version number"));
    };
    let state = VersionState::parse(version.get("state"));
    let create_time =
        version.get("createTime").and_then(Value::as_str).and_then(|s| s.parse().ok());
    Ok(VersionInfo { number, state, create_time })
}

/// The role bindings of an IAM policy, as (role, members).
pub fn bindings(policy: &Value) -> RoleBindings {
    let Some(list) = policy.get("bindings").and_then(Value::as_array) else { return Vec::new() };
    list.iter()
        .filter_map(|b| {
            let role = b.get("role")?.as_str()?.to_string();
            let members = b.get("members")?.as_array()?;
            Some((role, members.iter().filter_map(|m| m.as_str().map(str::to_string)).collect()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{VersionState, read_secret};
    use serde_json::{Value, json};

    fn version(number: u64, state: &str, create_time: Option<&str>) -> Value {
        let mut v = json!({ "name": format!("projects/p/secrets/s/versions/{number}"),
                            "state": state });
        if let Some(time) = create_time {
            v["createTime"] = json!(time);
        }
        v
    }

    /// Regression: the newest version (DISABLED) had no usable `createTime`, so an older
    /// ENABLED version sorted first and `latest` looked usable.
    #[test]
    fn newest_is_the_highest_number_whatever_the_create_times_say() {
        let odd_times = [None, Some("2026-01-01T00:00:00"), Some("not a time")];
        for odd in odd_times {
            let listed = [
                version(1, "ENABLED", Some("9999-12-01T00:00:00Z")),
                version(3, "DISABLED", odd),
                version(2, "ENABLED", Some("2026-06-01T00:00:00Z")),
            ];
            let info = read_secret(&json!({}), Ok(&listed), None);
            let versions = info.versions.expect("versions are listed");
            let order: Vec<u64> = versions.iter().map(|v| v.number).collect();
            assert_eq!(order, [3, 2, 1], "createTime {odd:?}");
            assert_eq!(versions[0].state, VersionState::Disabled);
        }
    }
}
