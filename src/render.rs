//! Rendering: the spec from `deploy/` with every declared secret mapped into its container.
//!
//! Env vars get `valueFrom.secretKeyRef`; files get a secret volume and one `volumeMount` per
//! directory; secrets of another project get an alias in `run.googleapis.com/secrets`; the
//! runtime service account comes from the manifest when the spec has none, and so does
//! `metadata.name`, which Cloud Run requires, from the service's name. Mappings the spec already
//! has and that agree are kept, except those of entries left out (optional entries whose secret
//! is unusable), which are taken out; every other field is left where it is. A directory the
//! spec already mounts from something else than the declared secret's files is refused (see
//! [`crate::mounts`]), as lint refuses it.

use crate::manifest::Version;
use crate::mounts;
use crate::resolve::{Binding, Deployment};
use crate::spec::{
    SECRETS_ANNOTATION, SecretName, ServiceSpec, join_path, normalize_path, parent_dir,
};
use crate::yaml::{Node, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What to change besides the secret mappings.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Replaces the target container's image.
    pub image: Option<String>,
    /// Version numbers to use instead of `latest`, by target (`--pin-versions`).
    pub pins: BTreeMap<String, u64>,
    /// A value for a revision annotation that forces a new revision.
    pub force_revision: Option<String>,
    /// Targets not to map: optional entries whose secret is known to be unusable. A mapping the
    /// spec already has for one is taken out too, since the revision could not start with it.
    pub leave_out: BTreeSet<String>,
}

/// The annotation `--force-new-revision` sets on the revision template.
pub const FORCE_ANNOTATION: &str = "secretgate.io/rollout";

/// Why a spec cannot be rendered.
#[derive(Debug, PartialEq, Eq)]
pub enum RenderError {
    /// A field has the wrong type for the mappings to be added.
    Shape(&'static str),
    /// A directory of declared files is already mounted from something else: another secret,
    /// another kind of volume, or the whole secret under a file that would disappear.
    Mount(String),
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderError::Shape(what) => f.write_str(what),
            RenderError::Mount(why) => f.write_str(why),
        }
    }
}

/// Renders `spec` for `deployment`; `container` is the index of the target container.
pub fn render(
    deployment: &Deployment,
    spec: &ServiceSpec,
    container: usize,
    options: &RenderOptions,
) -> Result<Node, RenderError> {
    let mut root = spec.root.clone();
    let project = deployment.env.project.as_ref().map_or("", |p| p.value.as_str());
    let mounts = mounts::Mounts::of(spec, container);
    let env_names = spec.containers[container].env.iter().map(|v| v.name.value.as_str()).collect();
    let mut r = Renderer {
        root: &mut root,
        spec,
        mounts,
        env_names,
        volume_index: None,
        added_aliases: HashMap::new(),
        taken_aliases: None,
        project,
        container,
    };
    let mapped = |b: &&Binding| !options.leave_out.contains(b.target());
    for binding in deployment.bindings.iter().filter(|b| !b.entry.is_file()).filter(mapped) {
        let Some((secret, version)) = resolved(binding, options) else { continue };
        r.env_var(binding.target(), &secret, &version)?;
    }
    let files = deployment.bindings.iter().filter(|b| b.entry.is_file()).filter(mapped);
    let mut by_dir: BTreeMap<String, Vec<DirFile>> = BTreeMap::new();
    for binding in files {
        let Some((secret, version)) = resolved(binding, options) else { continue };
        let path = normalize_path(binding.target());
        let file = path.rsplit('/').next().unwrap_or_default().to_string();
        let entry = DirFile { binding, file, secret, version };
        by_dir.entry(parent_dir(&path).to_string()).or_default().push(entry);
    }
    for (dir, files) in by_dir {
        r.files(&dir, &files)?;
    }
    for binding in deployment.bindings.iter().filter(|b| !mapped(b)) {
        r.take_out(binding)?;
    }
    if spec.name.is_none() {
        let metadata = child(r.root, "metadata", "`metadata` is not a mapping")?;
        metadata.set("name", Node::string(&deployment.service.name.value));
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

/// One declared file of a directory, resolved for rendering.
struct DirFile<'b, 'm> {
    binding: &'b Binding<'m>,
    /// The file name in the directory.
    file: String,
    secret: SecretName,
    version: Version,
}

/// Whether the directory's volume already mounts the whole secret as the one declared file,
/// at `latest`: listing it under `items` would say the same thing in more words.
fn whole_secret_as_declared(mounted: &mounts::Mounted, files: &[DirFile]) -> bool {
    let Some(source) = mounted.volume.and_then(|v| v.secret.as_ref()) else { return false };
    let Some(name) = &source.secret_name else { return false };
    let declared_as_is = |f: &DirFile| f.file == name.value && f.version == Version::Latest;
    source.items.is_empty() && files.iter().all(declared_as_is)
}

/// Writes a pinned version into a mapping the spec already has at `latest` (written or by
/// default); any other key already agrees with the manifest.
fn pin_key(reference: &mut Node, version: &Version) {
    let latest = reference.get("key").is_none_or(|k| k.scalar_text().as_deref() == Some("latest"));
    if latest && *version != Version::Latest {
        reference.set("key", Node::string(version.to_string()));
    }
}

/// Removes a list that taking mappings out left empty, rather than leave `key: []` behind.
fn remove_if_empty(node: &mut Node, key: &str) {
    if node.get(key).and_then(Node::as_seq).is_some_and(<[Node]>::is_empty) {
        node.remove(key);
    }
}

struct Renderer<'a> {
    root: &'a mut Node,
    spec: &'a ServiceSpec,
    /// What the spec's target container mounts, as the spec file has it.
    mounts: mounts::Mounts<'a>,
    /// The env var names of the spec's target container.
    env_names: HashSet<&'a str>,
    /// The pod's volumes by name, as indexes into its `volumes`: built on first use and kept
    /// up to date as volumes are added, so that thousands of secret directories do not each
    /// search all volumes.
    volume_index: Option<HashMap<String, usize>>,
    /// The aliases this rendering added to the annotation, by the full secret name they stand
    /// for, so that a secret mapped twice gets one alias.
    added_aliases: HashMap<String, String>,
    /// Every alias name the annotation holds: read on first use and kept up to date, so that
    /// many secrets of other projects do not each parse the annotation again.
    taken_aliases: Option<HashSet<String>>,
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
fn seq_mut<'n>(node: &'n mut Node, what: &'static str) -> Result<&'n mut Vec<Node>, RenderError> {
    match &mut node.value {
        Value::Seq(items) => Ok(items),
        _ => Err(RenderError::Shape(what)),
    }
}

/// The mapping under `key`, created when missing.
fn child<'n>(
    node: &'n mut Node,
    key: &str,
    what: &'static str,
) -> Result<&'n mut Node, RenderError> {
    node.entry(key, empty_map()).filter(|n| n.as_map().is_some()).ok_or(RenderError::Shape(what))
}

/// The list under `key`, created when missing.
fn list<'n>(
    node: &'n mut Node,
    key: &str,
    what: &'static str,
) -> Result<&'n mut Vec<Node>, RenderError> {
    let node = node.entry(key, empty_seq()).ok_or(RenderError::Shape(what))?;
    seq_mut(node, what)
}

impl Renderer<'_> {
    fn template(&mut self) -> Result<&mut Node, RenderError> {
        let spec = child(self.root, "spec", "`spec` is not a mapping")?;
        child(spec, "template", "`spec.template` is not a mapping")
    }

    fn pod(&mut self) -> Result<&mut Node, RenderError> {
        child(self.template()?, "spec", "`spec.template.spec` is not a mapping")
    }

    fn annotations(&mut self) -> Result<&mut Node, RenderError> {
        let metadata =
            child(self.template()?, "metadata", "the template's metadata is not a mapping")?;
        child(metadata, "annotations", "the template's annotations are not a mapping")
    }

    fn container(&mut self) -> Result<&mut Node, RenderError> {
        let index = self.container;
        let containers = list(self.pod()?, "containers", "`containers` is not a list")?;
        containers.get_mut(index).ok_or(RenderError::Shape("the target container is missing"))
    }

    /// The name to write for a secret: its id in the service's own project, or an alias from
    /// the annotation (added when missing) for another project's secret.
    fn secret_ref(&mut self, secret: &SecretName) -> Result<String, RenderError> {
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
        let full = secret.to_string();
        if let Some(alias) = self.added_aliases.get(&full) {
            return Ok(alias.clone());
        }
        let annotations = self.annotations()?;
        let current = annotations
            .get(SECRETS_ANNOTATION)
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        let taken = self.taken_aliases.get_or_insert_with(|| {
            current
                .split(',')
                .filter_map(|p| p.trim().split(':').next())
                .map(str::to_string)
                .collect()
        });
        let mut alias = secret.secret.clone();
        let mut n = 2;
        while taken.contains(&alias) {
            alias = format!("{}-{n}", secret.secret);
            n += 1;
        }
        taken.insert(alias.clone());
        let entry = format!("{alias}:{full}");
        let value = if current.trim().is_empty() { entry } else { format!("{current},{entry}") };
        self.annotations()?.set(SECRETS_ANNOTATION, Node::string(value));
        self.added_aliases.insert(full, alias.clone());
        Ok(alias)
    }

    fn env_var(
        &mut self,
        name: &str,
        secret: &SecretName,
        version: &Version,
    ) -> Result<(), RenderError> {
        if self.env_names.contains(name) {
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

    /// Mounts the files of one directory, all from one secret: into the secret volume the
    /// container already mounts there, or into a new volume and mount.
    fn files(&mut self, dir: &str, files: &[DirFile]) -> Result<(), RenderError> {
        let secret = &files[0].secret;
        let names: Vec<&str> = files.iter().map(|f| f.file.as_str()).collect();
        if let Some(conflict) = self.mounts.conflict(self.project, dir, secret, &names) {
            let entries = files.iter().map(|f| f.binding).collect();
            let found = mounts::DirectoryConflict { dir: dir.to_string(), conflict, entries };
            return Err(RenderError::Mount(found.message()));
        }
        let mounted = self.mounts.mounted(dir);
        if mounted.as_ref().is_some_and(|m| whole_secret_as_declared(m, files)) {
            return Ok(());
        }
        let volume_name = match mounted {
            Some(m) => m.mount.volume.value.clone(),
            None => self.new_mount(dir)?,
        };
        let reference = self.secret_ref(secret)?;
        let volume = self.volume(&volume_name)?;
        let volume_secret = child(volume, "secret", "a volume's `secret` is not a mapping")?;
        if volume_secret.get("secretName").is_none() {
            volume_secret.set("secretName", Node::string(&reference));
        }
        let items = list(volume_secret, "items", "a secret volume's `items` is not a list")?;
        for DirFile { file, version, .. } in files {
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

    /// Takes the spec's own mapping of a left-out entry out of the target container: the gate
    /// found its secret unusable, and Cloud Run would not start a revision that maps it.
    fn take_out(&mut self, binding: &Binding) -> Result<(), RenderError> {
        let target = binding.target();
        if binding.entry.is_file() {
            return self.take_out_file(&normalize_path(target));
        }
        if self.env_names.contains(target) {
            let env = list(self.container()?, "env", "`env` is not a list")?;
            let mapped = |v: &Node| {
                v.get("name").and_then(Node::as_str) == Some(target)
                    && v.path(&["valueFrom", "secretKeyRef"]).is_some()
            };
            env.retain(|v| !mapped(v));
        }
        Ok(())
    }

    /// Takes a file out of the secret volume that maps it in the target container: its item,
    /// or the whole volume and its mount when nothing else is left in it.
    fn take_out_file(&mut self, path: &str) -> Result<(), RenderError> {
        let spec = self.spec;
        for mount in &spec.containers[self.container].mounts {
            let name = mount.volume.value.as_str();
            if !spec.volumes.iter().any(|v| v.name.value == name && v.secret.is_some()) {
                continue;
            }
            let at = |file: &str| join_path(&mount.path.value, file) == path;
            let item_at = |i: &Node| i.get("path").and_then(Node::as_str).is_some_and(at);
            let Some(source) = self.existing_volume(name)?.and_then(|v| v.get_mut("secret")) else {
                continue;
            };
            let items = source.get("items").and_then(Node::as_seq).unwrap_or_default();
            let listed = items.iter().any(item_at);
            let whole =
                items.is_empty() && source.get("secretName").and_then(Node::as_str).is_some_and(at);
            if !listed && !whole {
                continue;
            }
            if items.iter().any(|i| !item_at(i)) {
                let items = list(source, "items", "a secret volume's `items` is not a list")?;
                items.retain(|i| !item_at(i));
                return Ok(());
            }
            return self.drop_volume(name, path);
        }
        Ok(())
    }

    /// Removes a volume, left without the file at `path`, and the target container's mounts of
    /// it. A volume another container mounts too cannot go; the gate refuses such a spec
    /// before, since that container's mapping of the unusable secret counts as required.
    fn drop_volume(&mut self, name: &str, path: &str) -> Result<(), RenderError> {
        let named = |n: &Node| n.get("name").and_then(Node::as_str) == Some(name);
        let index = self.container;
        let shared = self
            .spec
            .containers
            .iter()
            .enumerate()
            .any(|(i, c)| i != index && c.mounts.iter().any(|m| m.volume.value == name));
        if shared {
            let why = format!(
                "`{path}` cannot be left out: volume `{name}` holds only it, and another \
                 container mounts the volume too"
            );
            return Err(RenderError::Mount(why));
        }
        let container = self.container()?;
        list(container, "volumeMounts", "`volumeMounts` is not a list")?.retain(|m| !named(m));
        remove_if_empty(container, "volumeMounts");
        let pod = self.pod()?;
        list(pod, "volumes", "`volumes` is not a list")?.retain(|v| !named(v));
        remove_if_empty(pod, "volumes");
        self.volume_index = None;
        Ok(())
    }

    /// The pod's volume called `name`, if the tree has one.
    fn existing_volume(&mut self, name: &str) -> Result<Option<&mut Node>, RenderError> {
        if self.pod()?.get("volumes").is_none() {
            return Ok(None);
        }
        let Some(index) = self.volume_index()?.get(name).copied() else { return Ok(None) };
        let volumes = list(self.pod()?, "volumes", "`volumes` is not a list")?;
        Ok(volumes.get_mut(index))
    }

    /// Adds a read-only mount of a new volume at `dir` to the container; returns the volume's
    /// name.
    fn new_mount(&mut self, dir: &str) -> Result<String, RenderError> {
        let name = self.new_volume_name(dir)?;
        let mount = Node::map(vec![
            ("name", Node::string(&name)),
            ("mountPath", Node::string(dir)),
            ("readOnly", Node { value: Value::Bool(true), span: Default::default() }),
        ]);
        list(self.container()?, "volumeMounts", "`volumeMounts` is not a list")?.push(mount);
        Ok(name)
    }

    /// The pod's volumes by name (the first of each name), see `volume_index`.
    fn volume_index(&mut self) -> Result<&mut HashMap<String, usize>, RenderError> {
        if self.volume_index.is_none() {
            let volumes = list(self.pod()?, "volumes", "`volumes` is not a list")?;
            let mut index = HashMap::new();
            for (i, volume) in volumes.iter().enumerate() {
                if let Some(name) = volume.get("name").and_then(Node::as_str) {
                    index.entry(name.to_string()).or_insert(i);
                }
            }
            self.volume_index = Some(index);
        }
        Ok(self.volume_index.get_or_insert_default())
    }

    /// The pod's volume called `name`, added when the spec does not define it.
    fn volume(&mut self, name: &str) -> Result<&mut Node, RenderError> {
        let index = match self.volume_index()?.get(name) {
            Some(i) => *i,
            None => {
                let volumes = list(self.pod()?, "volumes", "`volumes` is not a list")?;
                volumes.push(Node::map(vec![("name", Node::string(name))]));
                let added = volumes.len() - 1;
                self.volume_index()?.insert(name.to_string(), added);
                added
            }
        };
        let volumes = list(self.pod()?, "volumes", "`volumes` is not a list")?;
        Ok(&mut volumes[index])
    }

    /// `secret-` and the directory's segments, made unique among the spec's volumes.
    fn new_volume_name(&mut self, dir: &str) -> Result<String, RenderError> {
        let base: String = dir
            .trim_matches('/')
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect();
        let base = format!("secret-{base}");
        let taken = self.volume_index()?;
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains_key(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        Ok(name)
    }
}
