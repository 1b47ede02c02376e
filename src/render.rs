//! Rendering: the spec from `deploy/` with every declared secret mapped into its container.
//!
//! Env vars get `valueFrom.secretKeyRef`; files get a secret volume and one `volumeMount` per
//! directory; secrets of another project get an alias in `run.googleapis.com/secrets`; the
//! runtime service account comes from the manifest when the spec has none. Mappings the spec
//! already has and that agree are kept; every other field is left where it is.

use crate::manifest::Version;
use crate::resolve::{Binding, Deployment};
use crate::spec::{SECRETS_ANNOTATION, SecretName, ServiceSpec, normalize_path, parent_dir};
use crate::yaml::{Node, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What to change besides the secret mappings.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Replaces the target container's image.
    pub image: Option<String>,
    /// Version numbers to use instead of `latest`, by target (`--pin-versions`).
    pub pins: BTreeMap<String, u64>,
    /// A value for a revision annotation that forces a new revision.
    pub force_revision: Option<String>,
    /// Targets not to map: optional entries whose secret is known to be unusable.
    pub leave_out: BTreeSet<String>,
}

/// The annotation `--force-new-revision` sets on the revision template.
pub const FORCE_ANNOTATION: &str = "secretgate.io/rollout";

/// A spec whose shape does not allow the mappings to be added (a field of the wrong type).
#[derive(Debug, PartialEq, Eq)]
pub struct ShapeError(pub &'static str);

/// Renders `spec` for `deployment`; `container` is the index of the target container.
pub fn render(
    deployment: &Deployment,
    spec: &ServiceSpec,
    container: usize,
    options: &RenderOptions,
) -> Result<Node, ShapeError> {
    let mut root = spec.root.clone();
    let project = deployment.env.project.as_ref().map_or("", |p| p.value.as_str());
    let mut r = Renderer { root: &mut root, spec, project, container };
    let mapped = |b: &&Binding| !options.leave_out.contains(b.target());
    for binding in deployment.bindings.iter().filter(|b| !b.entry.is_file()).filter(mapped) {
        let Some((secret, version)) = resolved(binding, options) else { continue };
        r.env_var(binding.target(), &secret, &version)?;
    }
    let files = deployment.bindings.iter().filter(|b| b.entry.is_file()).filter(mapped);
    let mut by_dir: BTreeMap<String, Vec<(String, SecretName, Version)>> = BTreeMap::new();
    for binding in files {
        let Some((secret, version)) = resolved(binding, options) else { continue };
        let path = normalize_path(binding.target());
        let file = path.rsplit('/').next().unwrap_or_default().to_string();
        by_dir.entry(parent_dir(&path).to_string()).or_default().push((file, secret, version));
    }
    for (dir, files) in by_dir {
        r.files(&dir, &files)?;
    }
    if let Some(account) =
        deployment.service_account.as_ref().filter(|_| spec.service_account.is_none())
    {
        r.pod()?.set("serviceAccountName", Node::string(&account.value));
    }
    if let Some(image) = &options.image {
        r.container()?.set("image", Node::string(image));
    }
    if let Some(stamp) = &options.force_revision {
        r.annotations()?.set(FORCE_ANNOTATION, Node::string(stamp));
    }
    Ok(root)
}

fn resolved(binding: &Binding, options: &RenderOptions) -> Option<(SecretName, Version)> {
    let secret = binding.secret.clone()?;
    let version = match (&binding.version, options.pins.get(binding.target())) {
        (Some(Version::Latest), Some(n)) => Version::Number(*n),
        (Some(v), _) => v.clone(),
        (None, _) => return None,
    };
    Some((secret, version))
}

/// Writes a pinned version into a mapping the spec already has at `latest` (written or by
/// default); any other key already agrees with the manifest.
fn pin_key(reference: &mut Node, version: &Version) {
    let latest = reference.get("key").is_none_or(|k| k.scalar_text().as_deref() == Some("latest"));
    if latest && *version != Version::Latest {
        reference.set("key", Node::string(version.to_string()));
    }
}

struct Renderer<'a> {
    root: &'a mut Node,
    spec: &'a ServiceSpec,
    project: &'a str,
    container: usize,
}

fn empty_map() -> Node {
    Node::map(Vec::new())
}

fn empty_seq() -> Node {
    Node { value: Value::Seq(Vec::new()), span: Default::default() }
}

/// The items of a list field; `entry` has already turned a missing field into an empty list.
fn seq_mut<'n>(node: &'n mut Node, what: &'static str) -> Result<&'n mut Vec<Node>, ShapeError> {
    match &mut node.value {
        Value::Seq(items) => Ok(items),
        _ => Err(ShapeError(what)),
    }
}

/// The mapping under `key`, created when missing.
fn child<'n>(
    node: &'n mut Node,
    key: &str,
    what: &'static str,
) -> Result<&'n mut Node, ShapeError> {
    node.entry(key, empty_map()).filter(|n| n.as_map().is_some()).ok_or(ShapeError(what))
}

/// The list under `key`, created when missing.
fn list<'n>(
    node: &'n mut Node,
    key: &str,
    what: &'static str,
) -> Result<&'n mut Vec<Node>, ShapeError> {
    let node = node.entry(key, empty_seq()).ok_or(ShapeError(what))?;
    seq_mut(node, what)
}

impl Renderer<'_> {
    fn template(&mut self) -> Result<&mut Node, ShapeError> {
        let spec = child(self.root, "spec", "`spec` is not a mapping")?;
        child(spec, "template", "`spec.template` is not a mapping")
    }

    fn pod(&mut self) -> Result<&mut Node, ShapeError> {
        child(self.template()?, "spec", "`spec.template.spec` is not a mapping")
    }

    fn annotations(&mut self) -> Result<&mut Node, ShapeError> {
        let metadata =
            child(self.template()?, "metadata", "the template's metadata is not a mapping")?;
        child(metadata, "annotations", "the template's annotations are not a mapping")
    }

    fn container(&mut self) -> Result<&mut Node, ShapeError> {
        let index = self.container;
        let containers = list(self.pod()?, "containers", "`containers` is not a list")?;
        containers.get_mut(index).ok_or(ShapeError("the target container is missing"))
    }

    /// The name to write for a secret: its id in the service's own project, or an alias from
    /// the annotation (added when missing) for another project's secret.
    fn secret_ref(&mut self, secret: &SecretName) -> Result<String, ShapeError> {
        if secret.project == self.project {
            return Ok(secret.secret.clone());
        }
        let known = self
            .spec
            .aliases
            .entries
            .iter()
            .find(|(_, full)| crate::rules::mapping_conflict::same_secret(full, secret));
        if let Some((alias, _)) = known {
            return Ok(alias.clone());
        }
        let annotations = self.annotations()?;
        let current = annotations
            .get(SECRETS_ANNOTATION)
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        let taken = |a: &str| current.split(',').any(|p| p.trim().split(':').next() == Some(a));
        let mut alias = secret.secret.clone();
        let mut n = 2;
        while taken(&alias) {
            alias = format!("{}-{n}", secret.secret);
            n += 1;
        }
        let entry = format!("{alias}:{secret}");
        let value = if current.trim().is_empty() { entry } else { format!("{current},{entry}") };
        annotations.set(SECRETS_ANNOTATION, Node::string(value));
        Ok(alias)
    }

    fn env_var(
        &mut self,
        name: &str,
        secret: &SecretName,
        version: &Version,
    ) -> Result<(), ShapeError> {
        let existing =
            self.spec.containers[self.container].env.iter().any(|v| v.name.value == name);
        if existing {
            // An agreeing mapping is kept as written; a disagreeing one or a literal value is a
            // lint error, so rendering never runs with it. Only a pin replaces its `latest`.
            let env = list(self.container()?, "env", "`env` is not a list")?;
            let reference = env
                .iter_mut()
                .filter(|v| v.get("name").and_then(Node::as_str) == Some(name))
                .find_map(|v| v.path_mut(&["valueFrom", "secretKeyRef"]));
            if let Some(reference) = reference {
                pin_key(reference, version);
            }
            return Ok(());
        }
        let reference = self.secret_ref(secret)?;
        let entry = Node::map(vec![
            ("name", Node::string(name)),
            (
                "valueFrom",
                Node::map(vec![(
                    "secretKeyRef",
                    Node::map(vec![
                        ("name", Node::string(reference)),
                        ("key", Node::string(version.to_string())),
                    ]),
                )]),
            ),
        ]);
        list(self.container()?, "env", "`env` is not a list")?.push(entry);
        Ok(())
    }

    fn files(
        &mut self,
        dir: &str,
        files: &[(String, SecretName, Version)],
    ) -> Result<(), ShapeError> {
        let secret = &files[0].1;
        let mount = self.spec.containers[self.container]
            .mounts
            .iter()
            .find(|m| normalize_path(&m.path.value) == dir)
            .map(|m| m.volume.value.clone());
        let reference = self.secret_ref(secret)?;
        let volume_name = match mount {
            Some(name) => name,
            None => {
                let name = self.new_volume_name(dir)?;
                let mount = Node::map(vec![
                    ("name", Node::string(&name)),
                    ("mountPath", Node::string(dir)),
                    ("readOnly", Node { value: Value::Bool(true), span: Default::default() }),
                ]);
                list(self.container()?, "volumeMounts", "`volumeMounts` is not a list")?
                    .push(mount);
                name
            }
        };
        let volumes = list(self.pod()?, "volumes", "`volumes` is not a list")?;
        let index = match volumes
            .iter()
            .position(|v| v.get("name").and_then(Node::as_str) == Some(volume_name.as_str()))
        {
            Some(i) => i,
            None => {
                volumes.push(Node::map(vec![("name", Node::string(&volume_name))]));
                volumes.len() - 1
            }
        };
        let volume_secret =
            child(&mut volumes[index], "secret", "a volume's `secret` is not a mapping")?;
        if volume_secret.get("secretName").is_none() {
            volume_secret.set("secretName", Node::string(&reference));
        }
        let items = list(volume_secret, "items", "a secret volume's `items` is not a list")?;
        for (file, _, version) in files {
            let path = |i: &&mut Node| i.get("path").and_then(Node::as_str) == Some(file.as_str());
            if let Some(item) = items.iter_mut().find(path) {
                pin_key(item, version);
                continue;
            }
            items.push(Node::map(vec![
                ("key", Node::string(version.to_string())),
                ("path", Node::string(file)),
            ]));
        }
        Ok(())
    }

    /// `secret-` and the directory's segments, made unique among the spec's volumes.
    fn new_volume_name(&mut self, dir: &str) -> Result<String, ShapeError> {
        let base: String = dir
            .trim_matches('/')
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect();
        let base = format!("secret-{base}");
        let taken: Vec<String> = self
            .pod()?
            .get("volumes")
            .and_then(Node::as_seq)
            .map(|v| {
                v.iter()
                    .filter_map(|v| v.get("name").and_then(Node::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        Ok(name)
    }
}
