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
}

impl VersionState {
    /// The state a version entry gives, by name or by number; `None` for anything else (left
    /// out, `STATE_UNSPECIFIED`, another word, another type), which Secret Manager never gives
    /// a version it lists.
    fn read(value: Option<&Value>) -> Option<VersionState> {
        match value? {
            Value::String(name) => match name.as_str() {
                "ENABLED" => Some(VersionState::Enabled),
                "DISABLED" => Some(VersionState::Disabled),
                "DESTROYED" => Some(VersionState::Destroyed),
                _ => None,
            },
            number => match number.as_i64()? {
                1 => Some(VersionState::Enabled),
                2 => Some(VersionState::Disabled),
                3 => Some(VersionState::Destroyed),
                _ => None,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Enabled => "ENABLED",
            VersionState::Disabled => "DISABLED",
            VersionState::Destroyed => "DESTROYED",
        }
    }
}

/// One version of a secret. A field that could not be read is `Err` with the reason: what
/// depends on it is unverified, never taken as fine.
#[derive(Clone, Debug)]
pub struct VersionInfo {
    pub number: u64,
    pub state: Result<VersionState, String>,
    /// `Ok(None)` when the entry gives no creation time.
    pub create_time: Result<Option<Timestamp>, String>,
}

/// An IAM policy's bindings as (role, members).
pub type RoleBindings = Vec<(String, Vec<String>)>;

/// What is known of one secret. A field that could not be read (of another type than the API
/// gives, or a time that does not parse) is `Err` with the reason: the rules that read it
/// cannot run, and `verification-incomplete` says so.
#[derive(Clone, Debug)]
pub struct SecretInfo {
    /// `Ok(None)` when the secret does not expire.
    pub expire_time: Result<Option<Timestamp>, String>,
    /// `Ok(None)` when the secret has no rotation schedule.
    pub next_rotation_time: Result<Option<Timestamp>, String>,
    pub rotation_period: Option<String>,
    /// Version aliases and the version number each points to.
    pub aliases: Result<BTreeMap<String, u64>, String>,
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
    /// are unverified, which every reference to it reports; its own fields are not read.
    fn unreadable(reason: String) -> SecretInfo {
        SecretInfo {
            expire_time: Ok(None),
            next_rotation_time: Ok(None),
            rotation_period: None,
            aliases: Ok(BTreeMap::new()),
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
/// they are unknown) and its IAM policy (`None` when it was not asked for). A field of the wrong
/// type, or a time that does not parse, is kept as `Err`: read as absent, it would turn off the
/// rule that reads it (an expiry, a rotation, a grant would go unchecked).
pub fn read_secret(
    secret: &Value,
    versions: Result<&[Value], String>,
    policy: Option<Result<&Value, String>>,
) -> SecretInfo {
    let rotation = match secret.get("rotation") {
        None | Some(Value::Null | Value::Object(_)) => Ok(()),
        Some(_) => Err(format!("{BAD_ANSWER}: `rotation` is not an object")),
    };
    SecretInfo {
        expire_time: time(secret.get("expireTime"), "`expireTime`"),
        next_rotation_time: rotation.and_then(|()| {
            time(secret.pointer("/rotation/nextRotationTime"), "`rotation.nextRotationTime`")
        }),
        rotation_period: secret
            .pointer("/rotation/rotationPeriod")
            .and_then(Value::as_str)
            .map(str::to_string),
        aliases: aliases(secret.get("versionAliases")),
        versions: versions.and_then(read_versions),
        iam: policy.map(|p| p.and_then(bindings)),
    }
}

/// A time field, RFC 3339 as the API writes it; `Ok(None)` when it is left out or null.
fn time(value: Option<&Value>, field: &str) -> Result<Option<Timestamp>, String> {
    let bad = || format!("{BAD_ANSWER}: {field} is not an RFC 3339 time");
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => snapshot::rfc3339(text).map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// `versionAliases`: each alias with the version number it points to, written as a number or,
/// as the REST API writes 64-bit integers, as a string of digits.
fn aliases(value: Option<&Value>) -> Result<BTreeMap<String, u64>, String> {
    let map = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(format!("{BAD_ANSWER}: `versionAliases` is not an object")),
    };
    let number = |v: &Value| v.as_u64().or_else(|| v.as_str()?.parse().ok());
    map.iter()
        .map(|(alias, v)| match number(v) {
            Some(n) => Ok((alias.clone(), n)),
            None => Err(format!(
                "{BAD_ANSWER}: `versionAliases` maps {} to something that is not a version number",
                crate::diagnostic::quote(alias)
            )),
        })
        .collect()
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
    let state = VersionState::read(version.get("state")).ok_or_else(|| {
        format!("{BAD_ANSWER}: version {number} has no `state` of ENABLED, DISABLED or DESTROYED")
    });
    let create_time =
        time(version.get("createTime"), &format!("the `createTime` of version {number}"));
    Ok(VersionInfo { number, state, create_time })
}

/// The role bindings of an IAM policy, as (role, members). `bindings`, or a binding's
/// `members`, left out is empty, as the API leaves out empty lists; anything of another shape
/// (a policy that is not an object, a binding without a `role` string, a member that is not a
/// string) is `Err`: a grant dropped unread could be the one that lets the runtime account read
/// the secret.
pub fn bindings(policy: &Value) -> Result<RoleBindings, String> {
    let bad = |what: &str| Err(format!("{BAD_ANSWER}: {what}"));
    if !policy.is_object() {
        return bad("the IAM policy is not an object");
    }
    let list = match policy.get("bindings") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return bad("the IAM policy's `bindings` is not a list"),
    };
    let mut read = Vec::new();
    for binding in list {
        let (Some(role), members) = (binding.get("role"), binding.get("members")) else {
            return bad("a binding of the IAM policy has no `role`");
        };
        let Some(role) = role.as_str() else {
            return bad("a binding of the IAM policy has a `role` that is not a string");
        };
        let members: &[Value] = match members {
            None | Some(Value::Null) => &[],
            Some(Value::Array(members)) => members,
            Some(_) => return bad("a binding of the IAM policy has `members` that is not a list"),
        };
        let Some(members) = members.iter().map(|m| m.as_str().map(str::to_string)).collect() else {
            return bad("a binding of the IAM policy has a member that is not a string");
        };
        read.push((role.to_string(), members));
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::{VersionState, bindings, read_secret};
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
            assert_eq!(versions[0].state, Ok(VersionState::Disabled));
        }
    }

    /// Regression: a field of the wrong type, or a time that did not parse, was read as
    /// absent, which turned off the rule that reads it (an expired secret passed). Each is an
    /// error naming the field now; a field left out, or null, still means "none".
    #[test]
    fn malformed_secret_fields_are_errors_naming_the_field() {
        let read = |fields: Value| read_secret(&fields, Ok(&[]), None);
        let cases = [
            (json!({"expireTime": "garbage"}), "`expireTime` is not an RFC 3339 time"),
            (json!({"expireTime": 5}), "`expireTime` is not an RFC 3339 time"),
            (json!({"expireTime": "2026-01-01T00:00:00+25:00"}), "`expireTime`"),
            (json!({"rotation": {"nextRotationTime": "bogus"}}), "`rotation.nextRotationTime`"),
            (json!({"rotation": "monthly"}), "`rotation` is not an object"),
            (json!({"versionAliases": {"prod": "x"}}), "`versionAliases` maps `prod` to"),
            (json!({"versionAliases": ["prod"]}), "`versionAliases` is not an object"),
        ];
        for (fields, why) in cases {
            let info = read(fields.clone());
            let errors =
                [info.expire_time.err(), info.next_rotation_time.err(), info.aliases.err()];
            let errors: Vec<String> = errors.into_iter().flatten().collect();
            assert_eq!(errors.len(), 1, "{fields}: {errors:?}");
            assert!(errors[0].starts_with("bad answer: ") && errors[0].contains(why), "{fields}");
        }

        let info = read(json!({"expireTime": null, "rotation": {}}));
        assert_eq!((info.expire_time, info.next_rotation_time), (Ok(None), Ok(None)));
        let info = read(json!({
            "expireTime": "2026-12-20T00:00:00Z",
            "rotation": {"nextRotationTime": "2026-06-01T00:00:00+02:00"},
            "versionAliases": {"prod": "3", "old": 1},
        }));
        assert_eq!(info.expire_time, Ok(Some("2026-12-20T00:00:00Z".parse().unwrap())));
        assert_eq!(info.next_rotation_time, Ok(Some("2026-05-31T22:00:00Z".parse().unwrap())));
        let aliases = info.aliases.expect("aliases are read");
        assert_eq!((aliases.get("prod"), aliases.get("old")), (Some(&3), Some(&1)));
    }

    /// A version's `state` other than ENABLED, DISABLED or DESTROYED (or 1 to 3), and a
    /// `createTime` that does not parse, are errors of that version alone: the list, and which
    /// version is `latest`, are still known.
    #[test]
    fn malformed_version_fields_are_errors_of_that_version() {
        for state in [json!("GARBAGE"), json!(7), json!("STATE_UNSPECIFIED"), json!(true)] {
            let mut odd = version(3, "ENABLED", None);
            odd["state"] = state.clone();
            let listed = [odd, version(2, "ENABLED", None)];
            let versions = read_secret(&json!({}), Ok(&listed), None).versions.expect("listed");
            let why = "version 3 has no `state` of ENABLED, DISABLED or DESTROYED";
            assert_eq!(versions[0].state, Err(format!("bad answer: {why}")), "{state}");
            assert_eq!(versions[1].state, Ok(VersionState::Enabled));
        }
        let mut unstated = version(1, "ENABLED", None);
        unstated.as_object_mut().unwrap().remove("state");
        let mut numbered = version(2, "ENABLED", Some("garbage"));
        numbered["state"] = json!(2);
        let listed = [unstated, numbered];
        let versions = read_secret(&json!({}), Ok(&listed), None).versions.expect("listed");
        assert!(versions[1].state.is_err(), "a version without a state");
        assert_eq!(versions[0].state, Ok(VersionState::Disabled));
        let why = "the `createTime` of version 2 is not an RFC 3339 time";
        assert_eq!(versions[0].create_time, Err(format!("bad answer: {why}")));
        assert_eq!(versions[1].create_time, Ok(None));
    }

    /// An IAM policy of another shape than the API gives is an error, never "no grant"; lists
    /// the API leaves out when empty are empty.
    #[test]
    fn malformed_iam_policies_are_errors() {
        let member = json!(["serviceAccount:run@p.iam.gserviceaccount.com"]);
        for policy in [
            json!("x"),
            json!({"bindings": "x"}),
            json!({"bindings": ["x"]}),
            json!({"bindings": [{"members": member}]}),
            json!({"bindings": [{"role": 7, "members": member}]}),
            json!({"bindings": [{"role": "roles/owner", "members": "x"}]}),
            json!({"bindings": [{"role": "roles/owner", "members": [7]}]}),
        ] {
            let read = bindings(&policy);
            assert!(read.as_ref().is_err_and(|e| e.starts_with("bad answer: ")), "{policy}");
        }
        assert_eq!(bindings(&json!({"etag": "x"})), Ok(vec![]));
        let read = bindings(&json!({"bindings": [{"role": "roles/owner"}]}));
        assert_eq!(read, Ok(vec![("roles/owner".to_string(), vec![])]));
    }
}
