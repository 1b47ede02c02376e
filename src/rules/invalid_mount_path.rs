//! `invalid-mount-path`: a secret file path that Cloud Run cannot mount.

use super::{Rule, SpecContext};
use crate::diagnostic::{Diagnostic, Severity, quote, shown};
use crate::manifest::Manifest;
use crate::mounts::{self, Conflict};
use crate::resolve::{Binding, Deployment};
use crate::spec::{Mount, normalize_path, parent_dir};
use std::collections::HashMap;

pub static RULE: Rule = Rule {
    code: "invalid-mount-path",
    severity: Severity::Error,
    summary: "a relative path, a path with a control character, a path under /dev, /proc or \
        /sys, two secrets in one directory, one path twice, a declared directory mounted from \
        another kind of volume",
    flags: "A secret file path that is relative, ends with `/`, contains `..` or a control \
character, lies under `/dev`, `/proc` or `/sys`, or is `/` itself; two different secrets mounted in the same \
directory; a file whose path is the directory of another; in a spec, a relative or system \
`mountPath`, two volume mounts on one path in one container, or a directory of declared \
secret files that the target container already mounts from a volume that is not a secret \
(`emptyDir`, `csi`...).",
    why: "Cloud Run mounts one secret volume per directory, and the directory hides whatever the \
image had there. Two secrets cannot share a directory, and a mount over a system directory \
breaks the container. Cloud Run rejects such a revision at deploy time.",
    example: "/secrets/oauth/client.json: {secret: google-oauth-client}\n/secrets/oauth/jwt.pem: \
        {secret: jwt-signing-key}   # second secret, same directory",
    fix: "Give each secret its own directory:\n/secrets/oauth/client.json: {secret: \
        google-oauth-client}\n/secrets/jwt/jwt.pem: {secret: jwt-signing-key}",
};

/// Why a secret file path cannot be mounted, or `None` when it can. Its directory is what gets
/// mounted, so a file directly under `/` would hide the root directory.
pub fn problem(path: &str) -> Option<&'static str> {
    if let Some(reason) = dir_problem(path) {
        return Some(reason);
    }
    if crate::spec::parent_dir(&normalize_path(path)) == "/" {
        return Some("a secret volume would be mounted over the root directory");
    }
    None
}

/// Why a directory cannot be a mount path, or `None` when it can.
fn dir_problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("it is not an absolute path");
    }
    if path.split('/').any(|p| p == "..") {
        return Some("it contains `..`");
    }
    if path.chars().any(char::is_control) {
        return Some("it contains a control character");
    }
    let normal = normalize_path(path);
    if normal == "/" {
        return Some("it is the root directory");
    }
    let system = ["/dev", "/proc", "/sys"];
    if system.iter().any(|s| normal == *s || normal.starts_with(&format!("{s}/"))) {
        return Some("it lies under /dev, /proc or /sys");
    }
    None
}

pub fn check_manifest(manifest: &Manifest, out: &mut Vec<Diagnostic>) {
    for service in &manifest.services {
        for entry in &service.secrets {
            let path = &entry.target.value;
            let relative = !entry.is_file() && path.contains('/');
            let reason = if relative {
                Some("it is not an absolute path")
            } else if entry.is_file() && path.ends_with('/') {
                Some("it ends with `/`, so it names a directory, not a file")
            } else if entry.is_file() {
                problem(path)
            } else {
                None
            };
            let Some(reason) = reason else { continue };
            let d = Diagnostic::new(
                &RULE,
                format!("{} cannot be a secret file path: {reason}", quote(path)),
            )
            .at(manifest.file, entry.target.span, "invalid path")
            .help("use an absolute file path in a directory of its own, such as /secrets/NAME/FILE")
            .service(Some(&service.name.value))
            .target(Some(path));
            out.push(d);
        }
    }
}

/// Two secrets in one directory, or a file in the place of another file's directory.
pub fn check_environment(
    manifest: &Manifest,
    deployments: &[Deployment],
    out: &mut Vec<Diagnostic>,
) {
    for deployment in deployments {
        for clash in clashes(&deployment.bindings) {
            let later = clash.later.target();
            let both = format!("{} and {}", quote(clash.earlier.target()), quote(later));
            let message = match clash.shared_dir {
                None => format!("{both} are nested: one file's path is the other's directory"),
                Some(dir) => format!(
                    "{both} come from different secrets but share the directory {}",
                    shown(&dir)
                ),
            };
            let d = Diagnostic::new(&RULE, message)
                .at(manifest.file, clash.later.entry.target.span, "this file")
                .also(manifest.file, clash.earlier.entry.target.span, "conflicts with this one")
                .help(
                    "Cloud Run mounts one secret per directory: give each secret its own directory",
                )
                .env(Some(&deployment.env.name.value))
                .service(Some(&deployment.service.name.value))
                .target(Some(later));
            out.push(d);
        }
    }
}

/// A declared file that cannot be mounted beside an earlier one of the same service.
#[derive(Debug)]
struct Clash<'b, 'm> {
    later: &'b Binding<'m>,
    earlier: &'b Binding<'m>,
    /// The directory both files are in, when they come from different secrets; `None` when
    /// one file's path is the other's directory.
    shared_dir: Option<String>,
}

/// The declared files that clash with an earlier one. Files are looked up by path and by
/// directory rather than compared pairwise, so that N files cost O(N × path depth): each
/// file is reported once per file whose path is one of its directories, and once against an
/// earlier file of its directory from another secret (the first such one).
fn clashes<'b, 'm>(bindings: &'b [Binding<'m>]) -> Vec<Clash<'b, 'm>> {
    let files: Vec<(&Binding, String)> = bindings
        .iter()
        .filter(|b| b.entry.is_file())
        .map(|b| (b, normalize_path(b.target())))
        .collect();
    let mut found = nested(&files);
    found.extend(shared_directories(&files));
    found
}

/// Pairs of files where one file's path is a directory of the other.
fn nested<'b, 'm>(files: &[(&'b Binding<'m>, String)]) -> Vec<Clash<'b, 'm>> {
    let mut first_at: HashMap<&str, usize> = HashMap::new();
    for (i, (_, path)) in files.iter().enumerate() {
        first_at.entry(path.as_str()).or_insert(i);
    }
    let mut found = Vec::new();
    for (i, (_, path)) in files.iter().enumerate() {
        let dirs = path.match_indices('/').map(|(end, _)| &path[..end]).filter(|d| !d.is_empty());
        for j in dirs.filter_map(|dir| first_at.get(dir).copied()) {
            let (later, earlier) = (files[i.max(j)].0, files[i.min(j)].0);
            found.push(Clash { later, earlier, shared_dir: None });
        }
    }
    found
}

/// Files from different secrets in one directory: each file against the first earlier file of
/// its directory whose secret differs from its own.
fn shared_directories<'b, 'm>(files: &[(&'b Binding<'m>, String)]) -> Vec<Clash<'b, 'm>> {
    // For each directory: its first file, and the first file whose secret differs from that.
    let mut dirs: HashMap<&str, (&Binding, Option<&Binding>)> = HashMap::new();
    let mut found = Vec::new();
    for (later, path) in files {
        let dir = parent_dir(path);
        let Some((first, other)) = dirs.get_mut(dir) else {
            dirs.insert(dir, (later, None));
            continue;
        };
        let differs = later.secret != first.secret;
        let earlier = if differs { Some(*first) } else { *other };
        if let Some(earlier) = earlier.filter(|_| later.secret.is_some()) {
            found.push(Clash { later, earlier, shared_dir: Some(dir.to_string()) });
        }
        if differs && other.is_none() {
            *other = Some(later);
        }
    }
    found
}

pub fn check_spec(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    check_spec_mounts(ctx, out);
    check_declared_dirs(ctx, out);
}

/// A declared directory that the target container mounts from a volume of another kind: a
/// secret added to that volume would give it two sources.
fn check_declared_dirs(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    let Some(container) = ctx.container else { return };
    let bindings = &ctx.deployment.bindings;
    for found in mounts::declared_conflicts(ctx.spec, container, ctx.project(), bindings) {
        let Conflict::NotSecret { mount, volume } = &found.conflict else { continue };
        let Some(source) = &volume.other_source else { continue };
        let entry = found.entries[0];
        let d = ctx
            .diagnostic(&RULE, found.message())
            .at(ctx.spec.file, source.span, "not a secret volume")
            .also(ctx.spec.file, mount.path.span, "mounted here")
            .also(ctx.manifest.file, entry.entry.target.span, "a declared file")
            .help(format!(
                "give the secret files a directory the spec does not mount, or mount the {} \
                 volume elsewhere",
                quote(&source.value)
            ))
            .target(Some(entry.target()))
            .secret(entry.secret.as_ref().map(|s| s.secret.as_str()));
        out.push(d);
    }
}

/// Mount paths of the spec itself: relative or system paths, one path mounted twice.
fn check_spec_mounts(ctx: &SpecContext, out: &mut Vec<Diagnostic>) {
    for (index, container) in ctx.spec.containers.iter().enumerate() {
        let label = container.label(index);
        let mut first_at: HashMap<String, &Mount> = HashMap::new();
        for mount in &container.mounts {
            let path = &mount.path.value;
            if let Some(reason) = dir_problem(path) {
                let d = ctx
                    .diagnostic(&RULE, format!("{label} mounts {}: {reason}", quote(path)))
                    .at(ctx.spec.file, mount.path.span, "invalid mount path")
                    .help("mount secrets at an absolute path of their own, such as /secrets/NAME")
                    .target(Some(path));
                out.push(d);
            }
            let first = *first_at.entry(normalize_path(path)).or_insert(mount);
            if std::ptr::eq(first, mount) {
                continue;
            }
            let d = ctx
                .diagnostic(&RULE, format!("{label} mounts two volumes on {}", quote(path)))
                .at(ctx.spec.file, mount.path.span, "second mount")
                .also(ctx.spec.file, first.path.span, "first mount")
                .help("each mount needs a directory of its own")
                .target(Some(path));
            out.push(d);
        }
    }
}
