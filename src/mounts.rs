//! How the secret files declared for one directory meet what a spec already mounts there.
//!
//! Rendering reuses the volume that the target container already mounts at a directory. That
//! is safe only when the volume is a secret volume of the declared secret which lists its files
//! (`items`), or which mounts the whole secret under a file name secrets.yaml declares too.
//! Anything else would mount another secret than the gate checked, give one volume two
//! sources, or silently drop a file the container reads today. `lint` reports these cases
//! (`mapping-conflict`, `invalid-mount-path`) and rendering refuses them, so that no path
//! through the library writes such a spec.

use crate::diagnostic::quote;
use crate::resolve::Binding;
use crate::rules::mapping_conflict::same_secret;
use crate::spec::{Mount, SecretName, ServiceSpec, Volume, normalize_path, parent_dir};
use std::collections::{BTreeMap, HashMap};

/// What the target container mounts at a directory, as the spec says.
pub struct Mounted<'s> {
    pub mount: &'s Mount,
    /// The volume the mount names; `None` when the spec does not define it.
    pub volume: Option<&'s Volume>,
}

/// Why the declared files of a directory cannot be added to what the spec mounts there.
pub enum Conflict<'s> {
    /// The directory holds a volume of another kind (`emptyDir`, `csi`...).
    NotSecret { mount: &'s Mount, volume: &'s Volume },
    /// The directory holds a secret volume of another secret (`secret` is `None` when its
    /// name resolves to no secret at all).
    OtherSecret { mount: &'s Mount, volume: &'s Volume, secret: Option<SecretName> },
    /// The directory holds the whole secret (no `items`) as one file that secrets.yaml does not
    /// declare: listing the declared files would remove it.
    WholeSecret { mount: &'s Mount, volume: &'s Volume, file: String },
}

impl Conflict<'_> {
    /// The volume the conflict is about.
    pub fn volume(&self) -> &Volume {
        match self {
            Conflict::NotSecret { volume, .. }
            | Conflict::OtherSecret { volume, .. }
            | Conflict::WholeSecret { volume, .. } => volume,
        }
    }

    /// The mount the conflict is about.
    pub fn mount(&self) -> &Mount {
        match self {
            Conflict::NotSecret { mount, .. }
            | Conflict::OtherSecret { mount, .. }
            | Conflict::WholeSecret { mount, .. } => mount,
        }
    }

    /// What the spec mounts at the directory, for messages.
    pub fn reason(&self) -> String {
        let name = &self.volume().name.value;
        let written = secret_name(self.volume()).unwrap_or_default();
        match self {
            Conflict::NotSecret { volume, .. } => {
                let kind = volume.other_source.as_ref().map_or("", |s| s.value.as_str());
                format!(
                    "the spec mounts volume `{name}` there, whose source is `{kind}`, not a secret"
                )
            }
            Conflict::OtherSecret { secret: Some(_), .. } => {
                format!("the spec mounts secret {} there (volume `{name}`)", quote(written))
            }
            Conflict::OtherSecret { secret: None, .. } => {
                format!(
                    "the spec mounts {} there (volume `{name}`), not a known secret",
                    quote(written)
                )
            }
            Conflict::WholeSecret { file, .. } => format!(
                "the spec mounts the whole secret there (volume `{name}`, no `items`) as the \
                 file `{file}`, which secrets.yaml does not declare: listing the declared files \
                 would remove it"
            ),
        }
    }
}

fn secret_name(volume: &Volume) -> Option<&str> {
    Some(volume.secret.as_ref()?.secret_name.as_ref()?.value.as_str())
}

/// What one container of a spec mounts, by directory, with the spec's volumes by name: each
/// declared directory is then looked up instead of searched for, so that a service with
/// thousands of secret files is checked and rendered in linear time.
pub struct Mounts<'s> {
    spec: &'s ServiceSpec,
    /// The first mount of each normalized directory.
    by_dir: HashMap<String, &'s Mount>,
    /// The first volume of each name.
    volumes: HashMap<&'s str, &'s Volume>,
}

impl<'s> Mounts<'s> {
    /// The mounts of the spec's container `container` (none when it has no such container).
    pub fn of(spec: &'s ServiceSpec, container: usize) -> Self {
        let mut by_dir = HashMap::new();
        for mount in spec.containers.get(container).map_or(&[][..], |c| &c.mounts) {
            by_dir.entry(normalize_path(&mount.path.value)).or_insert(mount);
        }
        let mut volumes = HashMap::new();
        for volume in &spec.volumes {
            volumes.entry(volume.name.value.as_str()).or_insert(volume);
        }
        Mounts { spec, by_dir, volumes }
    }

    /// The mount of `dir`, a normalized directory, if the container has one.
    pub fn mounted(&self, dir: &str) -> Option<Mounted<'s>> {
        let mount = *self.by_dir.get(dir)?;
        let volume = self.volumes.get(mount.volume.value.as_str()).copied();
        Some(Mounted { mount, volume })
    }

    /// Whether `files` (names in `dir`, all from `secret`) can go into what the container
    /// mounts at `dir`. A directory not mounted yet, a mount of a volume the spec does not
    /// define, and a secret volume without `secretName` take them: rendering adds what is
    /// missing.
    pub fn conflict(
        &self,
        project: &str,
        dir: &str,
        secret: &SecretName,
        files: &[&str],
    ) -> Option<Conflict<'s>> {
        let Mounted { mount, volume } = self.mounted(dir)?;
        let volume = volume?;
        if volume.other_source.is_some() {
            return Some(Conflict::NotSecret { mount, volume });
        }
        let source = volume.secret.as_ref()?;
        let name = source.secret_name.as_ref()?;
        let resolved = self.spec.resolve_name(&name.value, project);
        if !resolved.as_ref().is_some_and(|r| same_secret(r, secret)) {
            return Some(Conflict::OtherSecret { mount, volume, secret: resolved });
        }
        if source.items.is_empty() && !files.contains(&name.value.as_str()) {
            return Some(Conflict::WholeSecret { mount, volume, file: name.value.clone() });
        }
        None
    }
}

/// The declared files of one directory that cannot go where the spec says.
pub struct DirectoryConflict<'s, 'b, 'm> {
    pub dir: String,
    pub conflict: Conflict<'s>,
    /// The manifest entries of the directory, in manifest order.
    pub entries: Vec<&'b Binding<'m>>,
}

impl DirectoryConflict<'_, '_, '_> {
    /// `TARGET[, TARGET...] cannot be mounted at DIR: REASON`.
    pub fn message(&self) -> String {
        let targets: Vec<String> =
            self.entries.iter().map(|b| format!("`{}`", b.target())).collect();
        format!(
            "{} cannot be mounted at {}: {}",
            targets.join(", "),
            self.dir,
            self.conflict.reason()
        )
    }
}

/// Every directory of declared files that conflicts with what the spec's container
/// `container` mounts. A directory declared with files of several secrets is left to
/// `invalid-mount-path`, which reports it already.
pub fn declared_conflicts<'s, 'b, 'm>(
    spec: &'s ServiceSpec,
    container: usize,
    project: &str,
    bindings: &'b [Binding<'m>],
) -> Vec<DirectoryConflict<'s, 'b, 'm>> {
    let mut found = Vec::new();
    let mounts = Mounts::of(spec, container);
    for (dir, entries) in by_directory(bindings) {
        let Some(secret) = entries[0].secret.as_ref() else { continue };
        if entries.iter().any(|b| b.secret.as_ref() != Some(secret)) {
            continue;
        }
        let names: Vec<String> = entries.iter().map(|b| file_name(b.target())).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Some(conflict) = mounts.conflict(project, &dir, secret, &names) {
            found.push(DirectoryConflict { dir, conflict, entries });
        }
    }
    found
}

/// The declared file entries with a valid secret name, by directory.
fn by_directory<'b, 'm>(bindings: &'b [Binding<'m>]) -> BTreeMap<String, Vec<&'b Binding<'m>>> {
    let mut dirs: BTreeMap<String, Vec<&Binding>> = BTreeMap::new();
    for binding in bindings.iter().filter(|b| b.entry.is_file() && b.secret.is_some()) {
        let path = normalize_path(binding.target());
        dirs.entry(parent_dir(&path).to_string()).or_default().push(binding);
    }
    dirs
}

/// The file name of a declared path, the last segment.
pub fn file_name(path: &str) -> String {
    normalize_path(path).rsplit('/').next().unwrap_or_default().to_string()
}
